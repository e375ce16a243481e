"""The post-LN transformer encoder block of BERT.

    x = LN(x + Dropout(SelfAttention(x)))
    x = LN(x + Dropout(Dense(act(Dense(x)))))

Example:
>>> import numpy as np
>>> from tfbert.layers import TransformerEncoderBlock
>>> block = TransformerEncoderBlock(hidden_size=16, num_heads=2, intermediate_size=32)
>>> x = np.random.rand(2, 5, 16).astype("float32")
>>> tuple(block(x, np.ones((2, 5), "int32")).shape)
(2, 5, 16)
"""

import keras
from keras import ops

from tfbert import activations
from tfbert.layers.attention import BertSelfAttention
from tfbert.layers.normalization import float32_layer_norm
from tfbert.layers.serialization import register


@register
class TransformerEncoderBlock(keras.layers.Layer):
    """One BERT layer: self-attention and a feed-forward network, each with a
    residual connection followed by LayerNorm (eps from the config)."""

    def __init__(
        self,
        hidden_size,
        num_heads,
        intermediate_size,
        hidden_act="gelu",
        dropout=0.1,
        attention_dropout=0.1,
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.dropout_rate = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        init = keras.initializers.TruncatedNormal(stddev=initializer_range)
        policy = self.dtype_policy

        self.attention = BertSelfAttention(
            hidden_size, num_heads, dropout=attention_dropout,
            initializer_range=initializer_range, dtype=policy, name="attention",
        )
        self.attention_dropout_layer = keras.layers.Dropout(dropout, dtype=policy, name="attention_dropout")
        self.attention_layer_norm = float32_layer_norm(layer_norm_eps, "attention_layer_norm")
        self.intermediate_dense = keras.layers.Dense(
            intermediate_size, activation=activations.get(hidden_act),
            kernel_initializer=init, dtype=policy, name="intermediate_dense",
        )
        self.output_dense = keras.layers.Dense(
            hidden_size, kernel_initializer=init, dtype=policy, name="output_dense"
        )
        self.output_dropout = keras.layers.Dropout(dropout, dtype=policy, name="output_dropout")
        self.output_layer_norm = float32_layer_norm(layer_norm_eps, "output_layer_norm")

    def build(self, input_shape=None):
        shape = (None, None, self.hidden_size)
        self.attention.build(shape)
        self.attention_layer_norm.build(shape)
        self.intermediate_dense.build(shape)
        self.output_dense.build((None, None, self.intermediate_size))
        self.output_layer_norm.build(shape)

    def call(self, x, padding_mask=None, training=None):
        attended = self.attention(x, padding_mask, training=training)  # [B, S, H]
        attended = self.attention_dropout_layer(attended, training=training)
        x = ops.cast(self.attention_layer_norm(x + attended), self.compute_dtype)
        # The feed-forward network runs on the [B*S, H] matrix, so that MatMul, BiasAdd and the
        # activation fuse into one oneDNN _FusedMatMul (see BertSelfAttention.call).
        h = self.intermediate_dense(ops.reshape(x, (-1, self.hidden_size)))  # [B*S, I]
        h = ops.reshape(self.output_dense(h), ops.shape(x))  # [B, S, H]
        h = self.output_dropout(h, training=training)
        return ops.cast(self.output_layer_norm(x + h), self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "num_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "hidden_act": self.hidden_act,
            "dropout": self.dropout_rate,
            "attention_dropout": self.attention_dropout,
            "layer_norm_eps": self.layer_norm_eps,
            "initializer_range": self.initializer_range,
        }
