"""The base class of tfbert's tests and the helpers they share.

``TestCase`` runs the checks every layer, task model and preset loader must
pass; a test class subclasses it (``class TestBertPooler(TestCase):``) and
calls ``run_layer_test``, ``run_task_test`` or ``run_preset_test``. The module
functions (``tiny_config``, ``random_inputs``, ``save_tiny_hf_preset``,
``shared_data_path``, ``minilm_source``) are imported directly by tests that
need only them. ``conftest.py`` keeps the real pytest hooks (the per-test reset
of the Keras dtype policy and seed).
"""

import json
import os

import numpy as np
import pytest

import tfbert  # noqa: F401  (sets KERAS_BACKEND before keras is imported)
import keras

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.environ.get("TFBERT_SHARED_DATA", os.path.join(REPO_ROOT, "..", "shared", "data"))

TINY = dict(
    vocab_size=64,
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=32,
)

#: the dtype policies every layer is run under.
POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
#: the inputs of a task model that run along the sequence.
SEQUENCE_INPUTS = ("token_ids", "segment_ids", "padding_mask")
#: a preset name no source knows.
INVALID_PRESET = "bert_gigantic_en"


# ---- shared helpers ------------------------------------------------------------------------
def tiny_config(**overrides):
    """The tiny ``BertConfig`` of most tests (``TINY``), with ``overrides``."""
    return tfbert.BertConfig(**{**TINY, **overrides})


def save_tiny_hf_preset(path, vocabulary):
    """A Hugging Face directory at ``path`` holding a tiny random BERT over ``vocabulary``; returns ``path``."""
    config = tfbert.BertConfig(**{**TINY, "vocab_size": len(vocabulary)})
    tfbert.BERT(config).save_huggingface(path, vocabulary=vocabulary, lowercase=True)
    return path


def random_inputs(batch=3, seq_len=10, vocab_size=64, seed=0, pad=True):
    """A batch of model inputs with pair segments and, by default, padding."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(1, vocab_size, (batch, seq_len)).astype("int32")
    padding_mask = np.ones((batch, seq_len), "int32")
    if pad:
        for row in range(batch):
            padding_mask[row, max(2, seq_len - 3 * row):] = 0
    token_ids = token_ids * padding_mask
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, seq_len // 2:] = 1
    segment_ids *= padding_mask
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def shared_data_path(*parts):
    """Path under ../shared/data, or skip the test saying which file is missing."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"real data not available: {path} is missing (it lives in ../shared/data beside the repo)")
    return path


def minilm_source(resolve=False):
    """all-MiniLM-L6-v2 for real-checkpoint tests, or skip saying how to get it.

    ``$TFBERT_MINILM_DIR`` (a Hugging Face directory) when set, else tfbert's
    cache of the offline preset: its name, or with ``resolve=True`` its local
    directory.
    """
    path = os.environ.get("TFBERT_MINILM_DIR")
    if path:
        if not os.path.isdir(path):
            pytest.skip(f"TFBERT_MINILM_DIR={path} is not a directory")
        return path
    from tfbert.checkpoints.presets import is_cached, resolve_preset

    if not is_cached("minilm_l6_en_uncased"):
        pytest.skip("MiniLM is not cached; set TFBERT_MINILM_DIR or run BERT.from_preset('minilm_l6_en_uncased') once")
    return resolve_preset("minilm_l6_en_uncased")[0] if resolve else "minilm_l6_en_uncased"


# ---- small pieces of the checks ------------------------------------------------------------
def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(d is None or isinstance(d, int) for d in value)


def _map_shapes(fn, expected, *trees):
    """``fn(expected_shape, *leaves)`` over a dict (or a single) expected output shape."""
    if isinstance(expected, dict):
        assert all(isinstance(t, dict) and sorted(t) == sorted(expected) for t in trees), \
            f"output keys {[sorted(t) for t in trees]} != {sorted(expected)}"
        return {k: fn(expected[k], *(t[k] for t in trees)) for k in expected}
    assert _is_shape(expected), f"expected_shape must be a shape or a dict of shapes, got {expected!r}"
    return fn(expected, *trees)


def _numpy_tree(tree):
    """Every tensor of ``tree`` as a numpy array, 16-bit floats widened to float32."""
    def to_numpy(x):
        if _dtype(x) in ("float16", "bfloat16"):
            x = keras.ops.cast(x, "float32")
        return np.asarray(keras.ops.convert_to_numpy(x))

    return keras.tree.map_structure(to_numpy, tree)


def _dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


