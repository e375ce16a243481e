"""Token accuracy that skips positions labelled with an ignore value (-100 by default).

Token classification labels only the first word piece of each word; the other
pieces, [CLS], [SEP] and padding carry ``ignore_label`` and must not count.

Example:
>>> import numpy as np
>>> from tfbert.metrics import MaskedAccuracy
>>> metric = MaskedAccuracy()
>>> logits = np.array([[[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]], "float32")   # argmax 1, 0, 0
>>> metric.update_state(np.array([[1, 1, -100]]), logits)
>>> float(metric.result())
0.5
"""

import keras
from keras import ops

from tfbert.layers.serialization import register

IGNORE_LABEL = -100


@register
class MaskedAccuracy(keras.metrics.Metric):
    """Share of positions whose argmax equals the label, over positions whose label != ``ignore_label``."""

    def __init__(self, ignore_label=IGNORE_LABEL, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ignore_label = int(ignore_label)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        if len(y_true.shape) == len(y_pred.shape):  # labels given as [..., 1]
            y_true = ops.squeeze(y_true, axis=-1)
        keep = ops.cast(ops.not_equal(y_true, self.ignore_label), "float32")
        if sample_weight is not None:
            keep = keep * ops.cast(sample_weight, "float32")
        hits = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true), "float32")
        self.correct.assign_add(ops.sum(hits * keep))
        self.count.assign_add(ops.sum(keep))

    def result(self):
        return ops.divide_no_nan(self.correct, self.count)

    def reset_state(self):
        self.correct.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "ignore_label": self.ignore_label}
