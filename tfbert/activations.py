"""Activation functions by the names used in BERT config files.

``"gelu"`` is the exact erf GELU that the released Google and Hugging Face
checkpoints use. The tanh approximation goes by several names in the wild
(``"gelu_new"``, ``"gelu_pytorch_tanh"``, ``"gelu_approximate"``); all map to
the same function here.

Example:
>>> import tfbert.activations as A
>>> A.get("gelu_new") is A.gelu_tanh
True
"""

import keras


def gelu_erf(x):
    """Exact GELU: x * Phi(x), with Phi the standard normal CDF."""
    return keras.activations.gelu(x, approximate=False)


def gelu_tanh(x):
    """The tanh approximation of GELU (GPT-2 / keras-hub form)."""
    return keras.activations.gelu(x, approximate=True)


ACTIVATIONS = {
    "gelu": gelu_erf,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "gelu_approximate": gelu_tanh,
    "relu": keras.activations.relu,
    "tanh": keras.activations.tanh,
    "silu": keras.activations.silu,
    "swish": keras.activations.silu,
}


def get(name):
    """Return the activation function for a config name, or raise ValueError."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown hidden_act {name!r}. Expected one of {sorted(ACTIVATIONS)}."
        ) from None
