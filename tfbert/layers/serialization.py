"""One registration decorator, so every tfbert layer serializes under 'tfbert>'."""

import keras


def register(cls):
    """Register ``cls`` for ``.keras`` saving under the ``tfbert`` package."""
    return keras.saving.register_keras_serializable(package="tfbert")(cls)
