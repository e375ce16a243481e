"""Do tfbert's exports run on older TF Serving runtimes? Load them in older TensorFlow + tensorflow-text.

TF Serving 2.x links the TensorFlow and tensorflow-text of the same version, so
a SavedModel that loads and answers in TensorFlow X + tensorflow-text X loads
in the model server X. This script:

1. exports every task (the tiny models of ``tests/test_export_tasks.py``:
   classifier single and pair, token classifier, QA, embedder, masked LM,
   multiple choice; dynamic and static shapes; plus an ``--xla`` classifier)
   with the running TensorFlow (2.21) and records their answers to fixed
   requests (a 3,000-word document for the token classifier and QA);
2. builds one throwaway virtualenv per runtime (``python -m venv`` +
   ``pip install tensorflow==X tensorflow-text==Y``; kept in ``--cache`` so a
   second run reuses it);
3. in each runtime, with only ``tensorflow`` and ``tensorflow_text``
   importable (no tfbert, no keras-hub), checks that every op of
   ``tfbert/serving/ops.py``'s allow-list is registered, then loads each export
   twice: as TF Serving does (a TF1 ``Session`` + ``loader.load`` of the
   ``serve`` meta graph, feeding the SignatureDef's tensors) and with
   ``tf.saved_model.load``, and answers the same requests;
4. compares every output with the 2.21 answer: strings and integers exactly,
   floats within ``--atol`` (default 1e-5), and prints one line per runtime.

Run it by hand (not in the test suite: each runtime is a 2.3 GB virtualenv):

    python benchmarks/serving_compat.py                      # 2.20 and 2.12 (the oldest for Python 3.11)
    python benchmarks/serving_compat.py --runtime 2.15.1:2.15.0 --json compat.json

A runtime is ``TENSORFLOW_VERSION:TENSORFLOW_TEXT_VERSION``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_RUNTIMES = ["2.20.0:2.20.1", "2.12.1:2.12.1"]

_CHILD = r'''
import json, sys, time
import numpy as np
request = json.load(open(sys.argv[1]))
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops, as the model server links them)
from tensorflow.core.framework import op_def_pb2
from tensorflow.python.client import pywrap_tf_session as c_api
ops = op_def_pb2.OpList()
ops.ParseFromString(c_api.TF_GetBuffer(c_api.TF_GetAllOpList()))
registered = {op.name for op in ops.op}
result = {"tensorflow": tf.__version__, "tensorflow_text": getattr(tensorflow_text, "__version__", "?"),
          "missing_ops": sorted(set(request["allowed_ops"]) - registered), "calls": []}
arrays = {}

def tensor(spec):
    return np.array(spec["value"], dtype=object if spec["dtype"] == "string" else spec["dtype"]).reshape(spec["shape"])

for i, call in enumerate(request["calls"]):
    entry = {"name": call["name"]}
    inputs = {k: tensor(v) for k, v in call["inputs"].items()}
    try:  # as TF Serving loads it: the serve meta graph in a Session, run by SignatureDef tensor names
        start = time.time()
        with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
            meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], call["path"])
            signature = meta.signature_def[call["signature"]]
            feed = {signature.inputs[k].name: v for k, v in inputs.items()}
            fetch = {k: t.name for k, t in signature.outputs.items()}
            out = sess.run(fetch, feed)
        entry["session_seconds"] = time.time() - start
        for k, v in out.items():
            arrays[f"{i}/session/{k}"] = v.astype(bytes) if v.dtype == object else v
    except Exception as error:
        entry["session_error"] = f"{type(error).__name__}: {str(error)[:2000]}"
    try:  # the TF2 way
        start = time.time()
        fn = tf.saved_model.load(call["path"]).signatures[call["signature"]]
        out = fn(**{k: tf.constant(v.tolist() if v.dtype == object else v) for k, v in inputs.items()})
        entry["load_seconds"] = time.time() - start
        for k, v in out.items():
            v = v.numpy()
            arrays[f"{i}/load/{k}"] = v.astype(bytes) if v.dtype == object else v
    except Exception as error:
        entry["load_error"] = f"{type(error).__name__}: {str(error)[:2000]}"
    result["calls"].append(entry)
np.savez(request["out"], **arrays)
json.dump(result, open(request["out"] + ".json", "w"))
'''


# ---- step 1: the exports and their 2.21 answers ------------------------------------------------
def _requests():
    from tests.test_export_tasks import CONTEXTS, QUESTIONS, TEXTS

    document = "Ada Lovelace wrote the first program for the engine in London . " * 250  # 3,000 words
    long_context = "Charles Babbage designed the analytical engine in London ; " * 300 + "Ada wrote code ."
    return {
        "classifier": {"text": ["a great movie", "", "two hours i will never get back"]},
        "classifier_pair": {"text": ["the cat sat", "stocks fell"], "text_pair": ["a cat was sitting", ""]},
        "token_classifier": {"text": TEXTS[:4] + [document]},
        "question_answerer": {"question": QUESTIONS + ["who wrote code ?"], "context": CONTEXTS + [long_context]},
        "embedder": {"text": ["a man is eating food", ""]},
        "masked_lm": {"text": ["paris is the [MASK] of france .", "[MASK] [MASK] wrote code", "no mask"]},
        "multiple_choice": {"text": ["he put the milk back in the"], "choices": [["fridge", "car", ""]]},
    }


def make_exports(root):
    """Export every task; return ``[(name, path, signature, inputs, outputs)]`` with 2.21's outputs."""
    import tensorflow as tf

    from tests.test_export_tasks import build

    calls = []
    for task, inputs in _requests().items():
        model = build(task)
        variants = [("dynamic", {}), ("static", {"sequence_length": 32})]
        if task == "classifier":
            variants.append(("xla", {"xla": True}))
        for variant, options in variants:
            path = model.export_saved_model(os.path.join(root, f"{task}_{variant}"),
                                            pair=True if task == "classifier_pair" else None, **options)
            fn = tf.saved_model.load(path).signatures["serving_default"]
            out = fn(**{k: tf.constant(v) for k, v in inputs.items()})
            outputs = {k: v.numpy().astype(bytes) if v.dtype == tf.string else v.numpy() for k, v in out.items()}
            calls.append((f"{task}_{variant}", path, "serving_default", inputs, outputs))
    return calls


