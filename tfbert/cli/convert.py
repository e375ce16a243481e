"""``tfbert convert SOURCE DEST --to FORMAT``: a BERT checkpoint from one format to another.

Example:
>>> import os, tempfile
>>> from tfbert.cli import main
>>> dest = os.path.join(tempfile.mkdtemp(), "tiny.keras")
>>> main(["convert", "tiny", dest])  # doctest: +ELLIPSIS
wrote .../tiny.keras (keras) from tiny (BertConfig size, random weights)
0
"""

import os

from tfbert.cli.options import OPTIONS, UsageError, add_option, subcommand
from tfbert.cli.sources import SOURCE_HELP, backbone_of, load_model_source, save_keras


CONVERT_FORMATS = {
    "keras": "a .keras file (the whole model, any tfbert model)",
    "keras_hub": "a keras-hub preset directory (BertBackbone.from_preset loads it)",
    "huggingface": "a Hugging Face directory (config.json + model.safetensors + vocab.txt)",
    "google": "a google-research/bert TF1 checkpoint prefix (+ bert_config.json, vocab.txt)",
}


def register(subparsers):
    """Add `tfbert convert` and its options to the subcommand parsers."""
    p = subcommand(
        subparsers, "convert", run, "Convert a BERT checkpoint between formats",
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


def run(args):
    """Run `tfbert convert` with the parsed arguments; return the exit code."""
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
