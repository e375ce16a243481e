"""Task models: a ``BERT`` backbone plus a head, with ``compile`` defaults and raw-text helpers."""

import tfbert.preprocessing  # noqa: F401  (registers BertTokenizer/BertPreprocessor, which .keras files name)
from tfbert.tasks.classifier import BertClassifier
from tfbert.tasks.embedder import BertEmbedder
from tfbert.tasks.multiple_choice import BertMultipleChoice
from tfbert.tasks.pretrainer import BertMaskedLM, BertPretrainer
from tfbert.tasks.question_answerer import BertQuestionAnswerer
from tfbert.tasks.token_classifier import BertTokenClassifier

__all__ = [
    "BertClassifier",
    "BertEmbedder",
    "BertMaskedLM",
    "BertMultipleChoice",
    "BertPretrainer",
    "BertQuestionAnswerer",
    "BertTokenClassifier",
]
