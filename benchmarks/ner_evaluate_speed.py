"""NER sentences per second: training, against tagging as `tfbert evaluate` does it, in one process.

Fine-tunes the MiniLM checkpoint on a sample of CoNLL-2003 train.txt for one
pass (the CLI's batches: length buckets, compiled train step; the second pass is timed), then tags the
sample the old way (``BertTokenClassifier.predict_words``: every batch padded
to the longest row, eager calls) and the new way (``tfbert.cli.tasks.tag_sentences``:
rows in length order, each batch cut to its own width, compiled
``predict_on_batch``), alternating, and prints each rate and the ratios.

    python benchmarks/ner_evaluate_speed.py --sentences 320
"""

import argparse
import os
import time


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

    from tfbert.cli.tasks import TASKS, tag_sentences
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
    rates = {"predict_words": [], "tag_sentences": []}
    results = {}
    for _ in range(args.repeats):
        for name, tag in (("predict_words", lambda: model.predict_words(words, batch_size=args.batch_size)),
                          ("tag_sentences", lambda: tag_sentences(model, words, args.batch_size))):
            start = time.perf_counter()
            results[name] = tag()
            rates[name].append(len(words) / (time.perf_counter() - start))
    assert results["predict_words"] == results["tag_sentences"], "the two taggers disagree"
    f1 = evaluate([s.tags for s in sentences], results["tag_sentences"])["f1"]
    best = {name: max(values) for name, values in rates.items()}
    print(f"{len(sentences)} CoNLL sentences, batch {args.batch_size}, {os.cpu_count()} CPUs")
    print(f"training (second pass): {train_rate:.1f} sentences/s")
    for name, values in rates.items():
        print(f"{name}: " + ", ".join(f"{v:.1f}" for v in values) + " sentences/s (best "
              f"{best[name]:.1f}; {best[name] / train_rate:.2f}x training)")
    print(f"tag_sentences / predict_words: {best['tag_sentences'] / best['predict_words']:.2f}x; "
          f"same tags (train-sample F1 {f1:.3f})")


if __name__ == "__main__":
    main()
