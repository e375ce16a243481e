"""Fine-tune BERT on a GLUE task: SST-2 (sentiment of one sentence) or MRPC (paraphrase of a pair).

    python examples/fine_tune_glue.py --task sst2      # MiniLM on ../shared/data/sst2/train.tsv
    python examples/fine_tune_glue.py --task mrpc      # MiniLM on ../shared/data/mrpc/train.tsv
    python examples/fine_tune_glue.py --task mrpc --fast   # tiny random model, a few pairs: seconds

The flow of the TF Model Garden "Fine-tuning a BERT model" tutorial: GLUE TSV files ->
BertPreprocessor packs [CLS] a [SEP] (b [SEP]) -> BertClassifier (encoder + dropout +
dense) -> AdamW with warmup -> fit -> accuracy (and F1 for MRPC) on a held-out split.
The held-out split is cut from train.tsv (GLUE's dev sets are not in ../shared/data):
whole sentences for SST-2 (so none of their phrases is trained on), a seeded 10% for MRPC.
tensorflow-datasets' glue/sst2 and glue/mrpc work too where its servers are reachable:
`tfbert finetune --data glue/mrpc ...`.
"""

import argparse
import os
import tempfile

import numpy as np

import tfbert
from tfbert.data import random_split, read_mrpc, read_sst2, sentence_holdout_split
from tfbert.data.pipeline import classification_dataset

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
FAST_FILES = {
    "sst2": "sentence\tlabel\n" + "".join(f"{t} \t{y}\n" for t, y in [
        ("a gripping , beautifully acted film", 1), ("gripping", 1), ("a dull mess", 0), ("dull", 0),
        ("great fun", 1), ("tedious and long", 0)] * 3),
    "mrpc": "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + "".join(f"{y}\t{i}\t{i + 100}\t{a}\t{b}\n" for i, (y, a, b) in enumerate([
        (1, "The company posted a profit .", "The firm reported a profit ."),
        (0, "The company posted a profit .", "Rain is expected on Monday ."),
        (1, "He left the city on Friday .", "On Friday he left the city ."),
        (0, "He left the city on Friday .", "Stocks fell sharply today ."),
    ] * 3)),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=("sst2", "mrpc"), default="sst2")
    parser.add_argument("--fast", action="store_true", help="tiny random model and data (a smoke test)")
    parser.add_argument("--preset", default="minilm_l6_en_uncased")
    parser.add_argument("--data", help="the task's GLUE train.tsv (default: ../shared/data/<task>/train.tsv)")
    parser.add_argument("--max-train", type=int, default=8000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--output-dir", default="runs/glue")
    args = parser.parse_args(argv)

    preset, sequence_length, learning_rate = args.preset, 128, 5e-5
    path = args.data or os.path.join(SHARED, args.task, "train.tsv")
    if args.fast:
        from _fast import tiny_preset

        path = os.path.join(tempfile.mkdtemp(), "train.tsv")
        with open(path, "w", encoding="utf-8") as f:
            f.write(FAST_FILES[args.task])
        words = [w for line in FAST_FILES[args.task].splitlines()[1:] for w in line.split("\t")[-2:]]
        preset, sequence_length, learning_rate = tiny_preset(words), 32, 1e-3
    if not os.path.isfile(path):
        parser.exit(2, f"{path} not found: pass --data (a GLUE train.tsv) or --fast\n")

    if args.task == "sst2":
        train, test = sentence_holdout_split(read_sst2(path), 0.1 if not args.fast else 0.3, seed=0)
    else:
        train, test = random_split(read_mrpc(path), 0.1 if not args.fast else 0.3, seed=0)
    train = train.sample(args.max_train, seed=0)
    print(f"{args.task}: {len(train)} training and {len(test)} held-out examples {train.label_counts()}")

    model = tfbert.BertClassifier.from_preset(preset, num_classes=train.num_classes,
                                              label_names=list(train.class_names), sequence_length=sequence_length)
    train_ds = classification_dataset(train, model.preprocessor, batch_size=32, shuffle=True, seed=0)
    model.compile(learning_rate=learning_rate, num_train_steps=sum(1 for _ in train_ds) * args.epochs)
    model.fit(train_ds, epochs=args.epochs, verbose=2)

    test_ds = classification_dataset(test, model.preprocessor, batch_size=64, bucket=False)  # keeps the order
    predicted = np.argmax(model.predict(test_ds, verbose=0), axis=-1)
    gold = np.asarray(test.labels)
    accuracy = float(np.mean(predicted == gold))
    tp = int(np.sum((predicted == 1) & (gold == 1)))
    f1 = 2 * tp / max(1, int(np.sum(predicted == 1)) + int(np.sum(gold == 1)))
    print(f"held-out accuracy {accuracy:.4f}" + (f", F1 {f1:.4f}" if args.task == "mrpc" else ""))
    first = test[0]
    print("prediction:", model.predict_text([first.text], text_pairs=[first.text_pair] if test.is_pair else None)[0])
    os.makedirs(args.output_dir, exist_ok=True)
    model.save(os.path.join(args.output_dir, f"{args.task}.keras"))
    print(f"done: saved {os.path.join(args.output_dir, args.task + '.keras')}")


if __name__ == "__main__":
    main()