def _spec(value):
    value = np.asarray(value)
    if value.dtype.kind in "SUO":
        return {"dtype": "string", "value": np.asarray(value, dtype=str).tolist(), "shape": list(value.shape)}
    return {"dtype": value.dtype.name, "value": value.tolist(), "shape": list(value.shape)}


# ---- step 2: the runtimes --------------------------------------------------------------------------
def ensure_runtime(cache, tf_version, text_version, python):
    """A virtualenv with tensorflow==tf_version and tensorflow-text==text_version; its python."""
    venv = os.path.join(cache, f"tf-{tf_version}")
    exe = os.path.join(venv, "bin", "python")
    if os.path.exists(exe):
        probe = subprocess.run([exe, "-c", "import importlib.metadata as m; print(m.version('tensorflow'), "
                                           "m.version('tensorflow-text'))"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.split() == [tf_version, text_version]:
            return exe
    if not os.path.exists(exe):
        subprocess.run([python, "-m", "venv", venv], check=True)
    print(f"installing tensorflow=={tf_version} tensorflow-text=={text_version} into {venv} ...", flush=True)
    subprocess.run([exe, "-m", "pip", "install", "-q", f"tensorflow=={tf_version}",
                    f"tensorflow-text=={text_version}"], check=True)
    return exe


# ---- steps 3 and 4 -----------------------------------------------------------------------------------
def run_runtime(exe, calls, workdir, allowed_ops):
    request = {"out": os.path.join(workdir, "compat_out"), "allowed_ops": sorted(allowed_ops),
               "calls": [{"name": n, "path": p, "signature": s, "inputs": {k: _spec(v) for k, v in i.items()}}
                         for n, p, s, i, _ in calls]}
    path = os.path.join(workdir, "compat_request.json")
    with open(path, "w") as f:
        json.dump(request, f)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    proc = subprocess.run([exe, "-I", "-c", _CHILD, path], capture_output=True, text=True, cwd=workdir, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{exe} failed:\n{proc.stderr[-3000:]}")
    with open(request["out"] + ".json") as f:
        info = json.load(f)
    with np.load(request["out"] + ".npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return info, arrays


def compare(calls, info, arrays, atol):
    """Per export and loading path: the largest float difference, or what did not match."""
    report = []
    for i, ((name, _, _, _, want), entry) in enumerate(zip(calls, info["calls"])):
        for way in ("session", "load"):
            if f"{way}_error" in entry:
                report.append((name, way, None, entry[f"{way}_error"].splitlines()[0]))
                continue
            worst, problems = 0.0, []
            for key, expected in want.items():
                got = arrays.get(f"{i}/{way}/{key}")
                if got is None or got.shape != expected.shape:
                    problems.append(f"{key}: shape {None if got is None else got.shape} vs {expected.shape}")
                elif expected.dtype.kind in "SO" or expected.dtype.kind in "iub":
                    if not np.array_equal(got.astype(expected.dtype), expected):
                        problems.append(f"{key} differs")
                else:
                    finite = np.isfinite(expected)
                    if not np.array_equal(np.isfinite(got), finite):
                        problems.append(f"{key}: non-finite entries differ")
                    elif finite.any():
                        worst = max(worst, float(np.max(np.abs(got[finite] - expected[finite]))))
            if worst > atol:
                problems.append(f"max |diff| {worst:.2e} > {atol}")
            report.append((name, way, worst, "; ".join(problems)))
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", action="append", metavar="TF:TEXT",
                        help=f"runtime to check (repeatable; default {' and '.join(DEFAULT_RUNTIMES)})")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "tfbert-serving-compat"),
                        help="where the virtualenvs are kept (default: %(default)s)")
    parser.add_argument("--python", default="python3.11", help="interpreter for the virtualenvs")
    parser.add_argument("--atol", type=float, default=1e-5)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    sys.path.insert(0, REPO)
    os.makedirs(args.cache, exist_ok=True)
    import tensorflow as tf

    from tfbert.serving.ops import CORE_OPS, TEXT_OPS

    workdir = tempfile.mkdtemp(prefix="serving_compat_")
    start = time.time()
    calls = make_exports(os.path.join(workdir, "exports"))
    print(f"exported {len(calls)} SavedModels with TensorFlow {tf.__version__} in {time.time() - start:.0f} s")
    results, failed = [], False
    for runtime in args.runtime or DEFAULT_RUNTIMES:
        tf_version, text_version = runtime.split(":")
        exe = ensure_runtime(args.cache, tf_version, text_version, args.python)
        start = time.time()
        info, arrays = run_runtime(exe, calls, workdir, CORE_OPS | TEXT_OPS)
        report = compare(calls, info, arrays, args.atol)
        bad = [r for r in report if r[3]]
        worst = max((r[2] for r in report if r[2] is not None), default=0.0)
        failed |= bool(bad or info["missing_ops"])
        print(f"tensorflow {info['tensorflow']} + tensorflow-text {info['tensorflow_text']}: "
              f"{len(report) - len(bad)}/{len(report)} loads answer as TF {tf.__version__} "
              f"(max |diff| {worst:.1e}), allow-listed ops missing: {info['missing_ops'] or 'none'} "
              f"[{time.time() - start:.0f} s]")
        for name, way, _, problem in bad:
            print(f"  {name} ({way}): {problem}")
        results.append({"runtime": runtime, "tensorflow": info["tensorflow"],
                        "tensorflow_text": info["tensorflow_text"], "missing_ops": info["missing_ops"],
                        "max_abs_diff": worst,
                        "loads": [{"export": n, "way": w, "max_abs_diff": d, "problem": p} for n, w, d, p in report]})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": "python benchmarks/serving_compat.py " + " ".join(argv or sys.argv[1:]),
                       "reference": tf.__version__, "atol": args.atol, "results": results}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
