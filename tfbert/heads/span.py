"""Span head: start and end logits for extractive question answering.

One dense layer maps each position's vector to two numbers, the logit of the
answer starting there and of it ending there. Padded positions (where
``padding_mask`` is 0) get a large negative logit, so they never win.

Example:
>>> import numpy as np
>>> from tfbert.heads import SpanHead
>>> out = SpanHead(hidden_size=16)(np.ones((2, 5, 16), "float32"), np.array([[1, 1, 1, 0, 0]] * 2))
>>> sorted(out), tuple(out["start_logits"].shape)
(['end_logits', 'start_logits'], (2, 5))
>>> float(out["end_logits"][0, 4]) < -1e8
True
"""

import keras
from keras import ops

from tfbert.layers.serialization import register

MASKED_LOGIT = -1.0e9


@register
class SpanHead(keras.layers.Layer):
    """``{"start_logits": [B, S], "end_logits": [B, S]}`` (float32) from [B, S, H]."""

    def __init__(self, hidden_size, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            2, kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy, name="dense",
        )

    def build(self, input_shape=None):
        self.dense.build((None, None, self.hidden_size))

    def call(self, sequence_output, padding_mask=None):
        logits = ops.cast(self.dense(sequence_output), "float32")  # [B, S, 2]
        start, end = logits[:, :, 0], logits[:, :, 1]  # [B, S] each
        if padding_mask is not None:
            keep = ops.cast(padding_mask, "bool")
            start = ops.where(keep, start, MASKED_LOGIT)
            end = ops.where(keep, end, MASKED_LOGIT)
        return {"start_logits": start, "end_logits": end}

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size,
                "initializer_range": self.initializer_range}
