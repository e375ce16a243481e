"""Fine-tune the MiniLM checkpoint on real data and report held-out scores.

One function per task, registered in ``TASKS``; each writes
``benchmarks/results/finetune_<task>.json`` (scores, wall time, settings) and
prints the same. Every run is seeded (``--seed``, default 0) and reads
``../shared/data`` (``--data-dir``). Validation splits are cut from the
training files; nothing here is tuned on the splits that get reported.

Tasks:
  ner    CoNLL-2003 English NER: train on train.txt (minus a held-out 10% of
         its documents used for checks), report conlleval entity F1 on
         valid.txt.
  squad  SQuAD v1.1 extractive QA on dev articles 0-37: train on articles
         0-29, report official EM/F1 on the held-out articles 30-37.

  sst2, rotten_tomatoes, mrpc, chnsenticorp   sentence (pair) classification;
         see benchmarks/classification_tasks.py for data and splits.

Run (2 CPU cores, one task at a time):
  python benchmarks/finetune.py ner
  python benchmarks/finetune.py squad
  python benchmarks/finetune.py ner --max-steps 20 --no-save   # speed probe
"""

import os
import sys


import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import tfbert  # noqa: E402  (sets KERAS_BACKEND)
import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfbert.fileio import atomic_write_text  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
DEFAULT_DATA = os.path.join(ROOT, "..", "shared", "data")
DEFAULT_PRESET = "minilm_l6_en_uncased"


# ---------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------
def data_path(args, *parts):
    path = os.path.join(args.data_dir, *parts)
    if not os.path.exists(path):
        sys.exit(f"Missing data file {path}; pass --data-dir pointing at the shared data folder.")
    return path


def load_tokenizer(preset):
    from tfbert.preprocessing.tokenizer import BertTokenizer

    return BertTokenizer.from_preset(preset)


