"""Pretraining on real Wikipedia prose: BERT-mini from scratch, and continued pretraining of MiniLM.

One command reproduces the figures of the README's pretraining figures:

    python benchmarks/pretrain.py                 # ~35 min on 2 CPU cores (28 min of from-scratch training)
    python benchmarks/pretrain.py --quick         # smoke test of the whole flow (~3 min)

What it does, with a fixed seed:
1. extracts the prose of the 206-page English Wikipedia dump in ../shared/data/enwiki
   (tfbert.data.wikipedia) and holds out whole pages (by a hash of the title) for evaluation;
2. learns an uncased WordPiece vocabulary from the training pages only;
3. builds NSP + MLM pretraining data (create_pretraining_data algorithm): the training pages
   as a tf.data pipeline with dynamic masking, the held-out pages masked once and written
   to sharded TFRecords, then read back (the offline path) for evaluation;
4. pretrains BERT-mini (L4/H256) from scratch with fit_resumable (atomic step checkpoints:
   re-running after a kill continues), within a wall-clock budget;
5. reports held-out MLM and NSP accuracy next to the unigram baseline (always predict the
   training pages' most frequent token; always predict the majority NSP label);
6. prints a fill-mask example with the model's top-5 predictions;
7. continues pretraining MiniLM (minilm_l6_en_uncased; it has no MLM head, so one is
   initialised and reported) on the same training pages: held-out MLM accuracy before and after.
Results go to benchmarks/results/pretrain.json; models and data to build/pretrain/ (not committed).
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402
import collections  # noqa: E402
import glob  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import tfbert  # noqa: E402  (sets KERAS_BACKEND)
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfbert.data.masking import MaskedLMMasker  # noqa: E402
from tfbert.data.pretraining_data import (RANDOM_DOCUMENT_WEIGHTINGS, build_instances,  # noqa: E402
                                          pretraining_dataset)
from tfbert.data.pretraining_records import read_pretraining_records, write_pretraining_records  # noqa: E402
from tfbert.data.wikipedia import load_articles, split_articles  # noqa: E402
from tfbert.preprocessing.tokenizer import BertTokenizer  # noqa: E402
from tfbert.fileio import atomic_write_text  # noqa: E402
from tfbert.preprocessing.vocabulary import (  # noqa: E402
    read_vocabulary, special_token_ids, train_wordpiece_vocabulary, write_vocabulary,
)
from tfbert.tasks.pretrainer import BertMaskedLM, BertPretrainer  # noqa: E402
from tfbert.training import fit_resumable  # noqa: E402

FILL_MASK_EXAMPLES = [
    "The [MASK] of the United States is elected every four years.",
    "Aristotle was a Greek [MASK] and scientist.",
    "The river flows into the [MASK].",
]


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


class TimeLimit(keras.callbacks.Callback):
    """Stop training once the wall-clock budget is spent (checked after every step)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.start, self.hit = seconds, None, False

    def on_train_begin(self, logs=None):
        self.start = self.start or time.time()

    def on_train_batch_end(self, batch, logs=None):
        if time.time() - self.start > self.seconds:
            self.model.stop_training, self.hit = True, True


def checkpoint_name(args):
    """Checkpoints of a run with other settings are never resumed by this one."""
    keys = ("seed", "size", "vocab_size", "seq_len", "max_predictions", "batch", "dupe_factor", "steps", "lr",
            "warmup", "dropout", "policy", "eval_every", "random_document_weighting")
    return "checkpoints-" + "-".join(str(getattr(args, k)) for k in keys)


def documents(articles):
    return [" ".join(paragraphs) for _, paragraphs in articles]


def unigram_baseline(train_instances, eval_data, vocabulary):
    """Accuracy of always predicting the most frequent (non-special) training token."""
    special = set(special_token_ids(vocabulary).values())
    ids = train_instances["token_ids"][train_instances["padding_mask"] > 0]
    counts = collections.Counter(ids.tolist())
    top = next(t for t, _ in counts.most_common() if t not in special)
    hits = total = nsp_ones = nsp_total = 0
    for _, y in eval_data:
        w = y["mask_weights"].numpy() > 0
        hits += int((y["mask_ids"].numpy()[w] == top).sum())
        total += int(w.sum())
        nsp_ones += int(y["next_sentence_label"].numpy().sum())
        nsp_total += int(y["next_sentence_label"].shape[0])
    nsp_majority = max(nsp_ones, nsp_total - nsp_ones) / nsp_total
    return {"token": vocabulary[top], "mlm_accuracy": hits / total, "eval_predictions": total,
            "nsp_majority_accuracy": nsp_majority, "eval_pairs": nsp_total}


