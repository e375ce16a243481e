"""NER sentences per second: training, against tagging as `tfbert evaluate` does it, in one process.

Fine-tunes the MiniLM checkpoint on a sample of CoNLL-2003 train.txt for one
pass (the CLI's batches: length buckets, compiled train step; the second pass is timed), then tags the
sample with ``BertTokenClassifier.predict_words`` (rows in length order, each batch
cut to its own width rounded up to 16 pieces, compiled ``predict_on_batch``;
``tfbert evaluate`` tags through it) and with ``tag_in_order_eagerly`` below, the
way predict_words tagged before (batches in input order, each cut to its
longest row, eager model calls), alternating, checks that both give the same
tags and prints each rate and the ratios.

    python benchmarks/ner_evaluate_speed.py --sentences 320
"""

import argparse
import os
import time

BEFORE = "before (in order, eager)"


def tag_in_order_eagerly(model, sentences, batch_size):
    """The "before" reference: tags per word as predict_words gave them when it ran rows in input order.

    The same windows as ``predict_words`` (``encode_word_windows``), batches of
    consecutive rows each cut to its own longest row, and an eager
    ``model(batch, training=False)`` call per batch.
    """
    from tfbert.data.ner import encode_word_windows, merge_chunk_tags

    tokenizer = getattr(model.preprocessor, "tokenizer", model.preprocessor)
    features = encode_word_windows(tokenizer, sentences, sequence_length=model._sequence_length())
    tags = []
    for start in range(0, len(features.lengths), batch_size):
        cut = int(features.lengths[start:start + batch_size].max())
        batch = {k: v[start:start + batch_size, :cut] for k, v in features.inputs.items()}
        tags.extend(model.decode_tags(model(batch, training=False), features.word_ids[start:start + batch_size],
                                      features.num_words[start:start + batch_size]))
    return merge_chunk_tags(features, tags, [len(s) for s in sentences])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                       "shared", "data", "conll2003", "train.txt"))
    parser.add_argument("--preset", default="minilm_l6_en_uncased")
    parser.add_argument("--sentences", type=int, default=320)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    import keras

    from tfbert.cli.tasks import TASKS
    from tfbert.data.conll import read_conll
    from tfbert.metrics.conlleval import evaluate

    task = TASKS["ner"]
    sentences = task.sample(read_conll(args.data), args.sentences, seed=0)
    keras.utils.set_random_seed(0)
    model = task.build({"preset": args.preset, "max_seq_len": 128}, sentences)
    dataset = task.batches(sentences, model, args.batch_size, shuffle_seed=0)
    model.compile(learning_rate=5e-5)
    model.fit(dataset, epochs=1, verbose=0)  # the first pass traces and compiles the train step
    start = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0)
    train_rate = len(sentences) / (time.perf_counter() - start)
    words = [s.words for s in sentences]
    rates = {BEFORE: [], "predict_words": []}
    results = {}
    for _ in range(args.repeats):
        for name, tag in ((BEFORE, lambda: tag_in_order_eagerly(model, words, args.batch_size)),
                          ("predict_words", lambda: model.predict_words(words, batch_size=args.batch_size))):
            start = time.perf_counter()
            results[name] = tag()
            rates[name].append(len(words) / (time.perf_counter() - start))
    assert results["predict_words"] == results[BEFORE], "the two taggers disagree"
    f1 = evaluate([s.tags for s in sentences], results["predict_words"])["f1"]
    best = {name: max(values) for name, values in rates.items()}
    print(f"{len(sentences)} CoNLL sentences, batch {args.batch_size}, {os.cpu_count()} CPUs")
    print(f"training (second pass): {train_rate:.1f} sentences/s")
    for name, values in rates.items():
        print(f"{name}: " + ", ".join(f"{v:.1f}" for v in values) + " sentences/s (best "
              f"{best[name]:.1f}; {best[name] / train_rate:.2f}x training)")
    print(f"predict_words / before: {best['predict_words'] / best[BEFORE]:.2f}x; "
          f"same tags (train-sample F1 {f1:.3f})")


if __name__ == "__main__":
    main()
