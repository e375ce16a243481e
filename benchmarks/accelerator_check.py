"""Accelerator check, ready to run on a GPU machine: throughput, --strategy mirrored, serving on the GPU.

CI never needs a GPU and this script is not part of the tests. On a machine with
one or more GPUs it measures, in one run (interleaved repeats, so that the same
background load hits both sides of every ratio):

1. fine-tuning and inference throughput of a classifier, tfbert against keras-hub's
   BertBackbone, for float32, mixed_float16 and mixed_bfloat16, with and without
   XLA (``benchmarks/throughput.py``'s measurement, BERT-base shapes by default);
2. pretraining throughput (``BertPretrainer``, masked-LM + NSP) for each policy,
   with and without XLA;
3. ``--strategy mirrored`` over all GPUs (``tfbert.distribute.get_strategy``, each
   GPU a replica of the global batch) against one GPU, examples/s and the ratio;
4. serving: a classifier exported with ``tfbert.export.export_saved_model``,
   reloaded, and its ``serving_default`` (raw strings in) timed on the GPU.

Everything uses random weights and a synthetic vocabulary, so the GPU machine
needs no network. Results print as markdown tables and go to ``--json``.

Run:  python benchmarks/accelerator_check.py --json accelerator.json
      python benchmarks/accelerator_check.py --quick --allow-cpu   # smoke test without a GPU (figures meaningless)
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import tfbert  # noqa: E402  (sets KERAS_BACKEND)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def median_rate(fn, items, repeats):
    fn()  # warm-up: tracing, compilation, first allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return items / statistics.median(times)


def model_inputs(batch, seq_len, vocab, rng):
    mask = (np.arange(seq_len)[None] < rng.integers(seq_len // 2, seq_len + 1, batch)[:, None]).astype("int32")
    return {"token_ids": (rng.integers(5, vocab, (batch, seq_len)) * mask).astype("int32"),
            "segment_ids": np.zeros((batch, seq_len), "int32"), "padding_mask": mask}


def config_for(args):
    if args.quick:
        return tfbert.BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=128)
    return tfbert.BertConfig.from_preset_size(args.size)


# ---- 1. fine-tuning / inference against keras-hub -------------------------------------------------
def finetune_vs_keras_hub(args):
    import throughput  # benchmarks/throughput.py: the same measurement the README's CPU table uses

    config = config_for(args)
    rows = []
    for xla in (False, True):
        argv = ["--layers", str(config.num_hidden_layers), "--hidden", str(config.hidden_size),
                "--batch", str(args.batch), "--seq-len", str(args.seq_len), "--repeats", str(args.repeats),
                "--steps", str(args.steps), "--policies", ",".join(POLICIES)] + (["--jit-compile"] if xla else [])
        rows += [{**row, "xla": xla} for row in throughput.main(argv)]
    return rows


# ---- 2. pretraining -------------------------------------------------------------------------------
def pretraining(args):
    from tfbert.tasks.pretrainer import BertPretrainer

    rows = []
    config = config_for(args)
    rng = np.random.default_rng(0)
    x = model_inputs(args.batch, args.seq_len, config.vocab_size, rng)
    x["mask_positions"] = rng.integers(1, args.seq_len // 2, (args.batch, 20)).astype("int32")
    y = {"mask_ids": rng.integers(5, config.vocab_size, (args.batch, 20)).astype("int32"),
         "mask_weights": np.ones((args.batch, 20), "float32"),
         "next_sentence_label": rng.integers(0, 2, args.batch).astype("int32")}
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    for policy in POLICIES:
        for xla in (False, True):
            keras.config.set_dtype_policy(policy)
            keras.utils.set_random_seed(0)
            model = BertPretrainer(tfbert.BERT(config))
            model.compile(learning_rate=1e-4, jit_compile=xla)
            rate = median_rate(lambda: model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0),
                               args.batch * args.steps, args.repeats)
            rows.append({"policy": policy, "xla": xla, "examples_per_s": rate})
    keras.config.set_dtype_policy("float32")
    return rows


# ---- 3. --strategy mirrored over all GPUs ---------------------------------------------------------
def mirrored(args, gpus):
    from tfbert.distribute import distribute_batches, get_strategy
    from tfbert.tasks import BertClassifier

    config = config_for(args)
    rng = np.random.default_rng(0)
    strategies = {"one_device": tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0"),
                  "mirrored": get_strategy("mirrored")}
    replicas = strategies["mirrored"].num_replicas_in_sync
    global_batch = args.batch * replicas  # the same per-device batch on both sides
    x = model_inputs(global_batch, args.seq_len, config.vocab_size, rng)
    y = rng.integers(0, 2, global_batch).astype("int32")
    jobs = {}
    for name, strategy in strategies.items():
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = BertClassifier(tfbert.BERT(config), num_classes=2)
            model.compile(learning_rate=1e-5, jit_compile=False)
        batch = global_batch if name == "mirrored" else args.batch
        data = distribute_batches(strategy, lambda b=batch: tf.data.Dataset.from_tensors(
            (tf.nest.map_structure(lambda t: t[:b], x), y[:b])).repeat())
        jobs[name] = (model, data, batch)
    rates = {name: [] for name in jobs}
    for model, data, _ in jobs.values():
        model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0)
    for _ in range(args.repeats):
        for name, (model, data, batch) in jobs.items():
            start = time.perf_counter()
            model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0)
            rates[name].append(batch * args.steps / (time.perf_counter() - start))
    one, many = (statistics.median(rates[n]) for n in ("one_device", "mirrored"))
    return {"replicas": replicas, "per_replica_batch": args.batch, "one_device_examples_per_s": one,
            "mirrored_examples_per_s": many, "speedup": many / one}


# ---- 4. serving an export on the GPU ---------------------------------------------------------------
def serving(args, gpus):
    from tfbert.export import export_saved_model
    from tfbert.preprocessing import BertPreprocessor, BertTokenizer
    from tfbert.tasks import BertClassifier

    config = config_for(args)
    words = [f"w{i}" for i in range(config.vocab_size - 5)]
    tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words)
    model = BertClassifier(tfbert.BERT(config), num_classes=2,
                           preprocessor=BertPreprocessor(tokenizer, sequence_length=args.seq_len))
    folder = tempfile.mkdtemp(prefix="tfbert-accelerator-")
    path = export_saved_model(model, os.path.join(folder, "export"))
    reloaded = tf.saved_model.load(str(path))
    fn = reloaded.signatures["serving_default"]
    rng = np.random.default_rng(0)
    texts = tf.constant([" ".join(rng.choice(words, args.seq_len // 2)) for _ in range(args.batch)])
    with tf.device("/gpu:0" if gpus else "/cpu:0"):
        rate = median_rate(lambda: [fn(text=texts) for _ in range(args.steps)], args.batch * args.steps, args.repeats)
        probabilities = fn(text=texts)["probabilities"]
    return {"device": probabilities.device, "texts_per_s": rate, "export": str(path)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="base", help="BERT size for every section (default: base)")
    parser.add_argument("--batch", type=int, default=32, help="per-device batch")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="steps (or calls) per timed repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sections", default="finetune,pretrain,mirrored,serving")
    parser.add_argument("--quick", action="store_true", help="tiny model and few steps")
    parser.add_argument("--allow-cpu", action="store_true", help="run without a GPU (a smoke test of the script)")
    parser.add_argument("--json", help="write all results to this JSON file")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.seq_len, args.steps, args.repeats = 4, 32, 2, 1
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not args.allow_cpu:
        print("accelerator_check: no GPU is visible to TensorFlow (tf.config.list_physical_devices('GPU') is "
              "empty); run it on a GPU machine, or pass --allow-cpu for a smoke test.", file=sys.stderr)
        return 2
    results = {"gpus": [g.name for g in gpus], "tensorflow": tf.__version__, "keras": keras.__version__,
               "args": vars(args)}
    sections = args.sections.split(",")
    if "finetune" in sections:
        results["finetune"] = finetune_vs_keras_hub(args)
    if "pretrain" in sections:
        results["pretrain"] = pretraining(args)
        print("| policy | XLA | pretraining examples/s |\n|---|---|---|")
        for row in results["pretrain"]:
            print(f"| {row['policy']} | {row['xla']} | {row['examples_per_s']:.1f} |")
    if "mirrored" in sections:
        results["mirrored"] = mirrored(args, gpus)
        m = results["mirrored"]
        print(f"mirrored over {m['replicas']} device(s): {m['mirrored_examples_per_s']:.1f} examples/s against "
              f"{m['one_device_examples_per_s']:.1f} on one ({m['speedup']:.2f}x)")
    if "serving" in sections:
        results["serving"] = serving(args, gpus)
        print(f"serving_default on {results['serving']['device']}: {results['serving']['texts_per_s']:.1f} texts/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