def fill_mask_table(model, sentences):
    rows = []
    for sentence, per_mask in zip(sentences, model.fill_mask(sentences, top_k=5)):
        rows.append({"text": sentence, "top5": [[(p["token"], round(p["score"], 4)) for p in mask] for mask in per_mask]})
    return rows


def eval_records(directory, docs, tokenizer, args, seed, overwrite=True):
    instances = build_instances(docs, tokenizer, max_seq_length=args.seq_len, dupe_factor=1, seed=seed,
                                random_document_weighting=args.random_document_weighting)
    masker = MaskedLMMasker(tokenizer.vocabulary, max_predictions=args.max_predictions)
    write_pretraining_records(instances, masker, directory, num_shards=2, seed=seed, overwrite=overwrite)
    return read_pretraining_records(directory, args.batch, shuffle=False, drop_remainder=False), instances


def learned_vocabulary(train_docs, vocab_size, work):
    """Learn the vocabulary, or reuse the one a previous run learned from the same text and size."""
    key = hashlib.sha256(json.dumps([vocab_size, train_docs]).encode("utf-8")).hexdigest()
    meta_path, vocab_path = os.path.join(work, "vocab.json"), os.path.join(work, "vocab.txt")
    if os.path.exists(meta_path) and os.path.exists(vocab_path):
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("key") == key:
            return read_vocabulary(vocab_path), meta["seconds"]
    t0 = time.time()
    vocabulary = train_wordpiece_vocabulary(train_docs, vocab_size, lowercase=True)
    seconds = time.time() - t0
    write_vocabulary(vocab_path, vocabulary)
    atomic_write_text(meta_path, json.dumps({"key": key, "seconds": round(seconds, 1)}))
    return vocabulary, seconds


