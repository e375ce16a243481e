"""Throughput of tfbert.BERT against keras_hub's BertBackbone, in one process.

Both models get the same BERT-base-shaped config (L12/H768/A12, random weights)
and the same inputs. For each dtype policy the script times, in interleaved
repeats so that background load hits both sides alike:
  - inference: `model.predict_on_batch` on a [batch, seq_len] input;
  - training: `model.fit` steps of a classifier (pooled output -> Dense(2)).
It prints sequences/s (median over repeats after warm-up) and tfbert/keras-hub.

Run:  python benchmarks/throughput.py            # BERT-base, batch 8, seq 128
      python benchmarks/throughput.py --layers 2 --hidden 128 --repeats 3   # quick
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tfbert  # noqa: E402  (sets KERAS_BACKEND)
import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

INPUTS = ("token_ids", "segment_ids", "padding_mask")


def make_inputs(batch, seq_len, vocab, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(seq_len // 2, seq_len + 1, batch)
    mask = (np.arange(seq_len)[None] < lengths[:, None]).astype("int32")
    return {
        "token_ids": (rng.integers(1000, vocab, (batch, seq_len)) * mask).astype("int32"),
        "segment_ids": np.zeros((batch, seq_len), "int32"),
        "padding_mask": mask,
    }


def classifier(backbone, name, jit_compile):
    inputs = {k: keras.Input((None,), dtype="int32", name=k) for k in INPUTS}
    logits = keras.layers.Dense(2, name="logits")(backbone(inputs)["pooled_output"])
    model = keras.Model(inputs, logits, name=name)
    model.compile(keras.optimizers.Adam(1e-5),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit_compile)
    return model


def build_pair(args):
    config = tfbert.BertConfig(
        hidden_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.hidden // 64, intermediate_size=4 * args.hidden,
        hidden_act="gelu_approximate",  # keras-hub's activation, so both do the same work
    )
    ours = tfbert.BERT(config)
    theirs = keras_hub.models.BertBackbone(
        vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads, hidden_dim=config.hidden_size,
        intermediate_dim=config.intermediate_size, max_sequence_length=config.max_position_embeddings,
    )
    return {"tfbert": classifier(ours, "tfbert_cls", args.jit_compile),
            "keras_hub": classifier(theirs, "keras_hub_cls", args.jit_compile)}


def time_call(fn, n):
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def run_policy(policy, args):
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    models = build_pair(args)
    x = make_inputs(args.batch, args.seq_len, 30522)
    y = np.arange(args.batch) % 2
    train_ds = tf.data.Dataset.from_tensors((x, y)).repeat()
    jobs = {
        "inference": {name: (lambda m=m: m.predict_on_batch(x)) for name, m in models.items()},
        "training": {name: (lambda m=m: m.fit(train_ds, steps_per_epoch=args.steps, epochs=1, verbose=0))
                     for name, m in models.items()},
    }
    results = {}
    for job, fns in jobs.items():
        per_call = {name: [] for name in fns}
        for fn in fns.values():  # warm-up: tracing and first-run allocation
            fn()
        for _ in range(args.repeats):
            for name, fn in fns.items():  # interleaved, so background load affects both
                per_call[name].append(time_call(fn, 1 if job == "training" else args.steps))
        seqs = args.batch * (args.steps if job == "training" else 1)
        results[job] = {name: seqs / statistics.median(t) for name, t in per_call.items()}
    keras.config.set_dtype_policy("float32")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per cell (median is reported)")
    parser.add_argument("--steps", type=int, default=2, help="batches per timed repeat")
    parser.add_argument("--policies", default="float32,mixed_bfloat16")
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile both models with XLA (default: Keras' 'auto', which is off on CPU)")
    parser.add_argument("--json", help="also write the table to this JSON file")
    args = parser.parse_args(argv)

    rows = []
    for policy in args.policies.split(","):
        for job, seqs in run_policy(policy, args).items():
            rows.append({"policy": policy, "job": job, "tfbert": seqs["tfbert"], "keras_hub": seqs["keras_hub"],
                         "ratio": seqs["tfbert"] / seqs["keras_hub"]})
    print(f"L{args.layers}/H{args.hidden}, batch {args.batch}, seq {args.seq_len}, "
          f"jit_compile={args.jit_compile}, median of {args.repeats} repeats, {os.cpu_count()} CPU cores, TF {tf.__version__}")
    print("| policy | job | tfbert seq/s | keras-hub seq/s | tfbert / keras-hub |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['policy']} | {r['job']} | {r['tfbert']:.2f} | {r['keras_hub']:.2f} | {r['ratio']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
