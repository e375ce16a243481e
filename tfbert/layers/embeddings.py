"""BERT input embeddings: word + learned position + token type, then LayerNorm and dropout.

Example:
>>> import numpy as np
>>> from tfbert.layers import BertEmbeddings
>>> emb = BertEmbeddings(vocab_size=64, hidden_size=16, max_position_embeddings=32)
>>> ids = np.array([[2, 5, 3, 0]], "int32")
>>> tuple(emb(ids, np.zeros_like(ids)).shape)
(1, 4, 16)
"""

import keras
from keras import ops

from tfbert.layers.normalization import float32_layer_norm
from tfbert.layers.serialization import register


@register
class BertEmbeddings(keras.layers.Layer):
    """Sum of word, position and token-type embeddings, normalised.

    Weights: ``word_embeddings/embeddings`` [V, H],
    ``position_embeddings/embeddings`` [P, H], ``token_type_embeddings/embeddings``
    [T, H], ``layer_norm/gamma|beta`` [H].
    """

    def __init__(
        self,
        vocab_size,
        hidden_size,
        max_position_embeddings=512,
        type_vocab_size=2,
        dropout=0.1,
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.dropout_rate = dropout
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        init = keras.initializers.TruncatedNormal(stddev=initializer_range)

        def embedding(count, name):
            return keras.layers.Embedding(
                count, hidden_size, embeddings_initializer=init,
                dtype=self.dtype_policy, name=name,
            )

        self.word_embeddings = embedding(vocab_size, "word_embeddings")
        self.position_embeddings = embedding(max_position_embeddings, "position_embeddings")
        self.token_type_embeddings = embedding(type_vocab_size, "token_type_embeddings")
        self.layer_norm = float32_layer_norm(layer_norm_eps, "layer_norm")
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")

    def build(self, input_shape=None):
        for layer in (self.word_embeddings, self.position_embeddings, self.token_type_embeddings):
            layer.build((None, None))
        self.layer_norm.build((None, None, self.hidden_size))

    def call(self, token_ids, segment_ids, training=None):
        seq_len = ops.shape(token_ids)[1]
        words = self.word_embeddings(token_ids)  # [B, S, H]
        positions = self.position_embeddings.embeddings[:seq_len]  # [S, H]
        types = self.token_type_embeddings(segment_ids)  # [B, S, H]
        x = words + ops.cast(positions, self.compute_dtype)[None] + types
        x = ops.cast(self.layer_norm(x), self.compute_dtype)
        return self.dropout(x, training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "max_position_embeddings": self.max_position_embeddings,
            "type_vocab_size": self.type_vocab_size,
            "dropout": self.dropout_rate,
            "layer_norm_eps": self.layer_norm_eps,
            "initializer_range": self.initializer_range,
        }
