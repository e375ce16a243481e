"""Checks every task model passes: it learns a tiny batch, and survives a .keras round trip."""

import os

import keras
import numpy as np


def check_overfits(model, x, y, steps=40, learning_rate=3e-3, jit_compile=False, factor=0.3):
    """With the default compile (AdamW + task loss) the loss falls below ``factor`` x its start.

    The batch is repeated ``steps`` times and fit as one epoch (one step per
    copy), which avoids Keras' per-epoch overhead.
    """
    batch = len(next(iter(x.values())))
    tile = lambda a: np.concatenate([np.asarray(a)] * steps)  # noqa: E731
    model.compile(learning_rate=learning_rate, jit_compile=jit_compile)
    first = model.evaluate(x, y, batch_size=batch, verbose=0, return_dict=True)["loss"]
    model.fit(keras.tree.map_structure(tile, x), keras.tree.map_structure(tile, y), epochs=1, batch_size=batch,
              verbose=0, shuffle=False)
    last = model.evaluate(x, y, batch_size=batch, verbose=0, return_dict=True)["loss"]
    assert np.isfinite(first) and np.isfinite(last)
    assert last < factor * first, f"loss did not fall enough: {first:.4f} -> {last:.4f}"
    return first, last


def check_keras_round_trip(model, x, tmp_path, name="model.keras"):
    """save -> keras.saving.load_model(safe_mode=True): same class, config and outputs."""
    path = os.path.join(str(tmp_path), name)
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    expected = keras.tree.map_structure(np.asarray, model(x, training=False))
    got = keras.tree.map_structure(np.asarray, loaded(x, training=False))
    keras.tree.map_structure(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5), expected, got)
    return loaded
