"""``tfbert evaluate RUN_DIR``: score a fine-tuned run on its held-out split (or another file).

Example:
>>> from tfbert.cli import main
>>> main(["evaluate", "--help"])  # doctest: +ELLIPSIS
usage: tfbert evaluate ...
...
0
"""

import os

import numpy as np

from tfbert.cli.data_sets import table_columns
from tfbert.cli.errors import notice
from tfbert.cli.finetune import FINETUNE_DEFAULTS
from tfbert.cli.options import OPTIONS, add_option, subcommand, with_default
from tfbert.cli.sources import load_keras, run_model_path
from tfbert.cli.tasks import TASKS


def register(subparsers):
    """Add `tfbert evaluate` and its options to the subcommand parsers."""
    p = subcommand(
        subparsers, "evaluate", run, "Evaluate a fine-tuned run on its held-out split",
        "Loads RUN_DIR/model.keras and scores the split: classifiers get accuracy and a confusion matrix "
        "(also RUN_DIR/plots/confusion_matrix_<split>.png), ner runs conlleval's entity precision, recall and "
        "F1. The result goes into RUN_DIR/metrics.json under evaluate_<split>.",
        ["tfbert evaluate runs/rt", "tfbert evaluate runs/rt --split validation",
         "tfbert evaluate runs/reviews --data other_reviews.csv"],
    )
    add_option(p, "run")
    add_option(p, "split", help=with_default("split", "test"))
    add_option(p, "data", help=OPTIONS["data"][1]["help"] + "; default: the run's own data (a file given "
                               "here is evaluated whole, a named data set on its --split)")
    add_option(p, "batch_size", help=with_default("batch_size", "the run's"))


def run(args):
    """Run `tfbert evaluate` with the parsed arguments; return the exit code."""
    from tfbert import plots
    from tfbert.runs import RunDirectory

    run = RunDirectory(args.run)
    settings = {**FINETUNE_DEFAULTS, **run.settings}
    if run.command != "finetune":
        raise ValueError(f"{args.run} holds a `tfbert {run.command}` run; evaluate takes a `tfbert finetune` run.")
    task = TASKS[settings["task"]]
    model = load_keras(run_model_path(args.run))
    split = args.split or "test"
    if args.data and os.path.isfile(args.data) and task.name == "classification":
        from tfbert import data as tfdata

        columns = table_columns(args.data, settings["text_column"], settings["label_column"], settings["text_pair_column"])
        examples = tfdata.read_text_table(args.data, *columns, label_names=list(model.class_names))
        split = os.path.basename(args.data)
    elif args.data and os.path.isfile(args.data):
        from tfbert.data.conll import read_conll

        examples, split = read_conll(args.data), os.path.basename(args.data)
    else:
        examples = task.splits({**settings, "data": args.data or settings["data"]})[split]
    result = task.evaluate(model, examples, args.batch_size or settings["batch_size"])
    result["data"] = args.data or settings["data"]
    run.update_metrics(**{f"evaluate_{split}": result})
    if task.name != "classification":
        print(f"{split}: entity F1 {result['f1']:.4f} (precision {result['precision']:.4f}, recall "
              f"{result['recall']:.4f}; tag accuracy {result['accuracy']:.4f}) on {result['examples']} sentences")
        return 0
    accuracy, matrix, names = result["accuracy"], result["confusion_matrix"], result["label_names"]
    if plots.plots_available():
        plots.plot_confusion_matrix(matrix, names, os.path.join(run.plots_dir, f"confusion_matrix_{split}.png"),
                                    title=f"{run.name}: {split} (accuracy {accuracy:.3f})")
    else:
        notice(f"matplotlib is not installed: skipping plots ({plots.INSTALL_HINT})")
    print(f"{split} accuracy: {accuracy:.4f} ({int(np.trace(matrix))}/{result['examples']} correct)")
    print("confusion matrix (rows: true, columns: predicted; " + ", ".join(names) + "):")
    for name, row in zip(names, matrix):
        print(f"  {name:>12}: " + " ".join(f"{v:6d}" for v in row))
    return 0
