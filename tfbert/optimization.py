"""BERT's fine-tuning optimizer: AdamW, linear warmup then linear decay, global-norm clipping.

``create_optimizer`` returns Keras' own ``AdamW`` (no hand-written Adam) set up
as the BERT papers do: weight decay 0.01 that skips LayerNorm weights
(``gamma``/``beta``) and every bias, a learning rate that rises linearly over
the first ``warmup_fraction`` of the steps and then falls linearly to 0, and
clipping of the gradients' global norm to 1.0.

Example:
>>> from tfbert.optimization import create_optimizer, WarmupLinearDecay
>>> opt = create_optimizer(1e-4, num_train_steps=100)
>>> opt.global_clipnorm, opt.weight_decay
(1.0, 0.01)
>>> schedule = WarmupLinearDecay(1e-4, warmup_steps=10, total_steps=100)
>>> [round(float(schedule(s)), 7) for s in (0, 5, 10, 55, 100, 150)]
[0.0, 5e-05, 0.0001, 5e-05, 0.0, 0.0]
"""

import keras
from keras import ops

from tfbert.layers.serialization import register

#: Regular expressions searched in the variable name the optimizer sees. On
#: the TensorFlow backend that is the full path plus ":0"
#: ("bert/layer_0/output_layer_norm/gamma:0"); on others the last component
#: ("gamma"). Both forms match. Matching variables get no weight decay:
#: LayerNorm scale/offset and every bias.
NO_DECAY_PATTERNS = (r"layer_norm", r"LayerNorm", r"(^|/)(gamma|beta)(:\d+)?$", r"bias(:\d+)?$")


@register
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to ``peak_learning_rate`` over ``warmup_steps``,
    then linear decay to 0 at ``total_steps`` (and 0 after that).

    Args:
        peak_learning_rate: the rate reached at the end of warmup.
        warmup_steps: number of warmup steps (0 for none).
        total_steps: step at which the rate reaches 0; must exceed
            ``warmup_steps``.
    """

    def __init__(self, peak_learning_rate, warmup_steps, total_steps):
        if not peak_learning_rate > 0:
            raise ValueError(f"peak_learning_rate must be positive, got {peak_learning_rate!r}.")
        if int(warmup_steps) < 0 or int(total_steps) < 1 or int(warmup_steps) >= int(total_steps):
            raise ValueError(
                f"Need 0 <= warmup_steps < total_steps, got warmup_steps={warmup_steps}, "
                f"total_steps={total_steps}. total_steps is the number of optimizer steps of the whole run "
                "(epochs * batches per epoch)."
            )
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = self.peak_learning_rate
        warmup = float(max(self.warmup_steps, 1))
        rising = peak * step / warmup
        falling = peak * (self.total_steps - step) / float(self.total_steps - self.warmup_steps)
        rate = ops.where(step < self.warmup_steps, rising, falling)
        return ops.maximum(rate, 0.0)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
        }


@register
class BertAdamW(keras.optimizers.AdamW):
    """Keras ``AdamW`` that remembers which variables skip weight decay.

    ``keras.optimizers.AdamW.exclude_from_weight_decay`` is not part of the
    optimizer's config, so a model saved with its optimizer would decay
    LayerNorm weights again after loading. This subclass takes the patterns as
    a constructor argument (saved in ``get_config``) and applies them through
    the public ``exclude_from_weight_decay``. The update rule is Keras' own.

    Example:
    >>> opt = BertAdamW(learning_rate=1e-3)
    >>> opt.no_decay_patterns[:2]
    ['layer_norm', 'LayerNorm']
    """

    def __init__(self, learning_rate=1e-3, weight_decay=0.01, no_decay_patterns=NO_DECAY_PATTERNS, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, **kwargs)
        self.no_decay_patterns = list(no_decay_patterns or [])
        self.exclude_from_weight_decay(var_names=self.no_decay_patterns)

    def get_config(self):
        return {**super().get_config(), "no_decay_patterns": list(self.no_decay_patterns)}


def create_optimizer(learning_rate, num_train_steps=None, warmup_fraction=0.1, weight_decay=0.01,
                     clipnorm=1.0, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                     no_decay_patterns=NO_DECAY_PATTERNS, warmup_steps=None):
    """AdamW for fine-tuning BERT.

    Args:
        learning_rate: peak learning rate (2e-5 to 1e-4 are typical).
        num_train_steps: total optimizer steps of the run. With it the rate
            follows ``WarmupLinearDecay``; without it the rate is constant.
        warmup_fraction: share of ``num_train_steps`` spent warming up (0.1).
        weight_decay: decoupled weight decay (0.01), not applied to variables
            whose name matches ``no_decay_patterns`` (LayerNorm and biases).
        clipnorm: clip the *global* norm of all gradients to this (1.0);
            ``None`` disables clipping.
        beta_1, beta_2, epsilon: Adam moments (BERT uses epsilon 1e-6).
        warmup_steps: an explicit warmup step count, overriding the fraction.
    Returns:
        a ``BertAdamW`` (a ``keras.optimizers.AdamW``).
    """
    if num_train_steps is not None:
        num_train_steps = int(num_train_steps)
        if num_train_steps < 1:
            raise ValueError(f"num_train_steps must be >= 1, got {num_train_steps}.")
        if warmup_steps is None:
            if not 0.0 <= warmup_fraction < 1.0:
                raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction!r}.")
            warmup_steps = int(round(warmup_fraction * num_train_steps))
        rate = WarmupLinearDecay(learning_rate, warmup_steps, num_train_steps)
    else:
        rate = float(learning_rate)
    return BertAdamW(
        learning_rate=rate, weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2,
        epsilon=epsilon, global_clipnorm=clipnorm, no_decay_patterns=no_decay_patterns,
    )
