"""Time to accuracy, the user's view: fine-tune MiniLM on SST-2 with tfbert and with keras-hub.

Each system runs as a whole job in its own fresh Python process, the way a user waits for it:
interpreter start, imports, loading the checkpoint, one epoch over the same training sentences,
and scoring the same held-out sentences. The parent times each child from start to exit and
reads its peak resident memory (``ru_maxrss`` of ``os.wait4``), so memory is per system.

- tfbert, the README's Python API: ``BertClassifier.from_preset("minilm_l6_en_uncased",
  num_classes=2, sequence_length=64)``, ``data.classification_dataset(train, clf.preprocessor,
  batch_size=32, shuffle=True, seed=0)``, ``compile(learning_rate=5e-5, num_train_steps=...)``
  (AdamW, warmup and linear decay), ``fit(..., epochs=1)``; dtype policy ``--tfbert-policy``.
- keras-hub, its documented path: ``BertTextClassifier.from_preset(<MiniLM HF dir>,
  num_classes=2)`` with its preprocessor at ``sequence_length=64``, ``compile`` with AdamW 5e-5
  and sparse cross-entropy, ``fit`` on the raw strings, batch 32, 1 epoch.
Data: SST-2 ``train.tsv`` from the shared data folder; 12% of its whole sentences are held out
(their phrases removed from training; seed 0) and ``--train`` examples (default 16,000) of the
rest are drawn with seed 0. The parent writes both files once; both children read them.

Run:  python benchmarks/time_to_accuracy.py --quick     # smoke test: 256 sentences, ~3 minutes
      python benchmarks/time_to_accuracy.py --json benchmarks/results/time_to_accuracy.json
"""

import os
import sys

# The repository root first, so that the script measures this checkout's tfbert.
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

PRESET = "minilm_l6_en_uncased"
DATA = os.path.join(REPO, "..", "shared", "data", "sst2", "train.tsv")
SYSTEMS = ("tfbert", "keras_hub")


# ---- parent: data once, one child process per system ------------------------------------------
def write_splits(args, work):
    """Hold out whole SST-2 sentences, draw the training sample; write both as TSV in ``work``."""
    from tfbert.data.glue import read_sst2
    from tfbert.data.splits import sentence_holdout_split

    if not os.path.exists(args.data):
        sys.exit(f"SST-2 not found at {args.data}; pass --data PATH/TO/sst2/train.tsv")
    train, held = sentence_holdout_split(read_sst2(args.data), 0.12, seed=0)
    available = len(train)
    train = train.sample(min(args.train, len(train)), seed=0)
    if args.held_out:
        held = held.sample(min(args.held_out, len(held)), seed=0)
    for name, split in (("train", train), ("held_out", held)):
        with open(os.path.join(work, f"{name}.tsv"), "w", encoding="utf-8") as f:
            f.write("sentence\tlabel\n")
            for text, label in zip(split.texts, split.labels):
                f.write(f"{text}\t{int(label)}\n")
    return {"train_examples": len(train), "train_available": available, "held_out_examples": len(held)}


def run_child(system, args, work):
    """Run one system's whole job in a fresh process; its result with wall seconds and peak RSS."""
    out = os.path.join(work, f"{system}.json")
    cmd = [sys.executable, os.path.abspath(__file__), "--child", system, "--work", work,
           "--seq-len", str(args.seq_len), "--batch-size", str(args.batch_size),
           "--learning-rate", str(args.learning_rate), "--tfbert-policy", args.tfbert_policy]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)}
    start = time.perf_counter()
    child = subprocess.Popen(cmd, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"the {system} job failed with exit code {child.returncode} (its output is above)")
    with open(out, encoding="utf-8") as f:
        result = json.load(f)
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {**result, "wall_seconds": round(wall, 1), "peak_rss_mib": round(rss / 2**20, 1),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1)}


# ---- children: each system's documented path ---------------------------------------------------
def read_split(work, name):
    import csv

    with open(os.path.join(work, f"{name}.tsv"), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["sentence"] for r in rows], [int(r["label"]) for r in rows]


def held_out_accuracy(clf, held, batch_size=64):
    """Accuracy of a tfbert classifier on ``ClassificationData``, through tfbert's own batching.

    The dataset is bucketed by length, which reorders the examples, so the labels are taken
    batch by batch beside the predictions.
    """
    import numpy as np

    from tfbert import data

    labels, predicted = [], []
    for inputs, y in data.classification_dataset(held, clf.preprocessor, batch_size=batch_size):
        predicted.append(np.argmax(clf.predict_on_batch(inputs), axis=-1))
        labels.append(y.numpy())
    return float(np.mean(np.concatenate(predicted) == np.concatenate(labels)))