def load_backbone(preset, dropout=None):
    overrides = {} if dropout is None else {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
    return tfbert.BERT.from_preset(preset, **overrides)


class Timer(keras.callbacks.Callback):
    """Training steps per second, measured after the first (tracing) step."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())

    def steps_per_second(self):
        if len(self.times) < 3:
            return None
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])


class Progress(keras.callbacks.Callback):
    """A line every ``every`` steps (``verbose=2`` alone prints only at epoch ends)."""

    def __init__(self, every, total):
        super().__init__()
        self.every, self.total, self.start, self.step = every, total, time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every == 0:
            elapsed = time.perf_counter() - self.start
            print(f"  step {self.step}/{self.total}  loss {logs.get('loss', float('nan')):.4f}  {elapsed:.0f} s",
                  flush=True)


def fit(model, dataset, args, steps_per_epoch, timer):
    total = args.max_steps or steps_per_epoch * args.epochs
    callbacks = [timer, Progress(args.log_every, total)]
    if args.max_steps:
        return model.fit(dataset.repeat(), epochs=1, steps_per_epoch=args.max_steps, callbacks=callbacks,
                         verbose=args.verbose, shuffle=False)
    return model.fit(dataset, epochs=args.epochs, callbacks=callbacks, verbose=args.verbose, shuffle=False)


def write_result(args, task, result):
    result = {"task": task, "command": "python benchmarks/finetune.py " + " ".join(sys.argv[1:]), **result,
              "process_cpu_seconds": round(time.process_time(), 1),
              "load_average_1min_at_end": round(os.getloadavg()[0], 2)}
    text = json.dumps(result, indent=2, sort_keys=False)
    print(text)
    if not args.no_save:
        os.makedirs(RESULTS, exist_ok=True)
        atomic_write_text(os.path.join(RESULTS, f"finetune_{task}.json"), text + "\n")


# ---------------------------------------------------------------------------
# NER: CoNLL-2003
# ---------------------------------------------------------------------------
def split_documents(sentences_by_doc, fraction, seed):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(sentences_by_doc))
    held = set(order[:int(round(fraction * len(order)))].tolist())
    train = [s for d, doc in enumerate(sentences_by_doc) if d not in held for s in doc]
    check = [s for d, doc in enumerate(sentences_by_doc) if d in held for s in doc]
    return train, check


def conll_documents(path):
    """Sentences grouped by -DOCSTART- document (for a split that keeps documents whole)."""
    from tfbert.data.conll import read_conll

    sentences = read_conll(path)
    starts = set()
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.startswith("-DOCSTART-"):
                starts.add(number)
    documents, current, last_line = [], [], 0
    for sentence in sentences:
        line = int(sentence.origin.rsplit(":", 1)[1])
        if any(last_line < s < line for s in starts) and current:
            documents.append(current)
            current = []
        current.append(sentence)
        last_line = line
    if current:
        documents.append(current)
    return documents


def tag_dataset(model, sentences, args):
    from tfbert.data.ner import encode_words

    features = encode_words(model.preprocessor, [s.words for s in sentences], sequence_length=args.seq_len,
                            tags=[s.tags for s in sentences], label_names=model.label_names,
                            origins=[s.origin for s in sentences])
    return features


def predict_tags(model, features, sentences, batch_size):
    """Tags per sentence, batching rows of similar length for speed."""
    from tfbert.data.ner import merge_chunk_tags

    order = np.argsort(features.lengths, kind="stable")
    row_tags = [None] * len(order)
    for i in range(0, len(order), batch_size):
        rows = order[i:i + batch_size]
        width = int(features.lengths[rows].max())
        batch = {k: v[rows, :width] for k, v in features.inputs.items()}
        logits = model.predict_on_batch(batch)
        decoded = model.decode_tags(logits, features.word_ids[rows, :width], features.num_words[rows])
        for r, tags in zip(rows, decoded):
            row_tags[r] = tags
    return merge_chunk_tags(features, row_tags, [len(s.words) for s in sentences])


def run_ner(args):
    from tfbert.data.conll import read_conll, tag_names
    from tfbert.data.ner import token_classification_dataset
    from tfbert.metrics.conlleval import evaluate

    started = time.perf_counter()
    documents = conll_documents(data_path(args, "conll2003", "train.txt"))
    train, check = split_documents(documents, 0.1, args.seed)
    valid = read_conll(data_path(args, "conll2003", "valid.txt"))
    if args.max_train:
        rng = np.random.default_rng(args.seed)
        train = [train[i] for i in sorted(rng.permutation(len(train))[:args.max_train])]
    labels = tag_names(train + check)

    tokenizer = load_tokenizer(args.preset)
    model = tfbert.BertTokenClassifier(load_backbone(args.preset), label_names=labels, preprocessor=tokenizer)
    train_features = tag_dataset(model, train, args)
    dataset = token_classification_dataset(train_features, args.batch_size, shuffle=True, seed=args.seed)
    steps_per_epoch = sum(1 for _ in dataset)
    total_steps = args.max_steps or steps_per_epoch * args.epochs
    model.compile(learning_rate=args.learning_rate, num_train_steps=total_steps, jit_compile=args.jit)
    print(f"NER: {len(train)} train sentences ({len(train_features.lengths)} rows), {len(check)} check, "
          f"{len(valid)} valid; {steps_per_epoch} steps/epoch, {total_steps} steps", flush=True)
    timer = Timer()
    fit_start = time.perf_counter()
    fit(model, dataset, args, steps_per_epoch, timer)
    train_seconds = time.perf_counter() - fit_start
    print(f"trained {train_seconds:.0f} s, {timer.steps_per_second()} steps/s", flush=True)
    if args.skip_eval:
        return

    scores = {}
    for name, sentences in (("check", check), ("valid", valid)):
        features = tag_dataset(model, sentences, args)
        predicted = predict_tags(model, features, sentences, 64)
        result = evaluate([s.tags for s in sentences], predicted)
        scores[name] = {k: round(result[k], 4) for k in ("precision", "recall", "f1", "accuracy")}
        scores[name]["per_type_f1"] = {t: round(v["f1"], 4) for t, v in result["per_type"].items()}
        print(f"{name}: {scores[name]}", flush=True)
    write_result(args, "ner", {
        "data": "CoNLL-2003 train.txt (90% of documents) -> valid.txt",
        "metric": "conlleval entity F1",
        "valid_f1": scores["valid"]["f1"],
        "scores": scores,
        "train_sentences": len(train),
        "steps": int(model.optimizer.iterations.numpy()),
        "steps_per_second": timer.steps_per_second(),
        "train_seconds": round(train_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "settings": vars_for_json(args),
    })


# ---------------------------------------------------------------------------
# QA: SQuAD v1.1 articles 0-37
# ---------------------------------------------------------------------------
def run_squad(args):
    from tfbert.data.qa import qa_dataset
    from tfbert.data.squad import read_squad, to_squad_dataset
    from tfbert.metrics.squad import evaluate

    started = time.perf_counter()
    examples = read_squad(data_path(args, "squad", "squad-v1.1-dev-articles-00-37.json"))
    held_articles = set(range(args.holdout_from, 38))
    train = [e for e in examples if e.article not in held_articles]
    test = [e for e in examples if e.article in held_articles]
    if args.max_train:
        rng = np.random.default_rng(args.seed)
        train = [train[i] for i in sorted(rng.permutation(len(train))[:args.max_train])]

    tokenizer = load_tokenizer(args.preset)
    model = tfbert.BertQuestionAnswerer(load_backbone(args.preset), preprocessor=tokenizer,
                                        doc_stride=args.doc_stride, max_query_length=args.max_query_length,
                                        max_answer_length=args.max_answer_length)

    def encode(items, with_answers):
        from tfbert.data.qa import encode_qa

        return encode_qa(tokenizer, [e.question for e in items], [e.context for e in items],
                         sequence_length=args.seq_len, doc_stride=args.doc_stride,
                         max_query_length=args.max_query_length,
                         answers=[(e.answers[0].text, e.answers[0].start) for e in items] if with_answers else None,
                         ids=[e.qid for e in items])

    train_features = encode(train, True)
    dataset = qa_dataset(train_features, args.batch_size, shuffle=True, seed=args.seed,
                         dynamic_padding=not args.static_shapes)
    steps_per_epoch = sum(1 for _ in dataset)
    total_steps = args.max_steps or steps_per_epoch * args.epochs
    model.compile(learning_rate=args.learning_rate, num_train_steps=total_steps, jit_compile=args.jit)
    print(f"SQuAD: {len(train)} train questions ({len(train_features.example)} windows), {len(test)} held-out "
          f"questions (articles {min(held_articles)}-37); {steps_per_epoch} steps/epoch, {total_steps} steps",
          flush=True)
    timer = Timer()
    fit_start = time.perf_counter()
    fit(model, dataset, args, steps_per_epoch, timer)
    train_seconds = time.perf_counter() - fit_start
    print(f"trained {train_seconds:.0f} s, {timer.steps_per_second()} steps/s", flush=True)
    if args.skip_eval:
        return

    test_features = encode(test, False)
    answers = model.answer(test_features, [e.context for e in test], batch_size=64)
    predictions = {e.qid: a["text"] for e, a in zip(test, answers)}
    scores = evaluate(to_squad_dataset(test), predictions)
    print(f"held-out: {scores}", flush=True)
    write_result(args, "squad", {
        "data": f"SQuAD v1.1 dev articles 0-{args.holdout_from - 1} -> held-out articles {args.holdout_from}-37",
        "metric": "official v1.1 EM / F1",
        "exact_match": round(scores["exact_match"], 2),
        "f1": round(scores["f1"], 2),
        "held_out_questions": scores["total"],
        "train_questions": len(train),
        "train_windows": int(len(train_features.example)),
        "steps": int(model.optimizer.iterations.numpy()),
        "steps_per_second": timer.steps_per_second(),
        "train_seconds": round(train_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "examples": [{"question": e.question, "gold": e.answers[0].text, "predicted": predictions[e.qid]}
                     for e in test[:5]],
        "settings": vars_for_json(args),
    })


# ---------------------------------------------------------------------------
# registry and command line
# ---------------------------------------------------------------------------
#: task name -> (run function, default settings). Classification tasks are added beside these.
TASKS = {
    "ner": (run_ner, dict(seq_len=128, batch_size=32, learning_rate=1e-4, epochs=2)),
    "squad": (run_squad, dict(seq_len=256, batch_size=16, learning_rate=1e-4, epochs=1)),
}

# Classification (sst2, rotten_tomatoes, mrpc, chnsenticorp): benchmarks/classification_tasks.py.
from classification_tasks import CLASSIFICATION_TASKS  # noqa: E402  (this script's folder is on sys.path)

TASKS.update(CLASSIFICATION_TASKS)


def vars_for_json(args):
    return {k: v for k, v in vars(args).items() if k != "func"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--preset", default=DEFAULT_PRESET)
    parser.add_argument("--data-dir", default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--seq-len", type=int)
    parser.add_argument("--max-train", type=int, help="subsample this many training examples (seeded)")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps (speed probes)")
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--max-query-length", type=int, default=64)
    parser.add_argument("--max-answer-length", type=int, default=30)
    parser.add_argument("--holdout-from", type=int, default=30, help="SQuAD: first held-out article")
    parser.add_argument("--jit", action="store_true", help="compile the train step with XLA")
    parser.add_argument("--static-shapes", action="store_true", help="SQuAD: pad every window to --seq-len")
    parser.add_argument("--policy", default="float32", help="Keras dtype policy (float32, mixed_bfloat16)")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra/inter-op threads")
    parser.add_argument("--verbose", type=int, default=2)
    parser.add_argument("--log-every", type=int, default=50, help="print a progress line every N steps")
    parser.add_argument("--no-save", action="store_true", help="print the result without writing the JSON")
    parser.add_argument("--skip-eval", action="store_true", help="train only (speed probes)")
    args = parser.parse_args(argv)
    for key, value in TASKS[args.task][1].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return args


def main(argv=None):
    args = parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy(args.policy)
    TASKS[args.task][0](args)


if __name__ == "__main__":
    main()
