"""Task models: a ``BERT`` backbone plus a head, with ``compile`` defaults and raw-text helpers."""

from tfbert.tasks.classifier import BertClassifier

__all__ = ["BertClassifier"]
