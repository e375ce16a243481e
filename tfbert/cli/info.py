"""``tfbert info SOURCE``: a model's configuration and parameter counts.

Example:
>>> from tfbert.cli import main
>>> main(["info", "tiny"])  # doctest: +ELLIPSIS
source: tiny (BertConfig size, random weights)
...
parameters: 4,385,920 (embeddings 3,972,864, encoder 396,544, pooler 16,512)
0
"""

import json

import numpy as np

from tfbert.cli.options import subcommand
from tfbert.cli.sources import SOURCE_HELP, backbone_of, load_model_source


def register(subparsers):
    """Add `tfbert info` and its options to the subcommand parsers."""
    p = subcommand(
        subparsers, "info", run, "Show a model's configuration and parameter count",
        f"SOURCE is {SOURCE_HELP}.",
        ["tfbert info minilm_l6_en_uncased", "tfbert info runs/demo", "tfbert info tiny --json"],
    )
    p.add_argument("source", metavar="SOURCE", help="the model to describe (see above)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args):
    """Run `tfbert info` with the parsed arguments; return the exit code."""
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
