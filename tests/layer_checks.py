"""Checks every tfbert layer must pass: config round trip, eager and symbolic
calls, a jit-compiled fit step, and mixed_bfloat16."""

import keras
import numpy as np


def check_config_round_trip(layer):
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config
    return clone


def check_eager_and_symbolic(layer, args, expected_shape):
    eager = layer(*args)
    assert tuple(eager.shape) == tuple(expected_shape)
    symbolic_args = [keras.KerasTensor((None,) + tuple(np.shape(a))[1:], dtype=np.asarray(a).dtype.name) for a in args]
    symbolic = layer(*symbolic_args)
    assert tuple(symbolic.shape)[1:] == tuple(expected_shape)[1:]
    return eager


def check_fit_step(build_model, x, y, jit_compile=True):
    """A functional wrapper around the layer trains one step under XLA; the loss is finite."""
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=jit_compile)
    history = model.fit(x, y, epochs=2, batch_size=len(y), verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    return losses


def check_mixed_precision(make_layer, args):
    """Under mixed_bfloat16 the layer computes in bf16, keeps float32 weights, and stays finite."""
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layer = make_layer()
        out = layer(*args)
        assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
        assert all(w.dtype == "float32" for w in layer.weights)
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32"))))
    finally:
        keras.config.set_dtype_policy("float32")
    return out
