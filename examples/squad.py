"""Extractive question answering (SQuAD v1.1) with a pretrained BERT (the Model Garden / HF SQuAD flow).

    python examples/squad.py            # MiniLM; trains on SQuAD dev articles 0-29 of ../shared/data, tests on 30-37
    python examples/squad.py --fast     # tiny random model, two questions: seconds

Long contexts are cut into overlapping windows (doc_stride); the answer is the best
start/end span over all windows, mapped back to the exact characters of the context.
Scores are the official v1.1 exact match and F1.
"""

import argparse
import os

import tfbert
from tfbert.data.qa import qa_dataset
from tfbert.data.squad import parse_squad, read_squad, to_squad_dataset
from tfbert.metrics.squad import evaluate
from tfbert.preprocessing import BertTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data", "squad", "squad-v1.1-dev-articles-00-37.json")
CONTEXT = "The Eiffel Tower was built in 1889 in Paris . It was designed by the engineer Gustave Eiffel ."
FAST_SQUAD = {"data": [{"title": "Tower", "paragraphs": [{"context": CONTEXT, "qas": [
    {"id": "q1", "question": "When was the tower built ?", "answers": [{"text": "1889", "answer_start": 30}]},
    {"id": "q2", "question": "Who designed the tower ?", "answers": [{"text": "Gustave Eiffel", "answer_start": 78}]},
]}]}]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="tiny random model and data (a smoke test)")
    parser.add_argument("--preset", default="minilm_l6_en_uncased")
    parser.add_argument("--data", default=SHARED, help="a SQuAD v1.1 JSON file")
    parser.add_argument("--test-from-article", type=int, default=30)
    parser.add_argument("--max-train", type=int, default=3000, help="training questions used")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--output-dir", default="runs/squad")
    args = parser.parse_args(argv)

    preset, window = args.preset, {}
    if args.fast:
        from _fast import tiny_preset

        examples = parse_squad(FAST_SQUAD)
        train = test = examples
        preset, args.epochs = tiny_preset([CONTEXT] + [e.question for e in examples]), 2
        window = dict(doc_stride=16, max_query_length=16)  # the tiny model reads 64 tokens
    else:
        if not os.path.isfile(args.data):
            parser.exit(2, f"{args.data} not found: pass --data (a SQuAD v1.1 JSON file) or --fast\n")
        examples = read_squad(args.data)
        train = [e for e in examples if e.article < args.test_from_article][:args.max_train]
        test = [e for e in examples if e.article >= args.test_from_article]

    tokenizer = BertTokenizer.from_preset(preset)
    model = tfbert.BertQuestionAnswerer(tfbert.BERT.from_preset(preset), preprocessor=tokenizer, **window)
    features = model.encode([e.question for e in train], [e.context for e in train],
                            answers=[(e.answers[0].text, e.answers[0].start) for e in train])
    dataset = qa_dataset(features, batch_size=16, shuffle=True, seed=0, dynamic_padding=True)
    model.compile(learning_rate=1e-3 if args.fast else 1e-4, num_train_steps=sum(1 for _ in dataset) * args.epochs)
    model.fit(dataset, epochs=args.epochs, verbose=2)

    answers = model.answer(model.encode([e.question for e in test], [e.context for e in test]),
                           [e.context for e in test])
    scores = evaluate(to_squad_dataset(test), {e.qid: a["text"] for e, a in zip(test, answers)})
    print(f"exact match {scores['exact_match']:.2f}, F1 {scores['f1']:.2f} on {len(test)} held-out questions")
    print("answer:", model.predict_text("Who designed the tower ?", CONTEXT)[0])
    os.makedirs(args.output_dir, exist_ok=True)
    model.save(os.path.join(args.output_dir, "squad.keras"))
    print(f"done: saved {os.path.join(args.output_dir, 'squad.keras')}")


if __name__ == "__main__":
    main()
