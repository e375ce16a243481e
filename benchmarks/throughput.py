"""Step time of tfbert.BERT against keras_hub's BertBackbone, and both against the machine's matmul peak.

Both systems get the same config (random weights, tanh GELU on both sides, since keras-hub's
BertBackbone hard-codes the tanh approximation), the same inputs and the same head (a Dense(2)
on the pooled output). For each shape and dtype policy the script runs, per system:
  - training: `fit` on a repeated batch; a callback times every step (on_train_batch_begin ->
    on_train_batch_end), so fit's fixed cost per call (iterator, callbacks, epoch bookkeeping)
    is not in the figure;
  - inference: `predict` over a repeated batch, each step timed the same way (on_predict_batch_*).
Steps are run in chunks that alternate between the two systems (A B, B A, A B, ...), so background
load hits both alike; the first step of every chunk and a whole warm-up chunk per system are dropped,
and the median step time is reported, with the median of the per-round paired ratios beside it
(the steadier figure when the machine is shared).

Roofline: the matmul FLOPs of one step are counted analytically (projections, attention
products, feed-forward, pooler and head; training = 3x forward) and divided by the step time; the
result is given as a fraction of the machine's matmul peak, measured in the same run with a plain
`tf.matmul` of 2048^3 in float32 (float32 policy) or bfloat16 (mixed_bfloat16 policy), a few
timings of which are taken between every pair of chunks.

With ``--against REF`` the second system is tfbert itself at the git commit REF (its ``tfbert``
package, exported with ``git archive`` and imported under another name, weights copied from the
first), so one run gives the before/after ratio of a change on the same machine and load.

Run:  python benchmarks/throughput.py                 # BERT-base (8 x 128) and MiniLM-L6 (32 x 64)
      python benchmarks/throughput.py --quick         # MiniLM shape only, fewer steps: ~2 minutes
      python benchmarks/throughput.py --json benchmarks/results/throughput.json
      python benchmarks/throughput.py --against HEAD~1 --quick   # this checkout vs its parent commit
"""

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time

# The repository root first, so that the script measures this checkout's tfbert.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(_HERE))

import tfbert  # noqa: E402  (sets KERAS_BACKEND)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

INPUTS = ("token_ids", "segment_ids", "padding_mask")
VOCAB = 30522

# name -> (layers, hidden, heads, intermediate, batch, seq_len)
SHAPES = {
    "bert_base": (12, 768, 12, 3072, 8, 128),
    "minilm_l6": (6, 384, 12, 1536, 32, 64),
}
PEAK_N = 2048


def step_flops(layers, hidden, intermediate, batch, seq_len, num_classes=2, training=False):
    """Matmul FLOPs of one step (2 per multiply-add); training counts 3x the forward pass.

    Per layer: Q, K, V and output projections (4 T H^2), feed-forward (2 T H I), and the two
    attention products QK^T and PV (2 B S^2 H); T = B S tokens. Then pooler and head on [B, H].

    >>> step_flops(1, 2, 4, 1, 3, num_classes=1)  # 2*(3*(4*4 + 2*2*4) + 2*9*2) + 2*2*2 + 2*2*1
    276
    """
    tokens = batch * seq_len
    per_layer = 2 * (tokens * (4 * hidden * hidden + 2 * hidden * intermediate) + 2 * batch * seq_len**2 * hidden)
    forward = layers * per_layer + 2 * batch * hidden * hidden + 2 * batch * hidden * num_classes
    return 3 * forward if training else forward


class StepTimer(keras.callbacks.Callback):
    """Wall time of every train / predict step, from its batch_begin to its batch_end callback.

    The logs are read as Python numbers at batch end (Keras does that for non-async callbacks),
    so the step has finished when the clock stops. With steps_per_execution k, one callback pair
    brackets k steps; the time recorded is per step (elapsed / k).
    """

    def __init__(self):
        super().__init__()
        self.train_times, self.predict_times = [], []
        self._start = None
        self._begin = 0

    def _open(self, batch):
        self._begin = batch
        self._start = time.perf_counter()

    def _close(self, batch, logs, out):
        if logs:  # make sure the values exist (forces any async work to finish)
            keras.tree.map_structure(lambda v: np.asarray(v), logs)
        steps = max(1, batch - self._begin + 1)
        out.append((time.perf_counter() - self._start) / steps)

    def on_train_batch_begin(self, batch, logs=None):
        self._open(batch)

    def on_train_batch_end(self, batch, logs=None):
        self._close(batch, logs, self.train_times)

    def on_predict_batch_begin(self, batch, logs=None):
        self._open(batch)

    def on_predict_batch_end(self, batch, logs=None):
        self._close(batch, logs, self.predict_times)


