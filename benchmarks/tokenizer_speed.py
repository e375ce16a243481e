"""Tokenizer speed and exactness: tfbert's BertTokenizer against keras-hub's and tensorflow-text's.

On the 12,808 Rotten Tomatoes snippets (../shared/data/rotten_tomatoes), with the uncased
MiniLM vocabulary (tests/fixtures/minilm_vocab.txt.gz unless --vocab is given), in one process:

- speed, strings/s, median over repeats after a warm-up, repeats interleaved so that background
  load hits every tokenizer alike (also reported: the best repeat, and strings per CPU second of
  this process, less sensitive to other processes on a shared machine), in two modes:
  * ``tf.data``: ``Dataset.from_tensor_slices(texts).batch(B).map(tokenizer)``, iterated to the end;
  * ``eager``: the tokenizer called directly on Python lists of B strings (keras-hub runs its
    pure-Python path there, tfbert one compiled graph);
- exactness: sentences whose ids differ from the reference (Hugging Face's slow BertTokenizer,
  stored as per-sentence digests in tests/fixtures/tokenizer_corpus_digests.npz by
  tests/fixtures/make_tokenizer_fixtures.py), for tfbert, keras-hub's BertTokenizer
  (lowercase=True; its tf.data graph path and its eager Python path) and tensorflow-text's
  FastBertTokenizer (lower_case_nfd_strip_accents=True);
- time to tokenize 1 MB strings (eager), and to preprocess one (cut to 51,200 characters first).

Run:  python benchmarks/tokenizer_speed.py                  # batch 256, 7 repeats
      python benchmarks/tokenizer_speed.py --repeats 3 --batch 64
Writes benchmarks/results/tokenize.json.
"""

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
sys.path.insert(0, os.path.join(ROOT, "tests"))  # tests/tokenizer_corpora.py: the texts and their readers

import tfbert  # noqa: F401  (sets KERAS_BACKEND)
import keras_hub
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
import tokenizer_corpora as corpora

from tfbert.fileio import atomic_write_text
from tfbert.preprocessing import BertPreprocessor, BertTokenizer
from tfbert.preprocessing.tokenizer import load_vocabulary


def load_vocab(path):
    if path is None:
        with gzip.open(os.path.join(FIXTURES, "minilm_vocab.txt.gz"), "rt", encoding="utf-8", newline="") as f:
            text = f.read()
        path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return path, load_vocabulary(path)


def tokenizers(vocab_path, vocab):
    fast_bert = tf_text.FastBertTokenizer(vocab, token_out_type=tf.int32, lower_case_nfd_strip_accents=True)
    return {
        "tfbert": BertTokenizer(vocab_path, lowercase=True),
        "keras_hub": keras_hub.tokenizers.BertTokenizer(vocabulary=vocab, lowercase=True),
        "tf_text_fast_bert": fast_bert.tokenize,   # exactness only (no Keras layer to time fairly)
    }


def run_tf_data(fn, texts, batch):
    ds = tf.data.Dataset.from_tensor_slices(texts).batch(batch).map(fn)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in ds:
        pass
    return time.perf_counter() - start, time.process_time() - cpu


def run_eager(fn, texts, batch):
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), batch):
        fn(texts[i:i + batch])
    return time.perf_counter() - start, time.process_time() - cpu


