"""What the examples' ``--fast`` flag swaps in: a tiny random BERT preset and tiny data.

The examples run the real job by default (the offline MiniLM preset, real data).
``--fast`` replaces the pretrained checkpoint with a 2-layer, hidden-16 random
BERT saved as a Hugging Face directory with a vocabulary of the given words, so
the same code path runs in seconds, offline, in tests. Accuracy in fast mode
means nothing.
"""

import os
import tempfile

import tfbert

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

POSITIVE = ["a gripping and beautifully acted film", "great fun from start to end", "a warm funny movie",
            "the cast is wonderful", "smart , moving and great", "a good story told well"]
NEGATIVE = ["a dull and clumsy mess", "tedious , long and awful", "the plot makes no sense",
            "a bad movie with bad jokes", "boring from start to end", "the cast is wasted"]


def tiny_preset(texts, directory=None):
    """A Hugging Face directory with a tiny random BERT whose vocabulary holds the words of ``texts``."""
    words = sorted({w for text in texts for w in text.lower().split()})
    vocabulary = SPECIAL + words
    config = tfbert.BertConfig(vocab_size=len(vocabulary), hidden_size=16, num_hidden_layers=2,
                               num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    directory = directory or os.path.join(tempfile.mkdtemp(prefix="tfbert-fast-"), "tiny_bert")
    tfbert.BERT(config).save_huggingface(directory, vocabulary=vocabulary, lowercase=True)
    return directory


def sentiment_data(repeat=4):
    """(texts, labels) of the tiny sentiment set, label 1 = positive."""
    texts = (POSITIVE + NEGATIVE) * repeat
    labels = ([1] * len(POSITIVE) + [0] * len(NEGATIVE)) * repeat
    return texts, labels
