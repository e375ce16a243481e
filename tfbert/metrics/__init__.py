"""Task metrics: conlleval entity F1, SQuAD v1.1 EM/F1, and Keras metrics that skip ignored labels."""

from tfbert.metrics.conlleval import evaluate as conlleval_evaluate
from tfbert.metrics.conlleval import get_entities
from tfbert.metrics.masked_accuracy import MaskedAccuracy
from tfbert.metrics.squad import evaluate as squad_evaluate

__all__ = ["MaskedAccuracy", "conlleval_evaluate", "get_entities", "squad_evaluate"]
