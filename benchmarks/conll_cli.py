"""The CoNLL-2003 recipe of the README through the `tfbert` command, scored on documents it never saw.

The shared data has CoNLL-2003's ``train.txt`` and ``valid.txt`` but not ``test.txt``. So that
``valid.txt`` can serve as the validation file (``--validation-data``, what a user with the real
splits does) and the score still comes from text that neither training nor model selection saw,
the script holds out 10% of ``train.txt``'s documents (whole ``-DOCSTART-`` documents, seeded):

  train.txt  -> work/train.txt (90% of the documents)  + work/test.txt (10%, never trained on)
  tfbert finetune --task ner --data work/train.txt --validation-data valid.txt --test-data work/test.txt ...
  tfbert evaluate RUN            # entity F1 on work/test.txt

Run:  python benchmarks/conll_cli.py --json benchmarks/results/conll_cli.json
      python benchmarks/conll_cli.py --max-examples 200 --work /tmp/conll   # a quick look
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO, "..", "shared", "data", "conll2003")
DOCSTART = "-DOCSTART-"


def documents(path):
    """The file's documents, each the list of its lines from its -DOCSTART- line on."""
    docs, current = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith(DOCSTART) and current:
                docs.append(current)
                current = []
            current.append(line)
    if current:
        docs.append(current)
    return docs


def split_documents(source, train_path, test_path, fraction=0.1, seed=0):
    """Write a seeded ``fraction`` of ``source``'s documents to ``test_path``, the rest to ``train_path``."""
    docs = documents(source)
    held = set(random.Random(seed).sample(range(len(docs)), max(1, round(fraction * len(docs)))))
    for path, keep in ((train_path, lambda i: i not in held), (test_path, lambda i: i in held)):
        with open(path, "w", encoding="utf-8") as f:
            for i, doc in enumerate(docs):
                if keep(i):
                    f.writelines(doc if doc[-1].endswith("\n") else doc + ["\n"])
    return len(docs) - len(held), len(held)


def tfbert(*argv):
    """Run the `tfbert` command of this checkout; return its stdout (stderr passes through)."""
    command = [sys.executable, "-m", "tfbert", *map(str, argv)]
    print("$ tfbert " + " ".join(map(str, argv)), flush=True)
    done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")})
    sys.stdout.write(done.stdout)
    if done.returncode:
        raise SystemExit(f"tfbert {argv[0]} failed with exit code {done.returncode}")
    return done.stdout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DATA, help="folder with CoNLL-2003 train.txt and valid.txt")
    parser.add_argument("--work", default=os.path.join(REPO, "runs", "conll_cli"),
                        help="where the split files and the run go (replaced if it holds an earlier run)")
    parser.add_argument("--max-examples", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", default="2e-4")
    parser.add_argument("--json", help="also write the result to this JSON file")
    args = parser.parse_args(argv)

    for name in ("train.txt", "valid.txt"):
        if not os.path.exists(os.path.join(args.data, name)):
            raise SystemExit(f"{os.path.join(args.data, name)} not found: give --data a folder with CoNLL-2003 "
                             "train.txt and valid.txt")
    os.makedirs(args.work, exist_ok=True)
    train, test = os.path.join(args.work, "train.txt"), os.path.join(args.work, "test.txt")
    kept, held = split_documents(os.path.join(args.data, "train.txt"), train, test)
    print(f"train.txt: {kept} documents to train on, {held} held out as the test split")
    run_dir = os.path.join(args.work, "run")
    start = time.time()
    tfbert("finetune", "--task", "ner", "--data", train, "--validation-data", os.path.join(args.data, "valid.txt"),
           "--test-data", test, "--max-examples", args.max_examples, "--epochs", args.epochs,
           "--batch-size", args.batch_size, "--learning-rate", args.learning_rate, "-o", run_dir, "--overwrite")
    trained = time.time() - start
    tfbert("evaluate", run_dir)
    with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    result = {
        "command": "python benchmarks/conll_cli.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "train_documents": kept, "test_documents": held, "max_examples": args.max_examples,
        "epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": float(args.learning_rate),
        "validation": {k: v[-1] for k, v in metrics["history"].items() if k.startswith("val_")},
        "test": {k: metrics["evaluate_test"][k] for k in ("f1", "precision", "recall", "examples")
                 if k in metrics["evaluate_test"]},
        "finetune_seconds": round(trained, 1), "wall_seconds": round(time.time() - start, 1),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
