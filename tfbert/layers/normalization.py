"""LayerNorm that always computes in float32, whatever the dtype policy.

Under ``mixed_bfloat16`` the mean and variance of a 768-wide bf16 vector lose
too many bits, so BERT keeps LayerNorm in float32: the layer gets a float32
policy (float32 weights, float32 math, inputs upcast on entry) and the caller
casts the result back to its own compute dtype.

Example:
>>> import numpy as np
>>> from tfbert.layers.normalization import float32_layer_norm
>>> ln = float32_layer_norm(1e-12, name="LayerNorm")
>>> ln(np.ones((2, 4), "float32")).dtype.name
'float32'
"""

import keras


def float32_layer_norm(epsilon, name):
    """A LayerNormalization over the last axis with a float32 dtype policy."""
    return keras.layers.LayerNormalization(epsilon=epsilon, dtype="float32", name=name)
