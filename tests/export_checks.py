"""Helpers for the export tests: load a SavedModel in a fresh, isolated process.

``run_isolated(calls, workdir)`` starts ``python -I`` (no PYTHONPATH, no user
site, no current directory on sys.path) with an import blocker that makes
``tfbert`` and ``keras_hub`` (and, in ``ops_only`` mode, ``keras``)
unimportable, imports only ``tensorflow`` and ``tensorflow_text``, loads the
SavedModels, calls their signatures and returns the outputs as numpy arrays.
It also reports which blocked packages ended up in ``sys.modules``.
"""

import json
import os
import subprocess
import sys

import numpy as np

_CHILD = r'''
import importlib.abc, importlib.machinery, json, sys
request = json.load(open(sys.argv[1]))
# "python": the documented way, import tensorflow + tensorflow_text (which import keras
# themselves), with tfbert and keras_hub unimportable. "ops_only": like TF Serving, no
# Keras Python code at all: keras is unimportable too and the tokenizer ops come from
# tensorflow_text's kernel libraries, loaded with tf.load_op_library.
BLOCKED = ("tfbert", "keras_hub") if request["mode"] == "python" else ("tfbert", "keras_hub", "keras", "tf_keras")

class _Refuse(importlib.abc.Loader):
    def create_module(self, spec):
        raise ImportError(f"{spec.name} is blocked: the SavedModel must load without it")

    def exec_module(self, module):
        raise ImportError(f"{module.__name__} is blocked")

class _Block(importlib.abc.MetaPathFinder):
    """Every blocked package looks installed-but-broken: importing it raises ImportError."""
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            return importlib.machinery.ModuleSpec(name, _Refuse(), origin=None)
        return None

sys.meta_path.insert(0, _Block())
import numpy as np
import tensorflow as tf
if request["mode"] == "python":
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)
else:
    import glob, importlib.util, os
    text_dir = os.path.dirname(importlib.util.find_spec("tensorflow_text").origin)
    for library in sorted(glob.glob(os.path.join(text_dir, "python", "ops", "_*.so"))):
        tf.load_op_library(library)
models = {}
results = {"signatures": {}}
arrays = {}
for i, call in enumerate(request["calls"]):
    if call["path"] not in models:
        models[call["path"]] = tf.saved_model.load(call["path"])
        results["signatures"][call["path"]] = sorted(models[call["path"]].signatures)
    fn = models[call["path"]].signatures[call["signature"]]
    inputs = {}
    for name, spec in call["inputs"].items():
        inputs[name] = tf.reshape(tf.constant(spec["value"], dtype=tf.as_dtype(spec["dtype"])), spec["shape"])
    try:
        out = fn(**inputs)
    except Exception as error:  # reported to the parent, which decides
        results[f"error_{i}"] = f"{type(error).__name__}: {error}"
        continue
    for name, value in out.items():
        value = value.numpy()
        arrays[f"{i}/{name}"] = value.astype(bytes) if value.dtype == object else value
bad = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
results["blocked_modules_loaded"] = bad
np.savez(request["out"], **{k: v for k, v in arrays.items()})
json.dump(results, open(request["out"] + ".json", "w"))
'''


def _spec(value):
    value = np.asarray(value)
    if value.dtype.kind in "SUO":
        return {"dtype": "string", "value": np.asarray(value, dtype=str).tolist(), "shape": list(value.shape)}
    return {"dtype": value.dtype.name, "value": value.tolist(), "shape": list(value.shape)}


def run_isolated(calls, workdir, mode="python", timeout=300):
    """Call signatures of SavedModels in one fresh isolated process.

    ``calls`` is a list of ``(saved_model_path, signature_name, {input_name:
    array})``. Returns
    ``(info, outputs)``. ``mode="python"`` imports tensorflow and
    tensorflow_text (which import keras themselves) with tfbert and keras_hub
    blocked; ``mode="ops_only"`` blocks keras too and loads tensorflow_text's
    op libraries with ``tf.load_op_library``, like a C++ server. ``info`` holds ``signatures`` (the names),
    ``blocked_modules_loaded`` and ``error_<i>`` for calls that raised;
    ``outputs[i]`` is the dict of numpy outputs of call ``i``.
    """
    request = {
        "mode": mode,
        "out": os.path.join(workdir, "isolated_out"),
        "calls": [{"path": os.path.abspath(path), "signature": sig, "inputs": {k: _spec(v) for k, v in inputs.items()}}
                  for path, sig, inputs in calls],
    }
    request_path = os.path.join(workdir, "isolated_request.json")
    with open(request_path, "w") as f:
        json.dump(request, f)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    proc = subprocess.run(
        [sys.executable, "-I", "-c", _CHILD, request_path], capture_output=True, text=True,
        timeout=timeout, cwd=workdir, env=env,
    )
    if proc.returncode != 0:
        raise AssertionError(f"isolated process failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    with open(request["out"] + ".json") as f:
        info = json.load(f)
    outputs = {}
    with np.load(request["out"] + ".npz", allow_pickle=False) as arrays:
        for key in arrays.files:
            index, name = key.split("/", 1)
            outputs.setdefault(int(index), {})[name] = arrays[key]
    return info, outputs
