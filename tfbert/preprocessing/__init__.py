"""Text to model inputs, in the TF graph: the exact BERT tokenizer, the input packer, bucketing.

``BertTokenizer`` (``tokenizer.py``) reproduces the reference WordPiece
tokenizer; ``BertPreprocessor`` (``packer.py``) packs ``[CLS] a [SEP] b [SEP]``
into the model's input dict; ``bucketing.py`` batches examples of similar length;
``vocabulary.py`` learns WordPiece vocabularies.
"""

from tfbert.preprocessing.packer import BertPreprocessor
from tfbert.preprocessing.tokenizer import BertTokenizer

__all__ = ["BertPreprocessor", "BertTokenizer"]
