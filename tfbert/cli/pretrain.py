"""``tfbert pretrain``: masked-LM + next-sentence pretraining, from scratch or continued from a preset.

From a shell: ``tfbert pretrain --corpus corpus.txt --config mini -o runs/pt --steps 2000``.

Example:
>>> import os, tempfile
>>> from tfbert.cli.pretrain import read_documents
>>> path = os.path.join(tempfile.mkdtemp(), "corpus.txt")
>>> with open(path, "w") as f:
...     _ = f.write("The first document.  It has two sentences.\\n\\nThe second one.\\n")
>>> read_documents(path)
['The first document. It has two sentences.', 'The second one.']
"""

import os
import re

from tfbert.cli.options import (OPTIONS, UsageError, add_distribute_options, add_option, add_training_options,
                                 positive_int, subcommand, with_default)
from tfbert.cli.policy import apply_policy, check_policy
from tfbert.runs import (CHECKPOINT_EVERY, MODEL_FILE, callbacks_for, progress_verbosity, training_length,
                         write_history_plot)
from tfbert.cli.sources import save_keras


PRETRAIN_DEFAULTS = dict(
    preset=None, config="mini", vocab=None, vocab_size=8000, data=None, epochs=None, steps=None, batch_size=32,
    learning_rate=1e-4, policy="float32", seed=42, max_seq_len=128, max_predictions=20, dupe_factor=2,
    random_document_weighting="length", steps_per_epoch=None, whole_word_mask="none", dropout=None,
    static_shapes=False,
)
PRETRAIN_FIXED = ("preset", "config", "vocab", "vocab_size", "data", "batch_size", "max_seq_len",
                  "max_predictions", "dupe_factor", "random_document_weighting", "seed", "policy", "whole_word_mask",
                  "dropout", "static_shapes")
PRESET_DIR = "preset"
DEFAULT_STEPS = 1000  # when neither --steps nor --epochs is given (a default of --steps would override --epochs)


