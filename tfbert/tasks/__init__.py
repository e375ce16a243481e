"""Task models: a ``BERT`` backbone plus a head, with ``compile`` defaults and raw-text helpers."""

from tfbert.tasks.classifier import BertClassifier
from tfbert.tasks.embedder import BertEmbedder
from tfbert.tasks.multiple_choice import BertMultipleChoice

__all__ = ["BertClassifier", "BertEmbedder", "BertMultipleChoice"]
