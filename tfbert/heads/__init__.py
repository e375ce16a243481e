"""Task heads: Keras layers that turn BERT outputs into logits."""

from tfbert.heads.classification import ClassificationHead
from tfbert.heads.multiple_choice import MultipleChoiceHead
from tfbert.heads.pretraining import MaskedLMHead, NextSentenceHead
from tfbert.heads.span import SpanHead
from tfbert.heads.token import TokenClassificationHead

__all__ = [
    "ClassificationHead",
    "MaskedLMHead",
    "MultipleChoiceHead",
    "NextSentenceHead",
    "SpanHead",
    "TokenClassificationHead",
]
