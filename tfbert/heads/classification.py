"""Classification head: dropout, then a dense layer on BERT's ``pooled_output``.

Example:
>>> import numpy as np
>>> from tfbert.heads import ClassificationHead
>>> head = ClassificationHead(num_classes=3, hidden_size=16)
>>> tuple(head(np.zeros((2, 16), "float32")).shape)
(2, 3)
"""

import keras
from keras import ops

from tfbert.layers.serialization import register


@register
class ClassificationHead(keras.layers.Layer):
    """Logits [B, num_classes] (float32) from a pooled vector [B, H].

    Args:
        num_classes: number of outputs (1 for regression).
        hidden_size: width H of the input vector.
        dropout: dropout rate applied before the dense layer.
        initializer_range: stddev of the truncated-normal kernel initializer.
    """

    def __init__(self, num_classes, hidden_size, dropout=0.1, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1 (1 means regression), got {num_classes!r}.")
        self.num_classes = int(num_classes)
        self.hidden_size = int(hidden_size)
        self.dropout_rate = float(dropout)
        self.initializer_range = initializer_range
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")
        self.dense = keras.layers.Dense(
            self.num_classes, kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy, name="dense",
        )

    def build(self, input_shape=None):
        self.dense.build((None, self.hidden_size))

    def call(self, pooled_output, training=None):
        x = self.dropout(pooled_output, training=training)
        return ops.cast(self.dense(x), "float32")  # [B, num_classes]

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "hidden_size": self.hidden_size,
            "dropout": self.dropout_rate,
            "initializer_range": self.initializer_range,
        }
