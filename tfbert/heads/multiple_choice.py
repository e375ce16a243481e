"""Multiple-choice head: one score per choice from each choice's pooled vector.

The task model flattens its [B, C, S] inputs to [B*C, S] for the backbone;
this head scores the [B*C, H] pooled vectors and reshapes the scores to
[B, C], ready for a softmax over the choices.

Example:
>>> import numpy as np
>>> from tfbert.heads import MultipleChoiceHead
>>> head = MultipleChoiceHead(hidden_size=16)
>>> tuple(head(np.zeros((8, 16), "float32"), num_choices=4).shape)
(2, 4)
"""

import keras
from keras import ops

from tfbert.layers.serialization import register


@register
class MultipleChoiceHead(keras.layers.Layer):
    """Scores [B, C] (float32) from pooled vectors [B*C, H] ordered choice-fastest."""

    def __init__(self, hidden_size, dropout=0.1, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)
        self.dropout_rate = float(dropout)
        self.initializer_range = initializer_range
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")
        self.dense = keras.layers.Dense(
            1, kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy, name="dense",
        )

    def build(self, input_shape=None):
        self.dense.build((None, self.hidden_size))

    def call(self, pooled_output, num_choices, training=None):
        x = self.dropout(pooled_output, training=training)
        scores = ops.cast(self.dense(x), "float32")  # [B*C, 1]
        return ops.reshape(scores, (-1, num_choices))  # [B, C]

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "dropout": self.dropout_rate,
            "initializer_range": self.initializer_range,
        }