def _json_round_trip(config):
    """``config`` through ``json.dumps`` / ``json.loads``: it must be plain JSON."""
    try:
        text = json.dumps(config)
    except TypeError as error:
        raise AssertionError(f"get_config() is not JSON serializable: {error}\n{config!r}") from None
    return json.loads(text)


def _symbolic(arg, seq_axes=()):
    """A KerasTensor standing for ``arg`` with a None batch dimension (and None at ``seq_axes``)."""
    if isinstance(arg, dict):
        return {k: _symbolic(v, seq_axes) for k, v in arg.items()}
    array = np.asarray(arg)
    shape = [None] + list(array.shape[1:])
    for axis in seq_axes:
        if 0 < axis % array.ndim < array.ndim and array.ndim > 1:
            shape[axis % array.ndim] = None
    return keras.KerasTensor(tuple(shape), dtype=array.dtype.name)


def _inputs(arg, seq_axes=()):
    """``keras.Input`` for ``arg`` as ``_symbolic`` shapes it; a dict's inputs are named by their keys."""
    if isinstance(arg, dict):
        return {k: keras.Input(batch_shape=t.shape, dtype=t.dtype, name=k)
                for k, t in _symbolic(arg, seq_axes).items()}
    t = _symbolic(arg, seq_axes)
    return keras.Input(batch_shape=t.shape, dtype=t.dtype)


def _truncate(tree, axis, length):
    """Every array of ``tree`` with more than one axis cut to ``length`` along ``axis``."""
    def cut(a):
        a = np.asarray(a)
        if a.ndim < 2:
            return a
        index = [slice(None)] * a.ndim
        index[axis] = slice(0, length)
        return a[tuple(index)]

    return keras.tree.map_structure(cut, tree)


def _unwrap(inputs):
    """A list of one input as that input (a functional model takes a lone dict or array as is)."""
    return inputs[0] if len(inputs) == 1 else inputs


def _sequence_length(tree, axis):
    lengths = {np.asarray(a).shape[axis] for a in keras.tree.flatten(tree) if np.asarray(a).ndim >= 2}
    assert len(lengths) == 1, f"inputs of different sequence lengths along axis {axis}: {sorted(lengths)}"
    return lengths.pop()


def _replace_length(shape, old, new):
    """``shape`` with its axis 1 (where outputs keep the sequence) set to ``new`` when it was ``old``."""
    return tuple(new if axis == 1 and d == old else d for axis, d in enumerate(shape))


