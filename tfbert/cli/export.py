"""``tfbert export SOURCE``: a TF Serving SavedModel that reads raw text.

Example:
>>> from tfbert.cli import main
>>> main(["export", "--help"])  # doctest: +ELLIPSIS
usage: tfbert export ...
...
0
"""

import os

from tfbert.cli.options import OPTIONS, add_option, subcommand
from tfbert.cli.sources import load_model_source


def register(subparsers):
    """Add `tfbert export` and its options to the subcommand parsers."""
    p = subcommand(
        subparsers, "export", run, "Export a model as a TF Serving SavedModel that reads raw text",
        "Writes EXPORT_DIR/<version>/, the layout TF Serving watches, with a `serving_default` signature "
        "taking raw strings (tokenization runs inside the graph; question/context for qa, text/choices for "
        "multiple_choice) and `serve_tokens` taking token ids; an embedding run gives `embedding` vectors. "
        "SOURCE is a run directory, a .keras file or anything `tfbert info` reads.",
        ["tfbert export runs/rt", "tfbert export runs/rt --export-dir saved_models/rt --version 1 --overwrite",
         "tfbert export runs/rt --max-seq-len 128   # static shapes for TPU/XLA serving",
         "tfbert export runs/rt --xla --max-seq-len 128 --no-warmup"],
    )
    p.add_argument("source", metavar="SOURCE", help="the model to export (see above)")
    p.add_argument("--export-dir", metavar="DIR",
                   help="the model's base directory (default: saved_models/<name of SOURCE>)")
    p.add_argument("--version", type=int, metavar="N", help="version directory (default: the next free number)")
    add_option(p, "max_seq_len", help=OPTIONS["max_seq_len"][1]["help"] + "; exported as static [batch, N] "
                                      "shapes for TPU/XLA (default: each batch padded to its longest input)")
    add_option(p, "overwrite", help=OPTIONS["overwrite"][1]["help"] + ": an existing EXPORT_DIR/<version>")
    # ---- serving options (warm-up requests, XLA) ----
    p.add_argument("--no-warmup", dest="warmup", action="store_false",
                   help="do not write assets.extra/tf_serving_warmup_requests (by default TF Serving replays "
                        "two requests per signature from it at load time, so the first real request is not slow)")
    p.add_argument("--xla", action="store_true",
                   help="compile the model part of each signature with XLA (jit_compile=True) for GPU/TPU "
                        "servers; tokenizing and decoding stay outside. Combine with --max-seq-len for TPUs")


def run(args):
    """Run `tfbert export` with the parsed arguments; return the exit code."""
    from tfbert.export import export_saved_model, next_version

    name = os.path.splitext(os.path.basename(os.path.normpath(args.source)))[0]
    export_dir = args.export_dir or os.path.join("saved_models", name)
    if args.version is not None and os.path.exists(os.path.join(export_dir, str(args.version))) and not args.overwrite:
        raise FileExistsError(f"{os.path.join(export_dir, str(args.version))} already exists; pass --overwrite to "
                              f"replace it, or --version {next_version(export_dir)} (the next free version).")
    model, _ = load_model_source(args.source)
    path = export_saved_model(model, export_dir, version=args.version, sequence_length=args.max_seq_len,
                              overwrite=args.overwrite, warmup=args.warmup, xla=args.xla)
    print(f"exported {args.source} to {path}")
    if getattr(model, "preprocessor", None) is not None:
        print(f"try it: {_try_it(model, path)}")
    return 0


def _try_it(model, path):
    """A `tfbert predict` command line that fits the exported task: read, as `tfbert predict` reads the
    SavedModel, from the raw-text inputs its serving module declares."""
    from tfbert.cli.records import signature_kind
    from tfbert.serving import serving_class

    kind = signature_kind(serving_class(model).text_inputs)
    if kind == "qa":
        return (f"tfbert predict {path} --question 'Who designed the tower?' "
                "--context 'The tower was designed by Gustave Eiffel.'")
    if kind == "multiple_choice":
        return f"tfbert predict {path} --context 'She opens the door' --choice 'and walks in.' --choice 'and eats it.'"
    return f"tfbert predict {path} 'a great movie'"