def tfbert_job(args):
    import keras

    import tfbert
    from tfbert import data
    from tfbert.data.glue import read_sst2

    keras.utils.set_random_seed(0)
    if args.tfbert_policy != "float32":
        from tfbert.precision import choose_policy

        policy, reason = choose_policy(args.tfbert_policy)
        print(f"tfbert: dtype policy {policy} ({reason})", flush=True)
        keras.config.set_dtype_policy(policy)
    loaded = time.perf_counter()
    clf = tfbert.BertClassifier.from_preset(PRESET, num_classes=2, sequence_length=args.seq_len)
    train = read_sst2(os.path.join(args.work, "train.tsv"))
    ds = data.classification_dataset(train, clf.preprocessor, batch_size=args.batch_size, shuffle=True, seed=0)
    clf.compile(learning_rate=args.learning_rate, num_train_steps=len(ds))
    fit_start = time.perf_counter()
    clf.fit(ds, epochs=1, verbose=2)
    score_start = time.perf_counter()
    accuracy = held_out_accuracy(clf, read_sst2(os.path.join(args.work, "held_out.tsv")))
    return {"accuracy": accuracy, "policy": keras.config.dtype_policy().name,
            "load_seconds": fit_start - loaded, "fit_seconds": score_start - fit_start,
            "score_seconds": time.perf_counter() - score_start}


def keras_hub_job(args):
    import keras
    import keras_hub
    import numpy as np

    from tfbert.checkpoints.presets import resolve_preset

    keras.utils.set_random_seed(0)
    hf_dir = resolve_preset(PRESET)[0]  # the same all-MiniLM-L6-v2 Hugging Face directory
    loaded = time.perf_counter()
    clf = keras_hub.models.BertTextClassifier.from_preset(hf_dir, num_classes=2)
    clf.preprocessor.sequence_length = args.seq_len
    clf.compile(optimizer=keras.optimizers.AdamW(args.learning_rate),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    texts, labels = read_split(args.work, "train")
    fit_start = time.perf_counter()
    clf.fit(x=np.array(texts), y=np.array(labels), batch_size=args.batch_size, epochs=1, verbose=2)
    score_start = time.perf_counter()
    held_texts, held_labels = read_split(args.work, "held_out")
    logits = clf.predict(np.array(held_texts), batch_size=args.batch_size, verbose=0)
    predicted = np.argmax(logits, axis=-1)
    return {"accuracy": float(np.mean(predicted == np.array(held_labels))), "policy": keras.config.dtype_policy().name,
            "load_seconds": fit_start - loaded, "fit_seconds": score_start - fit_start,
            "score_seconds": time.perf_counter() - score_start}


def child_main(args):
    import tfbert  # noqa: F401  (sets KERAS_BACKEND before keras is imported)
    from tfbert.fileio import atomic_write_text

    result = {"tfbert": tfbert_job, "keras_hub": keras_hub_job}[args.child](args)
    result = {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}
    atomic_write_text(os.path.join(args.work, f"{args.child}.json"), json.dumps(result) + "\n")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DATA, help="SST-2 train.tsv (default: the shared data folder)")
    parser.add_argument("--train", type=int, default=16000, help="training sentences (seeded sample)")
    parser.add_argument("--held-out", type=int, default=0, help="score at most this many held-out sentences (0: all)")
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--tfbert-policy", default="float32", choices=("auto", "float32", "mixed_bfloat16"),
                        help="tfbert's dtype policy (keras-hub runs its float32 default)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated, from {list(SYSTEMS)}")
    parser.add_argument("--quick", action="store_true", help="smoke test: 256 training and 128 held-out sentences")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--child", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args)
    if args.quick:
        args.train, args.held_out = 256, 128
    systems = args.systems.split(",")
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown system(s) {unknown}; expected names from {list(SYSTEMS)}")

    with tempfile.TemporaryDirectory(prefix="tfbert_tta_") as work:
        sizes = write_splits(args, work)
        load_start = os.getloadavg()[0]
        results = {system: run_child(system, args, work) for system in systems}
    print(f"SST-2: {sizes['train_examples']} training sentences, {sizes['held_out_examples']} held out; "
          f"{os.cpu_count()} CPU cores, load average {load_start:.1f} -> {os.getloadavg()[0]:.1f}")
    print("| system | policy | held-out accuracy | whole job s | fit s | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for system, r in results.items():
        print(f"| {system} | {r['policy']} | {r['accuracy']:.4f} | {r['wall_seconds']:.1f} | {r['fit_seconds']:.1f} "
              f"| {r['peak_rss_mib']:.0f} |")
    if len(results) == 2:
        print(f"keras-hub / tfbert whole-job seconds: "
              f"{results['keras_hub']['wall_seconds'] / results['tfbert']['wall_seconds']:.2f}x")
    if args.json:
        from tfbert.fileio import atomic_write_text

        given = sys.argv[1:] if argv is None else argv
        record = {"command": "python benchmarks/time_to_accuracy.py " + " ".join(given),
                  "settings": vars(args), **sizes, "cpu_cores": os.cpu_count(), "results": results}
        atomic_write_text(args.json, json.dumps(record, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
