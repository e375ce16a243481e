"""Task heads: Keras layers that turn BERT outputs into logits."""

from tfbert.heads.pretraining import MaskedLMHead, NextSentenceHead

__all__ = ["MaskedLMHead", "NextSentenceHead"]
