"""Pooling a sequence to one vector: BERT's [CLS] pooler and mask-aware cls/mean/max.

Example:
>>> import numpy as np
>>> from tfbert.layers import SequencePooling
>>> x = np.array([[[1.0], [3.0], [100.0]]], "float32")   # last position is padding
>>> mask = np.array([[1, 1, 0]], "int32")
>>> float(SequencePooling("mean")(x, mask)[0, 0]), float(SequencePooling("max")(x, mask)[0, 0])
(2.0, 3.0)
"""

import keras
from keras import ops

from tfbert.layers.serialization import register

POOLING_MODES = ("cls", "mean", "max")


@register
class BertPooler(keras.layers.Layer):
    """Dense(H) + tanh on the first ([CLS]) position: BERT's ``pooled_output``."""

    def __init__(self, hidden_size, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            hidden_size,
            activation="tanh",
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy,
            name="dense",
        )

    def build(self, input_shape=None):
        self.dense.build((None, self.hidden_size))

    def call(self, sequence_output):
        return self.dense(sequence_output[:, 0, :])  # [B, H]

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "initializer_range": self.initializer_range,
        }


@register
class SequencePooling(keras.layers.Layer):
    """Pool [B, S, H] to [B, H] with ``mode`` "cls", "mean" or "max", ignoring padding.

    A row whose mask is all zeros pools to zeros for "mean" and "max".
    """

    def __init__(self, mode="mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLING_MODES:
            raise ValueError(f"Unknown pooling mode {mode!r}. Expected one of {POOLING_MODES}.")
        self.mode = mode

    def call(self, sequence_output, padding_mask=None):
        if self.mode == "cls":
            return sequence_output[:, 0, :]
        x = ops.cast(sequence_output, "float32")
        if padding_mask is None:
            pooled = ops.mean(x, axis=1) if self.mode == "mean" else ops.max(x, axis=1)
            return ops.cast(pooled, self.compute_dtype)
        mask = ops.cast(padding_mask, "float32")[:, :, None]  # [B, S, 1]
        if self.mode == "mean":
            total = ops.sum(x * mask, axis=1)
            count = ops.maximum(ops.sum(mask, axis=1), 1.0)
            pooled = total / count
        else:
            pooled = ops.max(ops.where(mask > 0, x, -3.0e38), axis=1)
            has_tokens = ops.sum(mask, axis=1) > 0
            pooled = ops.where(has_tokens, pooled, 0.0)
        return ops.cast(pooled, self.compute_dtype)  # [B, H]

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