def register(subparsers):
    """Add `tfbert pretrain` and its options to the subcommand parsers."""
    d = PRETRAIN_DEFAULTS
    p = subcommand(
        subparsers, "pretrain", run, "Pretrain BERT with masked-LM + next-sentence prediction",
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
    add_option(length, "steps", help=with_default("steps", DEFAULT_STEPS))
    add_training_options(p, d)
    add_distribute_options(p)
    p.add_argument("--max-predictions", type=positive_int, metavar="N",
                   help=f"masked positions per sequence (default: {d['max_predictions']})")
    p.add_argument("--dupe-factor", type=positive_int, metavar="N",
                   help=f"passes over the corpus with new sentence pairs (default: {d['dupe_factor']})")
    p.add_argument("--random-document-weighting", choices=("length", "uniform"),
                   help="how the document of a random next-sentence B is drawn: in proportion to its length, "
                        "or every document alike as google-research does (on a small corpus 'uniform' lets B's "
                        f"document give the NSP label away) (default: {d['random_document_weighting']})")
    # -- Chinese whole-word masking ------------------------------------------------------------
    p.add_argument("--whole-word-mask", choices=("none", "wordpiece", "zh"),
                   help="mask whole words: 'wordpiece' (a piece with its ## pieces), 'zh' (also the characters of "
                        "a Chinese word as jieba segments it; needs `pip install 'tfbert[zh]'`), or 'none', each "
                        f"token on its own (default: {d['whole_word_mask']})")
    # -- end Chinese whole-word masking ---------------------------------------------------------
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


def _check_settings(settings, explicit_length=True):
    from tfbert.checkpoints.presets import resolve_preset
    from tfbert.config import SIZES

    check_policy(settings)  # a policy this machine cannot run is refused before anything is written
    if settings["steps"] is None and settings["epochs"] is None:
        settings["steps"] = DEFAULT_STEPS  # stored in run.json with the other settings
    if settings["data"] is None:
        raise UsageError("pretrain needs --corpus (see `tfbert pretrain --help`)")
    if settings["preset"] is None and settings["config"] not in SIZES:
        raise UsageError(f"--config must be one of {', '.join(SIZES)}, got {settings['config']!r} "
                         "(see `tfbert pretrain --help`)")
    if settings["vocab"] is not None and not os.path.isfile(settings["vocab"]):
        raise FileNotFoundError(f"vocabulary file not found: {settings['vocab']}.")
    if settings["whole_word_mask"] == "zh":
        from tfbert.data.chinese_words import ChineseWordSegmenter

        ChineseWordSegmenter("jieba")  # fails now, with the install hint, if jieba is missing
    documents = read_documents(settings["data"])
    if settings["preset"] is not None:
        resolve_preset(settings["preset"])
        from tfbert.cli.finetune import _check_max_seq_len

        _check_max_seq_len(settings, explicit_length)
    return documents


def run(args):
    """Run `tfbert pretrain` with the parsed arguments; return the exit code."""
    from tfbert.cli.distributed import start_worker_run, worker_run

    with worker_run(args):  # the tf.distribute strategy first; a non-chief worker's private folder removed after
        run, settings, documents = start_worker_run(args, "pretrain", PRETRAIN_DEFAULTS, PRETRAIN_FIXED,
                                                    check=lambda s: _check_settings(s, args.max_seq_len is not None))
        # the run's lock (a start that fails before its first checkpoint leaves nothing behind); the model is
        # built in the strategy's scope: --batch-size is the global batch, the schedule counts global steps
        with run, args.distribute_strategy.scope():
            return _pretrain(args, run, settings, documents)


def _pretrain(args, run, settings, documents):
    import keras

    from tfbert.cli.distributed import static_shapes
    from tfbert.config import BertConfig
    from tfbert.data.masking import MaskedLMMasker
    from tfbert.data.pretraining_data import build_instances, pretraining_dataset
    from tfbert.distribute import assert_static_shapes, pin_batch_size, tpu_compile_options
    from tfbert.model import BERT
    from tfbert.preprocessing.tokenizer import BertTokenizer
    from tfbert.preprocessing.vocabulary import train_wordpiece_vocabulary, write_vocabulary
    from tfbert.tasks.pretrainer import BertPretrainer
    from tfbert.training import fit_resumable

    keras.utils.set_random_seed(settings["seed"])
    apply_policy(run, settings)  # --policy auto resolved, printed, recorded in run.json
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
    if settings["dropout"] is not None:
        model.override_dropout(settings["dropout"])
    segmenter = None
    if settings["whole_word_mask"] == "zh":
        from tfbert.data.chinese_words import ChineseWordSegmenter

        segmenter = ChineseWordSegmenter("jieba")
    instances = build_instances(documents, tokenizer, max_seq_length=settings["max_seq_len"],
                                dupe_factor=settings["dupe_factor"], seed=settings["seed"],
                                random_document_weighting=settings["random_document_weighting"],
                                word_segmenter=segmenter)
    if segmenter is not None:
        print(f"Chinese whole-word masking: {segmenter.stats}")
    masker = MaskedLMMasker(tokenizer.vocabulary, max_predictions=settings["max_predictions"],
                            whole_word=settings["whole_word_mask"] != "none")
    num = len(instances["token_ids"])
    epochs, steps_per_epoch = training_length(run, settings, num // settings["batch_size"])  # full batches only
    data = pretraining_dataset(instances, masker, settings["batch_size"], seed=settings["seed"], repeat=True)
    total_steps = settings["steps"] or epochs * steps_per_epoch  # --steps N: exactly N, the schedule sized for N
    compile_options = {}
    if static_shapes(args, run, settings):  # a TPU: every batch is already full and padded; declare it, XLA
        data = pin_batch_size(data, settings["batch_size"])
        assert_static_shapes(data)
        compile_options = tpu_compile_options(steps_per_epoch, total_steps=total_steps)
    model.compile(learning_rate=settings["learning_rate"], num_train_steps=total_steps, **compile_options)
    print(f"pretraining on {num} sequence pairs from {len(documents)} documents; "
          f"{epochs} epoch(s) of {steps_per_epoch} steps ({total_steps} in all), batch size {settings['batch_size']}")
    fit_resumable(model, data, epochs=epochs, steps_per_epoch=steps_per_epoch, checkpoint_dir=args.checkpoint_dir,
                  restore_checkpoint=args.resume, save_every=CHECKPOINT_EVERY, callbacks=callbacks_for(run),
                  verbose=progress_verbosity(), total_steps=total_steps)
    save_keras(model, run.file(MODEL_FILE))
    model.backbone.save_preset(run.file(PRESET_DIR), vocabulary=tokenizer.vocabulary, lowercase=tokenizer.lowercase,
                               overwrite=True)
    run.update_record(model=MODEL_FILE, preset=PRESET_DIR, finished=True)
    final = {k: v[-1] for k, v in run.read_metrics().get("history", {}).items() if v}
    run.update_metrics(final=final, instances=num, epochs=epochs, steps_per_epoch=steps_per_epoch)
    write_history_plot(run)
    if args.distribute_strategy.num_replicas_in_sync > 1:  # equal on every worker: identical weights
        from tfbert.distribute import weights_digest

        print(f"weights digest {weights_digest(model)}")
    print(f"saved {run.file(MODEL_FILE)} and the backbone preset {run.file(PRESET_DIR)}; "
          + ", ".join(f"{k} {v:.4f}" for k, v in final.items()))
    return 0