def ids_of(fn, texts, eager=False, batch=512):
    """Token ids of every text, through a tf.data pipeline (graph) or direct eager calls."""
    out = []
    batches = (texts[i:i + batch] for i in range(0, len(texts), batch)) if eager else \
        tf.data.Dataset.from_tensor_slices(texts).batch(batch).map(fn)
    for item in batches:
        ids = fn(item) if eager else item
        if isinstance(ids, tf.RaggedTensor) and ids.ragged_rank == 2:   # FastBertTokenizer: [B, words, pieces]
            ids = ids.merge_dims(1, 2)
        out += ids if isinstance(ids, list) else ids.to_list()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vocab", default=None, help="vocab.txt (default: the MiniLM vocabulary fixture)")
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "tokenize.json"))
    args = parser.parse_args()

    rt_path, _ = corpora.shared_paths(args.data)
    if not os.path.exists(rt_path):
        sys.exit(f"Rotten Tomatoes data not found at {rt_path}; pass --data ../shared/data.")
    texts = corpora.rotten_tomatoes_snippets(rt_path)
    vocab_path, vocab = load_vocab(args.vocab)
    toks = tokenizers(vocab_path, vocab)

    result = {"strings": len(texts), "batch": args.batch, "repeats": args.repeats,
              "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
              "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores", "tensorflow": tf.__version__,
              "keras_hub": keras_hub.__version__, "tensorflow_text": tf_text.__version__}

    # Exactness against the reference digests (when the fixture matches this vocabulary).
    digests = np.load(os.path.join(FIXTURES, "tokenizer_corpus_digests.npz"))
    if args.vocab is None and str(digests["rt_texts_sha256"]) == corpora.texts_digest(texts):
        reference = digests["rt_uncased"]
        mismatches = {}
        runs = [(name, tok, False) for name, tok in toks.items()] + [("keras_hub_eager", toks["keras_hub"], True)]
        for name, tok, eager in runs:
            got = corpora.digests(ids_of(tok, texts, eager))
            mismatches[name] = int(np.sum(got != reference))
            print(f"{name:>18}: {mismatches[name]:5d} of {len(texts)} sentences differ from the reference")
        result["mismatches_vs_reference"] = mismatches
    else:
        print("Skipping exactness: the reference digests are for the MiniLM vocabulary fixture and the shared RT file.")

    # Speed.
    timed = {k: v for k, v in toks.items() if k != "tf_text_fast_bert"}
    speed = {}
    for mode, runner, data in (("tf.data", run_tf_data, tf.constant(texts)), ("eager", run_eager, texts)):
        times = {name: [] for name in timed}
        for name, tok in timed.items():   # warm-up (tracing, caches)
            runner(tok, data, args.batch)
        for _ in range(args.repeats):
            for name, tok in timed.items():
                times[name].append(runner(tok, data, args.batch))
        rates = {name: len(texts) / statistics.median(w for w, _ in t) for name, t in times.items()}
        best = {name: len(texts) / min(w for w, _ in t) for name, t in times.items()}
        cpu = {name: len(texts) / statistics.median(c for _, c in t) for name, t in times.items()}
        speed[mode] = {**{k: round(v, 1) for k, v in rates.items()},
                       "ratio_tfbert_over_keras_hub": round(rates["tfbert"] / rates["keras_hub"], 3),
                       "best_of_repeats": {k: round(v, 1) for k, v in best.items()},
                       "per_cpu_second": {k: round(v, 1) for k, v in cpu.items()}}
        print(f"{mode:>8}: tfbert {rates['tfbert']:9.0f} strings/s   keras-hub {rates['keras_hub']:9.0f} strings/s"
              f"   ratio {rates['tfbert'] / rates['keras_hub']:.2f}x   (best of repeats "
              f"{best['tfbert'] / best['keras_hub']:.2f}x, per CPU second {cpu['tfbert'] / cpu['keras_hub']:.2f}x)")
    result["strings_per_second"] = speed

    # Long input: 1 MB strings, eager calls, median of 3 after a warm-up.
    long_input = {}
    pre = BertPreprocessor(toks["tfbert"], sequence_length=512)
    cases = {"tokenizer, 1 MB of short words": (toks["tfbert"], "word " * 200_000),
             "tokenizer, one 1 MB word": (toks["tfbert"], "x" * 1_000_000),
             "preprocessor (cut to 51,200 chars), 1 MB": (pre, "word " * 200_000)}
    for name, (fn, text) in cases.items():
        fn([text])
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn([text])
            times.append(time.perf_counter() - start)
        long_input[name] = round(statistics.median(times), 3)
        print(f"{name:>42}: {long_input[name]:.3f} s")
    result["long_input_seconds"] = long_input
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {os.path.relpath(args.out, ROOT)}")


if __name__ == "__main__":
    main()