def make_inputs(batch, seq_len, vocab=VOCAB, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(seq_len // 2, seq_len + 1, batch)
    mask = (np.arange(seq_len)[None] < lengths[:, None]).astype("int32")
    return {
        "token_ids": (rng.integers(1000, vocab, (batch, seq_len)) * mask).astype("int32"),
        "segment_ids": np.zeros((batch, seq_len), "int32"),
        "padding_mask": mask,
    }


def classifier(backbone, name, jit_compile, steps_per_execution):
    inputs = {k: keras.Input((None,), dtype="int32", name=k) for k in INPUTS}
    logits = keras.layers.Dense(2, name="logits")(backbone(inputs)["pooled_output"])
    model = keras.Model(inputs, logits, name=name)
    model.compile(keras.optimizers.Adam(1e-5), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    return model


@functools.lru_cache(maxsize=None)
def import_tfbert_at(ref):
    """tfbert as it was at git commit ``ref``, imported as the package ``tfbert_ref``."""
    import importlib
    import re
    import subprocess
    import tarfile
    import tempfile

    root = tempfile.mkdtemp(prefix="tfbert_ref_")
    archive = os.path.join(root, "ref.tar")
    subprocess.run(["git", "-C", os.path.dirname(_HERE), "archive", "-o", archive, ref, "tfbert"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    os.rename(os.path.join(root, "tfbert"), os.path.join(root, "tfbert_ref"))
    for folder, _, files in os.walk(os.path.join(root, "tfbert_ref")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                with open(path, "w", encoding="utf-8") as f:  # imports and the Keras registration package
                    f.write(re.sub(r"\btfbert\b", "tfbert_ref", text))
    sys.path.insert(0, root)
    return importlib.import_module("tfbert_ref")


def build_pair(shape, args):
    """{"tfbert": this checkout's classifier, "reference": keras-hub's (or tfbert@REF's)}."""
    layers, hidden, heads, intermediate, _, _ = shape
    fields = dict(
        vocab_size=VOCAB, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=intermediate,
        hidden_act="gelu_approximate",  # keras-hub's BertBackbone always uses the tanh GELU
    )
    ours = tfbert.BERT(tfbert.BertConfig(**fields))
    if args.against:
        ref = import_tfbert_at(args.against)
        theirs = ref.BERT(ref.BertConfig(**fields))
        theirs.set_weights(ours.get_weights())
    else:
        import keras_hub

        theirs = keras_hub.models.BertBackbone(
            vocabulary_size=VOCAB, num_layers=layers, num_heads=heads, hidden_dim=hidden,
            intermediate_dim=intermediate, max_sequence_length=ours.config.max_position_embeddings,
        )
    spe = args.steps_per_execution
    return {"tfbert": classifier(ours, "tfbert_cls", args.jit_compile, spe),
            "reference": classifier(theirs, "reference_cls", args.jit_compile, spe)}


def matmul_peak_timer(dtype):
    """A function returning the seconds of one [2048, 2048] @ [2048, 2048] matmul in ``dtype``."""
    a = tf.random.normal((PEAK_N, PEAK_N), dtype="float32", seed=1)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
    fn = tf.function(lambda x, y: tf.matmul(x, y))
    fn(a, b).numpy()  # trace and warm up

    def once():
        start = time.perf_counter()
        fn(a, b).numpy()
        return time.perf_counter() - start

    return once


def run_cell(shape_name, policy, args):
    """Interleaved per-step timings of both systems for one shape and policy."""
    shape = SHAPES[shape_name]
    layers, hidden, _, intermediate, batch, seq_len = shape
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    try:
        models = build_pair(shape, args)
    finally:
        keras.config.set_dtype_policy("float32")
    x = make_inputs(batch, seq_len)
    y = (np.arange(batch) % 2).astype("int32")
    spe = args.steps_per_execution
    chunk = args.chunk * spe  # steps per fit / predict call
    train_ds = tf.data.Dataset.from_tensors((x, y)).repeat()
    predict_ds = tf.data.Dataset.from_tensors(x).repeat(chunk)
    peak = matmul_peak_timer("bfloat16" if "bfloat16" in policy else "float32")
    peak_times = [peak() for _ in range(2)]

    times = {job: {name: [] for name in models} for job in ("training", "inference")}
    for job in ("training", "inference"):
        for round_ in range(args.rounds + 1):  # round 0 is warm-up: tracing, first allocations
            order = list(models.items())
            for name, model in order if round_ % 2 else order[::-1]:  # A B, B A, A B, ...
                timer = StepTimer()
                if job == "training":
                    model.fit(train_ds, steps_per_epoch=chunk, epochs=1, verbose=0, callbacks=[timer],
                              shuffle=False)
                    steps = timer.train_times
                else:
                    model.predict(predict_ds, verbose=0, callbacks=[timer])
                    steps = timer.predict_times
                if round_:
                    times[job][name].append(steps[1:])  # the chunk's first step waits on the iterator
            if round_:
                peak_times.extend(peak() for _ in range(args.peak_repeats))

    peak_flops = 2 * PEAK_N**3 / statistics.median(peak_times)
    rows = []
    for job, per_system in times.items():
        flops = step_flops(layers, hidden, intermediate, batch, seq_len, training=job == "training")
        row = {"shape": shape_name, "policy": policy, "job": job, "batch": batch, "seq_len": seq_len,
               "step_gflop": flops / 1e9, "peak_gflops": peak_flops / 1e9}
        for name, chunks in per_system.items():
            t = [s for c in chunks for s in c]
            step = statistics.median(t)
            row[name] = {"step_s": step, "best_step_s": min(t), "seq_per_s": batch / step,
                         "gflops": flops / step / 1e9, "of_peak": flops / step / peak_flops, "steps": t}
        row["steps_timed"] = len(row["tfbert"]["steps"])
        row["reference_name"] = reference_name(args)
        row["speedup"] = row["reference"]["step_s"] / row["tfbert"]["step_s"]
        # Each reference chunk ran right beside its tfbert chunk: the median of the paired ratios
        # cancels load that changes between chunks (robust on a shared machine).
        row["paired_speedup"] = statistics.median(
            statistics.median(b) / statistics.median(a) for a, b in zip(per_system["tfbert"], per_system["reference"]))
        rows.append(row)
    return rows


def machine():
    flags = set()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags.update(line.split(":", 1)[1].split())
                    break
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16")
    return {"cpu_cores": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
            "cpu_flags": [f for f in wanted if f in flags], "tensorflow": tf.__version__,
            "keras": keras.__version__, "load_average_start": os.getloadavg()}


def reference_name(args):
    return f"tfbert@{args.against}" if args.against else "keras-hub"


def table(rows):
    ref = rows[0]["reference_name"]
    lines = [f"| shape | policy | job | tfbert s/step | {ref} s/step | tfbert / {ref} speed (paired) "
             f"| tfbert % of peak | {ref} % of peak | matmul peak GFLOP/s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        shape = f"{r['shape']} ({r['batch']} x {r['seq_len']})"
        lines.append(
            f"| {shape} | {r['policy']} | {r['job']} | {r['tfbert']['step_s']:.3f} | {r['reference']['step_s']:.3f} "
            f"| {r['speedup']:.2f}x ({r['paired_speedup']:.2f}x) "
            f"| {100 * r['tfbert']['of_peak']:.0f}% | {100 * r['reference']['of_peak']:.0f}% "
            f"| {r['peak_gflops']:.0f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, from {list(SHAPES)}")
    parser.add_argument("--policies", default="float32,mixed_bfloat16")
    parser.add_argument("--rounds", type=int, default=4, help="timed chunks per system (after one warm-up chunk)")
    parser.add_argument("--chunk", type=int, default=4, help="steps per chunk (the first of each is dropped)")
    parser.add_argument("--peak-repeats", type=int, default=3, help="matmul-peak timings between chunks")
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile both models with XLA (default: Keras' 'auto', which is off on CPU)")
    parser.add_argument("--against", metavar="REF",
                        help="compare with tfbert at git commit REF instead of keras-hub (a before/after ratio)")
    parser.add_argument("--quick", action="store_true",
                        help="a check in ~2 minutes: MiniLM shape only, 2 rounds of 3 steps")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.shapes, args.rounds, args.chunk, args.peak_repeats = "minilm_l6", 2, 3, 2
    unknown = [s for s in args.shapes.split(",") if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {unknown}; expected names from {list(SHAPES)}")
    if args.chunk < 2:
        parser.error("--chunk must be at least 2 (the first step of each chunk is dropped)")

    info = machine()
    rows = []
    for shape in args.shapes.split(","):
        for policy in args.policies.split(","):
            rows.extend(run_cell(shape, policy, args))
    info["load_average_end"] = os.getloadavg()
    print(f"{info['cpu_cores']} CPU cores ({', '.join(info['cpu_flags'])}), TF {info['tensorflow']}, "
          f"load average {info['load_average_start'][0]:.1f} -> {info['load_average_end'][0]:.1f}; "
          f"median step of {rows[0]['steps_timed']} per cell, jit_compile={args.jit_compile}, "
          f"steps_per_execution={args.steps_per_execution}")
    print(table(rows))
    if args.json:
        from tfbert.fileio import atomic_write_text

        atomic_write_text(args.json, json.dumps({"args": vars(args), "machine": info, "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
