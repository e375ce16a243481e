"""End-to-end raw-text throughput of an exported tfbert classifier against keras-hub.

Both sides start from the same checkpoint (the real all-MiniLM-L6-v2, uncased,
6 layers, hidden 384) with a 2-class head on the pooled output, and classify
the same Rotten Tomatoes snippets from raw strings, batch 32:

- ``tfbert SavedModel``: ``BertClassifier.from_preset("minilm_l6_en_uncased")``
  exported with ``export_saved_model`` (dynamic padding to a multiple of 8,
  truncation at 512 like keras-hub's default), loaded back with
  ``tf.saved_model.load`` and called through its ``serving_default``
  signature: tokenization, packing, model and softmax/argmax all in the graph;
- ``tfbert SavedModel, static 128``: the same export with ``sequence_length=128``
  (every batch padded to 128, as a TPU export is), to show where the gain comes from;
- ``keras-hub predict, seq 512`` and ``seq 128``:
  ``keras_hub.models.BertTextClassifier.from_preset(<HF dir>, num_classes=2)``
  and ``.predict(texts, batch_size=32)`` with its ``BertTextClassifierPreprocessor``
  at ``sequence_length`` 512 (the class default) and 128; and, when it differs
  from both, at the length ``from_preset`` gave it (what a user gets).

Latency: ``--requests`` single-text requests (batch 1), the systems taking
turns request by request: p50 and p99 milliseconds per request through the
SavedModel's ``serving_default`` and through keras-hub's ``predict([text])``.

The heads are freshly initialised on both sides (throughput does not depend on
the head's weights; the predictions are not meaningful). The texts are split
into ``--chunks`` parts and the systems take turns on each part, so that load
from other processes on a shared machine hits all of them alike. Each system
is warmed up on one batch first (tracing is not timed).

Run (writes benchmarks/results/serving.json):

    .venv/bin/python benchmarks/serving.py                # 2,048 snippets, batch 32
    .venv/bin/python benchmarks/serving.py --n 256        # quick look
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import tfbert  # noqa: E402  (sets KERAS_BACKEND)
import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfbert.data.rotten_tomatoes import movie_split, read_rotten_tomatoes  # noqa: E402
from tfbert.fileio import atomic_write_text  # noqa: E402
from tfbert.tasks import BertClassifier  # noqa: E402

PRESET = "minilm_l6_en_uncased"
DATA = os.path.join(REPO, "..", "shared", "data", "rotten_tomatoes", "rotten_tomatoes_corpus_full.csv.bz2")
RESULT = os.path.join(REPO, "benchmarks", "results", "serving.json")


def snippets(n, path):
    """The first ``n`` fresh/rotten snippets of the movie-grouped test split (then train, if needed)."""
    train, test = movie_split(read_rotten_tomatoes(path))
    texts = [e.text for e in test] + [e.text for e in train]
    if len(texts) < n:
        raise SystemExit(f"{path} has only {len(texts)} snippets; asked for {n}.")
    return texts[:n]


def batches(texts, size):
    return [texts[i:i + size] for i in range(0, len(texts), size)]


class ServedClassifier:
    """An exported SavedModel, called through serving_default with raw strings."""

    def __init__(self, path):
        self.path = path
        self.fn = tf.saved_model.load(path).signatures["serving_default"]

    def run(self, texts, batch_size):
        for chunk in batches(texts, batch_size):
            out = self.fn(text=tf.constant(chunk))
            out["label_id"].numpy()  # wait for the result

    def one(self, text):
        self.fn(text=tf.constant([text]))["label_id"].numpy()


class KerasHubClassifier:
    """keras-hub BertTextClassifier.predict at one preprocessor sequence_length.

    Each length gets its own model, so that no call retraces ``predict`` for a changed length.
    """

    def __init__(self, hf_dir, sequence_length):
        self.model = keras_hub.models.BertTextClassifier.from_preset(hf_dir, num_classes=2)
        self.model.preprocessor.sequence_length = sequence_length

    def run(self, texts, batch_size):
        self.model.predict(texts, batch_size=batch_size, verbose=0)

    def one(self, text):
        self.model.predict([text], batch_size=1, verbose=0)


def latencies(systems, texts, requests):
    """Milliseconds per single-text request of each system, the systems taking turns request by request."""
    for system in systems.values():  # warm-up: batch-1 tracing is not timed
        system.one(texts[0])
    times = {name: [] for name in systems}
    for i in range(requests):
        text = texts[i % len(texts)]
        for name, system in systems.items():
            start = time.perf_counter()
            system.one(text)
            times[name].append(1000 * (time.perf_counter() - start))
    return {name: {"p50_ms": round(float(np.percentile(t, 50)), 2), "p99_ms": round(float(np.percentile(t, 99)), 2),
                   "mean_ms": round(statistics.mean(t), 2)} for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2048, help="number of snippets")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--chunks", type=int, default=4, help="turns: each system runs once per chunk")
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--hf-dir", default=None, help="the MiniLM Hugging Face directory keras-hub loads "
                        "(default: the one the tfbert preset resolves to)")
    parser.add_argument("--requests", type=int, default=200, help="single-text requests per system for latency")
    parser.add_argument("--out", default=RESULT)
    args = parser.parse_args(argv)

    texts = snippets(args.n, args.data)
    keras.utils.set_random_seed(0)
    model = BertClassifier.from_preset(PRESET, num_classes=2, label_names=["rotten", "fresh"],
                                       sequence_length=512)
    hf_dir = args.hf_dir
    if hf_dir is None:
        from tfbert.checkpoints.presets import resolve_preset

        hf_dir = resolve_preset(PRESET)[0]
    lengths = [len(row) + 2 for row in model.preprocessor.tokenizer(texts).to_list()]

    export_root = tempfile.mkdtemp(prefix="tfbert_serving_bench_")
    dynamic = ServedClassifier(model.export_saved_model(os.path.join(export_root, "dynamic")))
    static = ServedClassifier(model.export_saved_model(os.path.join(export_root, "static128"), sequence_length=128))

    # The exported graph computes what the Keras model computes.
    probe = texts[:8]
    served = dynamic.fn(text=tf.constant(probe))["logits"].numpy()
    in_memory = model(model.preprocessor(probe), training=False).numpy()
    export_diff = float(np.abs(served - in_memory).max())

    hub_default_length = int(keras_hub.models.BertTextClassifier.from_preset(
        hf_dir, num_classes=2).preprocessor.sequence_length)
    systems = {
        "tfbert SavedModel (dynamic padding)": dynamic,
        "tfbert SavedModel (static 128)": static,
        "keras-hub predict (seq 512)": KerasHubClassifier(hf_dir, 512),
        "keras-hub predict (seq 128)": KerasHubClassifier(hf_dir, 128),
    }
    if hub_default_length not in (512, 128):
        systems[f"keras-hub predict (seq {hub_default_length}, its preset default)"] = \
            KerasHubClassifier(hf_dir, hub_default_length)
    for system in systems.values():  # warm-up: tracing is not timed
        system.run(texts[:args.batch], args.batch)

    seconds = {name: [] for name in systems}
    size = -(-len(texts) // args.chunks)
    load_before = os.getloadavg()
    for part in range(args.chunks):
        chunk = texts[part * size:(part + 1) * size]
        for name, system in systems.items():
            start = time.perf_counter()
            system.run(chunk, args.batch)
            seconds[name].append(time.perf_counter() - start)
            print(f"chunk {part + 1}/{args.chunks} {name}: {len(chunk) / seconds[name][-1]:.1f} sentences/s",
                  flush=True)
    latency = latencies({name: systems[name] for name in systems if "static" not in name}, texts, args.requests)
    for name, row in latency.items():
        print(f"batch 1, {name}: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms", flush=True)
    load_after = os.getloadavg()

    rates = {name: len(texts) / sum(times) for name, times in seconds.items()}
    ours = rates["tfbert SavedModel (dynamic padding)"]
    result = {
        "command": " ".join(["python benchmarks/serving.py"] + list(argv if argv is not None else sys.argv[1:])),
        "what": "end-to-end raw-text classification throughput, batch %d, sentences/s" % args.batch,
        "texts": {"source": os.path.relpath(os.path.abspath(args.data), REPO), "count": len(texts),
                  "split": "movie-grouped test split first (tfbert.data.rotten_tomatoes.movie_split)",
                  "tokens_with_specials": {"mean": statistics.mean(lengths), "max": max(lengths),
                                           "over_128": sum(n > 128 for n in lengths)}},
        "checkpoint": f"{PRESET} (all-MiniLM-L6-v2); keras-hub from the same Hugging Face directory {hf_dir}",
        "heads": "2-class heads freshly initialised on both sides (untrained; throughput does not depend on them)",
        "sentences_per_second": {name: round(rate, 2) for name, rate in rates.items()},
        "seconds_per_chunk": {name: [round(t, 3) for t in times] for name, times in seconds.items()},
        "ratio_vs_keras_hub_512": round(ours / rates["keras-hub predict (seq 512)"], 2),
        "ratio_vs_keras_hub_128": round(ours / rates["keras-hub predict (seq 128)"], 2),
        "ratio_vs_keras_hub_preset_default": round(ours / rates[next(
            (n for n in rates if "preset default" in n), "keras-hub predict (seq 512)")], 2),
        "keras_hub_preset_default_sequence_length": hub_default_length,
        "latency_batch_1": {"requests": args.requests, **latency},
        "export_vs_in_memory_max_abs_logit_diff": export_diff,
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": load_after,
                    "platform": platform.platform(), "python": platform.python_version()},
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                     "keras_hub": keras_hub.__version__, "tfbert": tfbert.__version__},
    }
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("sentences_per_second", "ratio_vs_keras_hub_512",
                                             "ratio_vs_keras_hub_128", "ratio_vs_keras_hub_preset_default",
                                             "latency_batch_1")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
