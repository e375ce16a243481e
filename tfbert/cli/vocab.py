"""``tfbert vocab extend PRESET --add CORPUS -o DIR``: teach a checkpoint new characters or tokens.

``--add FILE`` reads a text corpus and adds every character that the
checkpoint's tokenizer maps to ``[UNK]`` at least ``--min-count`` times (most
frequent first); ``--add-tokens FILE`` adds the tokens of a file, one a line, as
given. Both may be repeated. The word embeddings (and the MLM head, when the
checkpoint has one) grow as ``tfbert.vocabulary_extension`` describes; the
result is written to DIR as a keras-hub preset (default), a Hugging Face
directory or a Google checkpoint, with the extended vocabulary.

Example:
>>> import os, tempfile
>>> from tfbert import BERT, BertConfig
>>> from tfbert.cli import main
>>> work = tempfile.mkdtemp()
>>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "i", "am", "a", "programmer"]
>>> BERT(BertConfig(vocab_size=9, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
...                 intermediate_size=32)).save_huggingface(os.path.join(work, "en"), vocabulary=vocab, lowercase=True)
>>> with open(os.path.join(work, "corpus.txt"), "w", encoding="utf-8") as f:
...     _ = f.write("我是程序员\\n")
>>> main(["vocab", "extend", os.path.join(work, "en"), "--add", os.path.join(work, "corpus.txt"),
...       "-o", os.path.join(work, "zh")])  # doctest: +ELLIPSIS
found 5 new tokens in 1 corpus file(s) (min count 1)
vocabulary 9 -> 14 tokens: 5 added (0 initialised from their old pieces, 5 from [UNK] + noise), ...
[UNK] rate of the corpus: 100.00% (5 of 5 tokens) before, 0.00% (0 of 5) after
wrote .../zh (keras_hub)
0
"""

import argparse
import os

from tfbert.cli.options import OPTIONS, UsageError, add_option, positive_int, subcommand

EXTEND_FORMATS = {
    "keras_hub": "a keras-hub preset directory (BertBackbone.from_preset loads it; no pretraining heads)",
    "huggingface": "a Hugging Face directory (config.json + model.safetensors + vocab.txt, heads included)",
    "google": "a google-research/bert TF1 checkpoint DIR/bert_model.ckpt (+ bert_config.json, vocab.txt)",
}
GOOGLE_PREFIX = "bert_model.ckpt"


def register(subparsers):
    """Add `tfbert vocab` (with its `extend` subcommand) to the subcommand parsers."""
    from tfbert.cli.options import CommandParser, verbose_parent

    p = subcommand(
        subparsers, "vocab", _missing_action, "Extend a checkpoint's vocabulary",
        "`tfbert vocab extend PRESET` adds tokens to a checkpoint: the word-embedding matrix and the tied "
        "masked-LM decoder grow, old token ids keep their rows exactly, new rows start from the mean of the "
        "token's old pieces or, for characters the old tokenizer maps to [UNK] (Chinese characters in an "
        "English vocabulary), from the [UNK] row plus small noise.",
        ["tfbert vocab extend minilm_l6_en_uncased --add chinese.txt --min-count 2 -o minilm_zh",
         "tfbert vocab extend minilm_l6_en_uncased --add-tokens new_tokens.txt -o minilm_plus --format huggingface"],
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", title="actions", parser_class=CommandParser,
                               help="extend: add tokens to a checkpoint (`tfbert vocab extend --help`)")
    e = actions.add_parser("extend", help="add tokens to a checkpoint's vocabulary and embeddings",
                           formatter_class=p.formatter_class, parents=[verbose_parent(argparse.SUPPRESS)])
    e.set_defaults(handler=run, command="vocab")
    e.add_argument("preset", metavar="PRESET", help=OPTIONS["preset"][1]["help"])
    e.add_argument("--add", action="append", default=[], metavar="CORPUS",
                   help="a text file: add its characters that the tokenizer maps to [UNK] (repeatable)")
    e.add_argument("--add-tokens", action="append", default=[], metavar="FILE",
                   help="a file of tokens, one a line, to add as given (repeatable)")
    e.add_argument("--min-count", type=positive_int, default=1, metavar="N",
                   help="add a corpus character only if it occurs at least N times (default: 1)")
    e.add_argument("--max-tokens", type=positive_int, metavar="N",
                   help="add at most the N most frequent corpus characters (default: all)")
    add_option(e, "output_dir", help="where to write the extended checkpoint")
    e.add_argument("--format", choices=tuple(EXTEND_FORMATS), default="keras_hub",
                   help="; ".join(f"{k}: {v}" for k, v in EXTEND_FORMATS.items()) + " (default: keras_hub)")
    e.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the noise on new rows (default: 0)")
    add_option(e, "overwrite", help=OPTIONS["overwrite"][1]["help"] + ": DIR")