def from_scratch(args, train_docs, eval_docs, work):
    vocabulary, vocab_seconds = learned_vocabulary(train_docs, args.vocab_size, work)
    log(f"vocabulary: {len(vocabulary)} tokens (learning took {vocab_seconds:.0f}s)")
    tokenizer = BertTokenizer(vocabulary, lowercase=True, special_tokens_in_strings=False)

    t0 = time.time()
    train = build_instances(train_docs, tokenizer, max_seq_length=args.seq_len, dupe_factor=args.dupe_factor,
                            seed=args.seed, random_document_weighting=args.random_document_weighting)
    masker = MaskedLMMasker(vocabulary, max_predictions=args.max_predictions)
    train_data = pretraining_dataset(train, masker, args.batch, seed=args.seed, repeat=True)
    eval_data, eval_instances = eval_records(os.path.join(work, "eval_records"), eval_docs, tokenizer, args,
                                             seed=args.seed + 1)
    data_seconds = time.time() - t0
    log(f"data: {len(train['token_ids'])} train / {len(eval_instances['token_ids'])} held-out instances "
        f"in {data_seconds:.0f}s; train NSP random share {train['next_sentence_label'].mean():.3f}")
    baseline = unigram_baseline(train, eval_data, vocabulary)
    log("baseline:", baseline)

    keras.utils.set_random_seed(args.seed)
    config = tfbert.BertConfig.from_preset_size(args.size, vocab_size=len(vocabulary),
                                                max_position_embeddings=max(args.seq_len, 128),
                                                hidden_dropout_prob=args.dropout,
                                                attention_probs_dropout_prob=args.dropout)
    model = BertPretrainer(tfbert.BERT(config), preprocessor=tokenizer)
    steps_per_epoch = min(args.eval_every, args.steps)
    epochs = -(-args.steps // steps_per_epoch)
    model.compile(learning_rate=args.lr, num_train_steps=epochs * steps_per_epoch, warmup_fraction=args.warmup,
                  jit_compile=False)
    limit = TimeLimit(args.minutes * 60)
    t0 = time.time()
    history = fit_resumable(model, train_data, epochs=epochs, steps_per_epoch=steps_per_epoch,
                            checkpoint_dir=os.path.join(work, checkpoint_name(args)), save_every=args.save_every,
                            validation_data=eval_data, callbacks=[limit], verbose=2)
    train_seconds = time.time() - t0
    steps_done = int(model.optimizer.iterations)
    final = model.evaluate(eval_data, return_dict=True, verbose=0)
    log("held-out:", final)
    examples = fill_mask_table(model, FILL_MASK_EXAMPLES)
    for row in examples:
        log("fill-mask:", row)
    model.save(os.path.join(work, "bert_mini_pretrained.keras"))
    return {
        "model": {"size": args.size, "dtype_policy": args.policy, "layers": config.num_hidden_layers, "hidden": config.hidden_size,
                  "heads": config.num_attention_heads, "vocab_size": config.vocab_size,
                  "parameters": int(model.count_params())},
        "vocabulary_seconds": round(vocab_seconds, 1),
        "data_seconds": round(data_seconds, 1),
        "train_instances": int(len(train["token_ids"])),
        "eval_instances": int(len(eval_instances["token_ids"])),
        "train_nsp_random_share": round(float(train["next_sentence_label"].mean()), 4),
        "steps": steps_done,
        "train_seconds": round(train_seconds, 1),
        "steps_per_second": round(steps_done / train_seconds, 3),
        "stopped_by_time_limit": limit.hit,
        "held_out": {k: round(float(v), 4) for k, v in final.items()},
        "unigram_baseline": baseline,
        "mlm_accuracy_over_baseline": round(final["mlm_accuracy"] / baseline["mlm_accuracy"], 2),
        "curve": {k: [round(float(x), 4) for x in v] for k, v in history.history.items()
                  if k in ("val_mlm_accuracy", "val_nsp_accuracy", "mlm_accuracy", "nsp_accuracy")},
        "curve_every_steps": steps_per_epoch,
        "fill_mask": examples,
    }


def continued(args, train_docs, eval_docs, work):
    keras.utils.set_random_seed(args.seed)
    t0 = time.time()
    model = BertMaskedLM.from_preset(args.preset)
    tokenizer = model.tokenizer
    report = model.load_report
    log(f"{args.preset}: loaded {len(report.loaded)} weights; newly initialised: {report.newly_initialized}")
    train = build_instances(train_docs, tokenizer, max_seq_length=args.seq_len, dupe_factor=1, seed=args.seed,
                            random_document_weighting=args.random_document_weighting)
    masker = MaskedLMMasker(tokenizer.vocabulary, max_predictions=args.max_predictions)
    train_data = pretraining_dataset(train, masker, args.batch, seed=args.seed, repeat=True)
    eval_data, eval_instances = eval_records(os.path.join(work, "minilm_eval_records"), eval_docs, tokenizer, args,
                                             seed=args.seed + 1)
    model.compile(learning_rate=args.minilm_lr, num_train_steps=args.minilm_steps, warmup_fraction=args.warmup,
                  jit_compile=False)
    before = model.evaluate(eval_data, return_dict=True, verbose=0)
    fill_before = fill_mask_table(model, FILL_MASK_EXAMPLES[:1])
    log("MiniLM before:", before)
    t1 = time.time()
    model.fit(train_data, steps_per_epoch=args.minilm_steps, epochs=1, verbose=2)
    train_seconds = time.time() - t1
    after = model.evaluate(eval_data, return_dict=True, verbose=0)
    log("MiniLM after:", after)
    fill_after = fill_mask_table(model, FILL_MASK_EXAMPLES[:1])
    return {
        "preset": args.preset,
        "newly_initialized": report.newly_initialized,
        "loaded_weights": len(report.loaded),
        "steps": int(model.optimizer.iterations),
        "batch_size": args.batch,
        "learning_rate": args.minilm_lr,
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.time() - t0, 1),
        "eval_instances": int(len(eval_instances["token_ids"])),
        "held_out_before": {k: round(float(v), 4) for k, v in before.items()},
        "held_out_after": {k: round(float(v), 4) for k, v in after.items()},
        "fill_mask_before": fill_before,
        "fill_mask_after": fill_after,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data", "enwiki"))
    parser.add_argument("--work-dir", default=os.path.join(REPO, "build", "pretrain"))
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "pretrain.json"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default="mini")
    parser.add_argument("--vocab-size", type=int, default=8192)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--max-predictions", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--dupe-factor", type=int, default=30)
    parser.add_argument("--random-document-weighting", choices=RANDOM_DOCUMENT_WEIGHTINGS, default="length",
                        help="how a random B's document is drawn (tfbert.data.pretraining_data); 'uniform' is "
                             "google-research's draw, which on 84 pages lets B's document give the NSP label away")
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--policy", default="mixed_bfloat16",
                        help="Keras dtype policy; bf16 matmuls run about 2x faster than float32 on CPUs with AVX512_BF16")
    parser.add_argument("--dropout", type=float, default=0.1,
                        help="dropout of the from-scratch model (BERT's 0.1; with 0 the NSP head memorises the 84 "
                             "training pages: train NSP accuracy rises, held-out NSP does not)")
    parser.add_argument("--warmup", type=float, default=0.1)
    parser.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget of the from-scratch training")
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--save-every", type=int, default=500)
    parser.add_argument("--preset", default="minilm_l6_en_uncased")
    parser.add_argument("--minilm-steps", type=int, default=500)
    parser.add_argument("--minilm-lr", type=float, default=2e-4)
    parser.add_argument("--skip-scratch", action="store_true", help="rerun only MiniLM; keep the stored scratch result")
    parser.add_argument("--skip-minilm", action="store_true", help="rerun only from-scratch; keep the stored MiniLM result")
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke test of the whole flow")
    args = parser.parse_args()
    if args.quick:
        args.size, args.vocab_size, args.steps, args.eval_every, args.dupe_factor = "tiny", 2000, 20, 10, 1
        args.minilm_steps, args.seq_len, args.minutes = 5, 64, 5
        args.out = os.path.join(args.work_dir, "pretrain_quick.json")
    work = os.path.join(args.work_dir, "quick" if args.quick else "full")
    os.makedirs(work, exist_ok=True)
    keras.config.set_dtype_policy(args.policy)

    dump = args.data if os.path.isfile(args.data) else (glob.glob(os.path.join(args.data, "*.xml*")) or [None])[0]
    if dump is None:
        sys.exit(f"No MediaWiki dump found at {args.data}; pass --data path/to/enwiki-*.xml.bz2")
    articles = load_articles(dump)
    train_articles, eval_articles = split_articles(articles, eval_fraction=0.1)
    if args.quick:
        train_articles, eval_articles = train_articles[:12], eval_articles[:3]
    train_docs, eval_docs = documents(train_articles), documents(eval_articles)
    log(f"{len(articles)} articles with prose: {len(train_articles)} train, {len(eval_articles)} held out "
        f"({sum(len(d.split()) for d in train_docs)} / {sum(len(d.split()) for d in eval_docs)} words)")

    settings = {k: v for k, v in vars(args).items() if k not in ("data", "work_dir", "out", "skip_scratch",
                                                                 "skip_minilm")}
    results = {
        "command": " ".join(["python", "benchmarks/pretrain.py"] + sys.argv[1:]),
        "environment": {"cpus": os.cpu_count(), "tensorflow": tf.__version__, "keras": keras.__version__,
                        "python": platform.python_version()},
        "data": {"dump": os.path.basename(dump), "articles": len(articles), "train_pages": len(train_articles),
                 "held_out_pages": len(eval_articles), "held_out_titles": [t for t, _ in eval_articles],
                 "train_words": sum(len(d.split()) for d in train_docs),
                 "held_out_words": sum(len(d.split()) for d in eval_docs)},
    }
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    if not args.skip_scratch:
        results["from_scratch"] = {"settings": settings, "started": started,
                                   **from_scratch(args, train_docs, eval_docs, work),
                                   "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
    if not args.skip_minilm:
        results["continued_minilm"] = {"settings": settings, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                       **continued(args, train_docs, eval_docs, work),
                                       "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
    if os.path.exists(args.out) and (args.skip_scratch or args.skip_minilm):
        with open(args.out, encoding="utf-8") as f:  # keep the part not rerun
            previous = json.load(f)
        for key in ("from_scratch", "continued_minilm"):
            if key not in results and key in previous:
                results[key] = previous[key]
                if "settings" not in results[key] and "settings" in previous:  # written by an older version
                    results[key]["settings"] = previous["settings"]
    atomic_write_text(args.out, json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    log("wrote", args.out)


if __name__ == "__main__":
    main()
