"""Masked-LM perplexity: exp of the weighted mean cross-entropy over real predictions.

Padding prediction slots (weight 0) do not count. The state is the summed
cross-entropy and the summed weight, so the result over an epoch is exact,
not an average of per-batch perplexities.

Example:
>>> import numpy as np
>>> from tfbert.metrics.perplexity import MaskedLMPerplexity
>>> metric = MaskedLMPerplexity()
>>> logits = np.zeros((1, 2, 4), "float32")          # uniform over 4 tokens
>>> metric.update_state(np.array([[1, 3]]), logits, sample_weight=np.array([[1.0, 0.0]]))
>>> round(float(metric.result()), 4)
4.0
"""

import keras
from keras import ops

from tfbert.layers.serialization import register


@register
class MaskedLMPerplexity(keras.metrics.Metric):
    """``exp(sum(w * CE) / sum(w))`` over token ids [B, P] and logits [B, P, V]."""

    def __init__(self, name="perplexity", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        cross_entropy = keras.losses.sparse_categorical_crossentropy(
            y_true, ops.cast(y_pred, "float32"), from_logits=True)  # [B, P]
        weight = ops.ones_like(cross_entropy) if sample_weight is None else ops.cast(sample_weight, "float32")
        self.total.assign_add(ops.sum(cross_entropy * weight))
        self.count.assign_add(ops.sum(weight))

    def result(self):
        return ops.exp(ops.divide_no_nan(self.total, self.count))

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)