class TestCase:
    """Base class of tfbert's layer, task and preset tests (pytest style: no ``__init__``)."""

    #: sublayer types that keep a float32 policy whatever the layer's policy (by design:
    #: LayerNorm statistics lose too many bits in 16-bit floats; see tfbert/layers/normalization.py).
    float32_sublayer_types = (keras.layers.LayerNormalization,)

    # ---- layers ----------------------------------------------------------------------------
    def run_layer_test(self, make_layer, args, expected_shape, *, call_kwargs=None, expected_output_dtype=None,
                       run_mixed_precision=True, run_training_check=False, jit_compile=True,
                       variable_length=False, seq_axis=1):
        """Run the checks every tfbert layer must pass; returns ``(layer, eager_output)``.

        ``make_layer(**kwargs)`` builds a fresh layer (a class or a ``functools.partial``;
        it must accept ``dtype=``); ``args`` are its call's positional inputs (arrays or
        dicts of arrays, batch first) and ``expected_shape`` its output's shape (a dict of
        shapes for a dict output). Checks:

        * eager and symbolic (``KerasTensor``, batch None) calls give ``expected_shape``;
        * ``get_config()`` survives ``json.dumps``/``json.loads`` and ``from_config``: the
          clone has the same config and, given the same weights, the same outputs;
        * under each policy in ``POLICIES`` (passed as ``dtype=`` and set globally):
          the layer and every sublayer carry the policy (LayerNorm sublayers keep float32),
          the output is in the compute dtype (or ``expected_output_dtype``), every weight
          stays float32, and the output is finite;
        * ``run_training_check``: a functional model around the layer fits two steps
          (``jit_compile``) with a finite loss;
        * ``variable_length``: the same layer instance takes a shorter sequence (cut along
          ``seq_axis``), eagerly and in one functional model with a None sequence dimension;
          an output axis 1 equal to the input length follows it.
        """
        call_kwargs = dict(call_kwargs or {})
        layer = make_layer()
        eager = layer(*args, **call_kwargs)
        _map_shapes(lambda shape, out: self.assert_shape(out, shape), expected_shape, eager)

        symbolic = layer(*[_symbolic(a) for a in args], **call_kwargs)
        _map_shapes(lambda shape, out: self.assert_shape(out, (None,) + tuple(shape[1:])), expected_shape, symbolic)

        self.run_config_round_trip(layer, args, call_kwargs)

        if run_mixed_precision:
            for policy in POLICIES:
                self.run_precision_check(make_layer, args, policy, call_kwargs=call_kwargs,
                                         expected_output_dtype=expected_output_dtype)

        if run_training_check:
            self.run_fit_step(make_layer, args, call_kwargs=call_kwargs, jit_compile=jit_compile)

        if variable_length:
            self.run_variable_length_check(layer, args, expected_shape, call_kwargs=call_kwargs, seq_axis=seq_axis)
        return layer, eager

    def assert_shape(self, tensor, shape):
        assert tuple(tensor.shape) == tuple(shape), f"shape {tuple(tensor.shape)} != expected {tuple(shape)}"

    def run_config_round_trip(self, layer, args=None, call_kwargs=None):
        """``get_config`` -> JSON -> ``from_config``: equal configs; with ``args``, equal outputs too."""
        config = layer.get_config()
        plain = _json_round_trip(config)
        clone = layer.__class__.from_config(plain)
        assert type(clone) is type(layer)
        assert _json_round_trip(clone.get_config()) == plain
        assert clone.get_config() == config, "from_config(get_config()) changed the config"
        if args is not None:
            clone(*args, **(call_kwargs or {}))  # builds its weights
            clone.set_weights(layer.get_weights())
            self.assert_all_close(clone(*args, **(call_kwargs or {})), layer(*args, **(call_kwargs or {})), atol=1e-6)
        return clone

    def run_precision_check(self, make_layer, args, policy, call_kwargs=None, expected_output_dtype=None):
        """``make_layer`` under ``policy``, given as ``dtype=`` and as the global policy."""
        previous = keras.config.dtype_policy().name
        for how in ("argument", "global"):
            keras.config.set_dtype_policy("float32" if how == "argument" else policy)
            try:
                layer = make_layer(dtype=policy) if how == "argument" else make_layer()
                out = layer(*args, **(call_kwargs or {}))
                where = f"{type(layer).__name__} under {policy} ({how})"
                assert layer.dtype_policy.name == policy, f"{where}: the layer's policy is {layer.dtype_policy.name}"
                compute = keras.DTypePolicy(policy).compute_dtype
                self.assert_sublayer_policies(layer, policy, where)
                want = expected_output_dtype or compute
                for leaf in keras.tree.flatten(out):
                    assert _dtype(leaf) == want, f"{where}: output dtype {_dtype(leaf)} != {want}"
                wrong = [w.path for w in layer.weights if w.dtype != "float32"]
                assert not wrong, f"{where}: weights not float32: {wrong}"
                for leaf in keras.tree.flatten(_numpy_tree(out)):
                    assert np.isfinite(leaf).all(), f"{where}: non-finite output"
            finally:
                keras.config.set_dtype_policy(previous)

    def assert_sublayer_policies(self, layer, policy, where=""):
        """Every sublayer (at any depth) carries ``policy``; LayerNorm ones keep float32."""
        wrong = []
        for sub in layer._flatten_layers(include_self=False, recursive=True):
            want = "float32" if isinstance(sub, self.float32_sublayer_types) else policy
            if sub.dtype_policy.name != want:
                wrong.append(f"{sub.name}: {sub.dtype_policy.name} (want {want})")
        assert not wrong, f"{where}: sublayers with the wrong policy: {wrong}"

    def run_fit_step(self, make_layer, args, call_kwargs=None, jit_compile=True):
        """A functional model around a fresh layer trains two steps; the loss is finite."""
        inputs = [_inputs(arg) for arg in args]
        model = keras.Model(_unwrap(inputs), make_layer()(*inputs, **(call_kwargs or {})))
        y = keras.tree.map_structure(lambda t: np.zeros(tuple(t.shape), "float32"), model(_unwrap(list(args))))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=jit_compile)
        history = model.fit(_unwrap(list(args)), y, epochs=2, batch_size=len(keras.tree.flatten(args)[0]),
                            verbose=0)
        losses = history.history["loss"]
        assert np.all(np.isfinite(losses)), f"non-finite loss: {losses}"
        return losses

    def run_variable_length_check(self, layer, args, expected_shape, call_kwargs=None, seq_axis=1):
        """Two sequence lengths through one layer instance, eagerly and in one functional model."""
        call_kwargs = dict(call_kwargs or {})
        length = _sequence_length(args, seq_axis)
        short = max(1, length - 2)
        short_args = _truncate(args, seq_axis, short)
        short_shape = _map_shapes(lambda s: _replace_length(s, length, short), expected_shape)
        eager_short = layer(*short_args, **call_kwargs)
        _map_shapes(lambda s, out: self.assert_shape(out, s), short_shape, eager_short)
        inputs = [_inputs(a, seq_axes=(seq_axis,)) for a in args]
        model = keras.Model(_unwrap(inputs), layer(*inputs, **call_kwargs))
        for batch, shape, eager in ((args, expected_shape, layer(*args, **call_kwargs)),
                                    (short_args, short_shape, eager_short)):
            out = model.predict_on_batch(_unwrap(list(batch)))
            _map_shapes(lambda s, o: self.assert_shape(o, s), shape, out)
            self.assert_all_close(out, eager, atol=1e-5)

    def assert_all_close(self, actual, expected, atol=1e-6, rtol=1e-6):
        keras.tree.map_structure(lambda a, b: np.testing.assert_allclose(a, b, atol=atol, rtol=rtol),
                                 _numpy_tree(actual), _numpy_tree(expected))

    # ---- task models -----------------------------------------------------------------------
    def run_task_test(self, make_task, x, y, tmp_path, *, expected_output_shape, compile_kwargs=None,
                      jit_compile=False, variable_length=True, seq_axis=-1):
        """Run the checks every task model must pass; returns the trained task.

        ``make_task()`` builds a fresh task; ``x``/``y`` are one batch. Checks: the
        default ``compile`` (``compile_kwargs`` added) fits a step with a finite loss;
        ``predict`` gives ``expected_output_shape``; ``get_config`` survives JSON and
        ``from_config``; ``.keras`` save/load (safe mode) predicts the same; and
        (``variable_length``) a batch cut to a shorter sequence along ``seq_axis``
        predicts with the shorter shape, and the loaded model agrees on it too.
        """
        task = make_task()
        batch = len(keras.tree.flatten(x)[0])
        # the config first, while task and clone are both unbuilt (a built backbone's config adds its build shapes)
        config = task.get_config()
        clone = type(task).from_config(_json_round_trip(config))
        assert type(clone) is type(task)
        assert _json_round_trip(clone.get_config()) == _json_round_trip(config)
        before = task(x, training=False)
        clone(x, training=False)
        clone.set_weights(task.get_weights())
        self.assert_all_close(clone(x, training=False), before, atol=1e-6)

        task.compile(jit_compile=jit_compile, **(compile_kwargs or {}))
        history = task.fit(x, y, epochs=1, batch_size=batch, verbose=0)
        assert np.all(np.isfinite(history.history["loss"])), history.history

        predictions = task.predict(x, batch_size=batch, verbose=0)
        _map_shapes(lambda s, out: self.assert_shape(out, s), expected_output_shape, predictions)

        loaded = self.assert_keras_round_trip(task, x, tmp_path)
        self.assert_all_close(loaded.predict(x, batch_size=batch, verbose=0), predictions, atol=1e-5)

        if variable_length:
            # the model inputs are cut; other entries (a pretrainer's mask_positions) stay as they are
            sequences = {k: v for k, v in x.items() if k in SEQUENCE_INPUTS} if isinstance(x, dict) else x
            length = _sequence_length(sequences, seq_axis)
            short = max(1, length - 2)
            short_x = {**x, **_truncate(sequences, seq_axis, short)} if isinstance(x, dict) else \
                _truncate(x, seq_axis, short)
            short_shape = _map_shapes(lambda s: _replace_length(s, length, short), expected_output_shape)
            short_predictions = task.predict(short_x, batch_size=batch, verbose=0)
            _map_shapes(lambda s, out: self.assert_shape(out, s), short_shape, short_predictions)
            self.assert_all_close(loaded.predict(short_x, batch_size=batch, verbose=0), short_predictions, atol=1e-5)
        return task

    def assert_overfits(self, model, x, y, steps=40, learning_rate=3e-3, jit_compile=False, factor=0.3):
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

    def assert_keras_round_trip(self, model, x, tmp_path, name="model.keras"):
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

    # ---- presets ---------------------------------------------------------------------------
    def run_preset_test(self, cls, preset, *, init_kwargs=None, expected_type=None):
        """``cls.from_preset(preset, **init_kwargs)`` loads (an instance of ``expected_type``,
        default ``cls``), and an unknown preset name raises ``ValueError`` naming it."""
        init_kwargs = dict(init_kwargs or {})
        loaded = cls.from_preset(preset, **init_kwargs)
        assert isinstance(loaded, expected_type or cls), f"{cls.__name__}.from_preset gave {type(loaded).__name__}"
        with pytest.raises(ValueError) as info:
            cls.from_preset(INVALID_PRESET, **init_kwargs)
        message = str(info.value)
        assert f"Unknown preset {INVALID_PRESET!r}" in message, message
        return loaded
