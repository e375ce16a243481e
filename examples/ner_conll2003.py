"""Named-entity recognition on CoNLL-2003 with a pretrained BERT (the Model Garden / HF token-classification flow).

    python examples/ner_conll2003.py                        # MiniLM on ../shared/data/conll2003 (~15 min, 2 cores)
    python examples/ner_conll2003.py --fast                 # tiny random model, 6 sentences: seconds

Only the first word piece of each word is labelled; predictions are read there and mapped
back to words and entity spans. Scores are conlleval's entity-level precision/recall/F1.
"""

import argparse
import os
import tempfile

import tfbert
from tfbert.data.conll import read_conll, tag_names
from tfbert.data.ner import encode_words, token_classification_dataset
from tfbert.metrics.conlleval import evaluate
from tfbert.preprocessing import BertTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data", "conll2003")
FAST_CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
visited VBD B-VP O
London NNP B-NP B-LOC
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="tiny random model and data (a smoke test)")
    parser.add_argument("--preset", default="minilm_l6_en_uncased")
    parser.add_argument("--train", default=os.path.join(SHARED, "train.txt"))
    parser.add_argument("--valid", default=os.path.join(SHARED, "valid.txt"))
    parser.add_argument("--max-train", type=int, default=4000, help="training sentences used")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--output-dir", default="runs/ner_conll2003")
    args = parser.parse_args(argv)

    preset = args.preset
    if args.fast:
        path = os.path.join(tempfile.mkdtemp(), "tiny.conll")
        with open(path, "w") as f:
            f.write(FAST_CONLL)
        args.train = args.valid = path
        args.epochs = 2
        from _fast import tiny_preset

        preset = tiny_preset([line.split()[0] for line in FAST_CONLL.splitlines() if line.strip()])
    for path in (args.train, args.valid):
        if not os.path.isfile(path):
            parser.exit(2, f"{path} not found: pass --train/--valid (CoNLL-2003 files) or --fast\n")

    train, valid = read_conll(args.train)[:args.max_train], read_conll(args.valid)
    labels = tag_names(train)
    tokenizer = BertTokenizer.from_preset(preset)
    model = tfbert.BertTokenClassifier(tfbert.BERT.from_preset(preset), label_names=labels, preprocessor=tokenizer)
    features = encode_words(tokenizer, [s.words for s in train], sequence_length=128,
                            tags=[s.tags for s in train], label_names=labels)
    dataset = token_classification_dataset(features, batch_size=16, shuffle=True, seed=0)
    steps = sum(1 for _ in dataset) * args.epochs
    model.compile(learning_rate=1e-4 if not args.fast else 1e-3, num_train_steps=steps)
    model.fit(dataset, epochs=args.epochs, verbose=2)

    predicted = model.predict_words([s.words for s in valid])
    scores = evaluate([s.tags for s in valid], predicted)
    print(f"valid entity F1 {scores['f1']:.4f} (precision {scores['precision']:.4f}, recall {scores['recall']:.4f}) "
          f"on {len(valid)} sentences")
    for result in model.predict_text(["Peter Blackburn visited London for the EU."]):
        print("entities:", [(e["type"], e["text"]) for e in result["entities"]])
    os.makedirs(args.output_dir, exist_ok=True)
    model.save(os.path.join(args.output_dir, "ner.keras"))
    print(f"done: saved {os.path.join(args.output_dir, 'ner.keras')}")


if __name__ == "__main__":
    main()
