"""Multi-head self-attention with a padding mask, as in BERT.

Scores are scaled by 1/sqrt(head_size); the padding mask becomes a large
negative additive bias, and the softmax runs in float32 under mixed precision.

Example:
>>> import numpy as np
>>> from tfbert.layers import BertSelfAttention
>>> attn = BertSelfAttention(hidden_size=16, num_heads=2)
>>> x = np.random.rand(2, 5, 16).astype("float32")
>>> mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32")
>>> tuple(attn(x, mask).shape)
(2, 5, 16)
"""

import math

import keras
from keras import ops

from tfbert.layers.serialization import register

# Added to the scores of padded keys. Large enough that exp() underflows to 0
# in float32, small enough not to overflow when added to a real score.
MASK_BIAS = -1e9


def padding_mask_to_bias(padding_mask):
    """[B, S] mask of 1 (real) / 0 (pad) -> float32 additive bias [B, 1, 1, S]."""
    keep = ops.cast(padding_mask, "float32")
    return (1.0 - keep)[:, None, None, :] * MASK_BIAS


@register
class BertSelfAttention(keras.layers.Layer):
    """Self-attention over a sequence; ``query``, ``key``, ``value`` and
    ``output_dense`` are plain [H, H] Dense layers, so checkpoint weights map
    one to one (HF ``attention.self.query`` / ``attention.output.dense``)."""

    def __init__(self, hidden_size, num_heads, dropout=0.1, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})."
            )
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.head_size = hidden_size // num_heads
        self.dropout_rate = dropout
        self.initializer_range = initializer_range
        init = keras.initializers.TruncatedNormal(stddev=initializer_range)

        def dense(name):
            return keras.layers.Dense(
                hidden_size, kernel_initializer=init, dtype=self.dtype_policy, name=name
            )

        self.query = dense("query")
        self.key = dense("key")
        self.value = dense("value")
        self.output_dense = dense("output_dense")
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")

    def build(self, input_shape=None):
        for layer in (self.query, self.key, self.value, self.output_dense):
            layer.build((None, None, self.hidden_size))

    def _split_heads(self, x, batch, seq_len):
        x = ops.reshape(x, (batch, seq_len, self.num_heads, self.head_size))
        return ops.transpose(x, (0, 2, 1, 3))  # [B, N, S, D]

    def call(self, x, padding_mask=None, training=None):
        batch, seq_len = ops.shape(x)[0], ops.shape(x)[1]
        scale = 1.0 / math.sqrt(self.head_size)
        # The projections run on the [B*S, H] matrix: a 2-D MatMul feeds its BiasAdd directly, so
        # grappler fuses the two into one oneDNN _FusedMatMul (on a 3-D input, Dense becomes a
        # tensordot whose Reshape sits between MatMul and BiasAdd and blocks the fusion).
        flat = ops.reshape(x, (-1, self.hidden_size))  # [B*S, H]
        q = self._split_heads(self.query(flat) * scale, batch, seq_len)  # [B, N, S, D]
        k = self._split_heads(self.key(flat), batch, seq_len)  # [B, N, S, D]
        v = self._split_heads(self.value(flat), batch, seq_len)  # [B, N, S, D]
        scores = ops.cast(ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))), "float32")  # [B, N, S, S]
        if padding_mask is not None:
            scores = scores + padding_mask_to_bias(padding_mask)
        probs = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        probs = self.dropout(probs, training=training)
        context = ops.matmul(probs, v)  # [B, N, S, D]
        context = ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (-1, self.hidden_size))  # [B*S, H]
        return ops.reshape(self.output_dense(context), (batch, seq_len, self.hidden_size))  # [B, S, H]

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "num_heads": self.num_heads,
            "dropout": self.dropout_rate,
            "initializer_range": self.initializer_range,
        }
