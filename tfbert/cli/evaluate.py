"""``tfbert evaluate RUN_DIR``: score a fine-tuned run on its held-out split (or another file).

Example:
>>> from tfbert.cli import main
>>> main(["evaluate", "--help"])  # doctest: +ELLIPSIS
usage: tfbert evaluate ...
...
0
"""

import os

from tfbert.cli.finetune import FINETUNE_DEFAULTS
from tfbert.cli.options import OPTIONS, add_option, subcommand, with_default
from tfbert.cli.sources import load_keras, run_model_path
from tfbert.cli.tasks import TASKS


def register(subparsers):
    """Add `tfbert evaluate` and its options to the subcommand parsers."""
    p = subcommand(
        subparsers, "evaluate", run, "Evaluate a fine-tuned run on its held-out split",
        "Loads RUN_DIR/model.keras and scores the split with the task's metric: classification gets accuracy "
        "and a confusion matrix (also RUN_DIR/plots/confusion_matrix_<split>.png), regression Pearson, "
        "Spearman and MSE, ner conlleval's entity precision, recall and F1, qa SQuAD's exact match and F1, "
        "multiple_choice accuracy, embedding the Spearman correlation of cosine similarity and score. "
        "The split is the run's held-out part of its --data, or its --validation-data / --test-data file. "
        "The result goes into RUN_DIR/metrics.json under evaluate_<split>.",
        ["tfbert evaluate runs/rt", "tfbert evaluate runs/rt --split validation",
         "tfbert evaluate runs/reviews --data other_reviews.csv",
         "tfbert evaluate runs/mrpc --data msr_paraphrase_test.txt"],
    )
    add_option(p, "run")
    add_option(p, "split", help=with_default("split", "test"))
    add_option(p, "data", help=OPTIONS["data"][1]["help"] + "; default: the run's own data (a file given "
                               "here is evaluated whole, a named data set on its --split)")
    add_option(p, "batch_size", help=with_default("batch_size", "the run's"))


def run(args):
    """Run `tfbert evaluate` with the parsed arguments; return the exit code."""
    from tfbert.runs import RunDirectory

    run = RunDirectory(args.run)
    settings = {**FINETUNE_DEFAULTS, **run.settings}
    if run.command != "finetune":
        raise ValueError(f"{args.run} holds a `tfbert {run.command}` run; evaluate takes a `tfbert finetune` run.")
    task = TASKS[settings["task"]]
    model = load_keras(run_model_path(args.run))
    split = args.split or "test"
    if args.data and os.path.isfile(args.data):
        examples, split = task.read(args.data, settings, model), os.path.basename(args.data)
    else:
        named = args.data and args.data != settings["data"]
        source = {**settings, "data": args.data, "validation_data": None, "test_data": None} if named else settings
        examples = task.splits(source)[split]
        if examples is None:
            raise ValueError(f"run {args.run} has no {split} split: it was trained with split files and no "
                             f"--{split}-data; evaluate a file with --data FILE.")
    result = task.evaluate(model, examples, args.batch_size or settings["batch_size"])
    result["data"] = args.data or settings.get(f"{split}_data") or settings["data"]
    run.update_metrics(**{f"evaluate_{split}": result})
    task.report(result, split, run)
    return 0