def _missing_action(args):
    raise UsageError("vocab needs an action: `tfbert vocab extend PRESET --add CORPUS -o DIR` "
                     "(see `tfbert vocab --help`)")


def read_corpus(path):
    """The lines of a text file (``.bz2``/``.gz``/``.xz`` decompressed), as a list of strings."""
    from tfbert.data.csv_text import open_text

    with open_text(path) as f:
        return f.read().splitlines()


def read_token_file(path):
    """Tokens of a file, one a line; blank lines are skipped."""
    from tfbert.data.csv_text import open_text

    with open_text(path) as f:
        return [line.strip() for line in f.read().splitlines() if line.strip()]


def run(args):
    """Run `tfbert vocab extend` with the parsed arguments; return the exit code."""
    from tfbert.checkpoints.loading import load_pretraining_heads
    from tfbert.heads.pretraining import MaskedLMHead, NextSentenceHead
    from tfbert.model import BERT
    from tfbert.preprocessing.tokenizer import BertTokenizer
    from tfbert.vocabulary_extension import new_tokens_from_corpus, unknown_rate

    if not args.add and not args.add_tokens:
        raise UsageError("vocab extend needs --add CORPUS or --add-tokens FILE (see `tfbert vocab extend --help`)")
    target = os.path.join(args.output_dir, GOOGLE_PREFIX) if args.format == "google" else args.output_dir
    if os.path.exists(args.output_dir) and not args.overwrite and (args.format != "google"
                                                                    or os.path.exists(target + ".index")):
        raise FileExistsError(f"{args.output_dir} already exists; pass --overwrite to replace it.")
    texts = [line for path in args.add for line in read_corpus(path)]  # read everything before the model
    listed = [token for path in args.add_tokens for token in read_token_file(path)]
    tokenizer = BertTokenizer.from_preset(args.preset)
    bert = BERT.from_preset(args.preset)
    new_tokens = list(listed)
    if args.add:
        found = new_tokens_from_corpus(texts, tokenizer, min_count=args.min_count, max_tokens=args.max_tokens)
        print(f"found {len(found)} new tokens in {len(args.add)} corpus file(s) (min count {args.min_count})")
        new_tokens += [token for token, _ in found]
    c = bert.config
    mlm = MaskedLMHead(c.vocab_size, c.hidden_size, c.hidden_act, c.layer_norm_eps, c.initializer_range,
                       name="mlm_head")
    nsp = NextSentenceHead(c.hidden_size, c.initializer_range, name="nsp_head")
    heads = load_pretraining_heads(args.preset, mlm_head=mlm, nsp_head=nsp)
    has_mlm = any(name.startswith("mlm_head/") for name in heads.loaded)
    has_nsp = any(name.startswith("nsp_head/") for name in heads.loaded)
    extended = bert.extend_vocabulary(tokenizer, new_tokens, mlm_head=mlm if has_mlm else None, seed=args.seed)
    print(bert.vocabulary_extension)
    if texts:
        before, total = unknown_rate(texts, tokenizer)
        after, total_after = unknown_rate(texts, extended)
        print(f"[UNK] rate of the corpus: {_percent(before, total)} ({before} of {total} tokens) before, "
              f"{_percent(after, total_after)} ({after} of {total_after}) after")
    mlm_head, nsp_head = (mlm if has_mlm else None), (nsp if has_nsp else None)
    if args.format == "keras_hub":
        if has_mlm or has_nsp:
            print("note: keras-hub presets hold no pretraining heads; use --format huggingface to keep them")
        bert.save_preset(args.output_dir, overwrite=args.overwrite)
    elif args.format == "huggingface":
        bert.save_huggingface(args.output_dir, mlm_head=mlm_head, nsp_head=nsp_head, overwrite=args.overwrite)
    else:
        bert.save_tf_checkpoint(target, mlm_head=mlm_head, nsp_head=nsp_head)
    print(f"wrote {args.output_dir} ({args.format})")
    return 0


def _percent(part, total):
    return f"{100.0 * part / total:.2f}%" if total else "n/a"
