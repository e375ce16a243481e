"""The ``tfbert`` command: fine-tune, evaluate, predict, export, pretrain, convert, presets, info, vocab.

Run ``tfbert --help`` or ``tfbert COMMAND --help``; ``python -m tfbert`` is the
same command. Each command is one module of this package with a ``register``
(its options) and a ``run`` (what it does); ``COMMANDS`` lists them in the
order ``--help`` shows. Options that several commands share are defined once
in ``tfbert.cli.options``.

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

import sys
import traceback
import warnings

import tfbert
from tfbert.cli import convert, evaluate, export, finetune, info, predict, presets, pretrain, vocab
from tfbert.cli.errors import configure_logging, one_line, print_error
from tfbert.cli.options import PROG, CommandParser, HelpFormatter, UsageError, verbose_parent

COMMANDS = [finetune, evaluate, predict, export, pretrain, convert, presets, info, vocab]


def build_parser():
    """The argparse parser of the ``tfbert`` command, with every subcommand."""
    parser = CommandParser(
        prog=PROG, formatter_class=HelpFormatter, parents=[verbose_parent(False)],
        description="tfbert: fine-tune, evaluate, export and serve BERT models (Keras 3 / TensorFlow).",
        epilog="Run `tfbert COMMAND --help` for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {tfbert.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    subparsers.required = True
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def command_names():
    """The subcommands' names, in the order ``--help`` lists them."""
    return [command.__name__.rsplit(".", 1)[-1] for command in COMMANDS]


def main(argv=None):
    """Run the ``tfbert`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
    except UsageError as e:
        # Point at the subcommand's help when the error is about one of its options.
        command = next((a for a in argv if a in command_names()), None)
        print_error(str(e).replace(f"`{PROG} --help`", f"`{PROG} {command} --help`") if command else str(e))
        return 2
    except SystemExit as e:  # --help and --version
        return e.code if isinstance(e.code, int) else 0
    configure_logging(args.verbose)
    try:
        with warnings.catch_warnings():
            if not args.verbose:
                warnings.simplefilter("ignore")
            return args.handler(args) or 0
    except UsageError as e:
        print_error(str(e))
        return 2
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except Exception as e:  # noqa: BLE001 - every failure becomes one line
        if args.verbose:
            traceback.print_exc()
        print_error(one_line(e, hint=not args.verbose))
        return 1
