"""Token head: dropout, then a dense layer applied at every position (NER, POS tagging).

Example:
>>> import numpy as np
>>> from tfbert.heads import TokenClassificationHead
>>> head = TokenClassificationHead(num_labels=5, hidden_size=16)
>>> tuple(head(np.zeros((2, 7, 16), "float32")).shape)
(2, 7, 5)
"""

import keras
from keras import ops

from tfbert.layers.serialization import register


@register
class TokenClassificationHead(keras.layers.Layer):
    """Per-token logits [B, S, num_labels] (float32) from ``sequence_output`` [B, S, H]."""

    def __init__(self, num_labels, hidden_size, dropout=0.1, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        if int(num_labels) < 1:
            raise ValueError(f"num_labels must be >= 1, got {num_labels!r}.")
        self.num_labels = int(num_labels)
        self.hidden_size = int(hidden_size)
        self.dropout_rate = float(dropout)
        self.initializer_range = initializer_range
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")
        self.dense = keras.layers.Dense(
            self.num_labels, kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy, name="dense",
        )

    def build(self, input_shape=None):
        self.dense.build((None, None, self.hidden_size))

    def call(self, sequence_output, training=None):
        x = self.dropout(sequence_output, training=training)
        return ops.cast(self.dense(x), "float32")  # [B, S, num_labels]

    def get_config(self):
        return {
            **super().get_config(),
            "num_labels": self.num_labels,
            "hidden_size": self.hidden_size,
            "dropout": self.dropout_rate,
            "initializer_range": self.initializer_range,
        }
