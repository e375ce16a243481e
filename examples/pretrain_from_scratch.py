"""Pretrain a BERT from scratch: WordPiece vocabulary, NSP pairs, dynamic MLM masks, resumable fit, fill-mask.

    python examples/pretrain_from_scratch.py             # BERT-mini on the Wikipedia pages in ../shared/data/enwiki
    python examples/pretrain_from_scratch.py --fast      # a tiny model on a few generated sentences: seconds

The flow of google-research/bert's create_pretraining_data.py + run_pretraining.py:
documents -> sentences -> packed [CLS] A [SEP] B [SEP] pairs (B random half the time) ->
15% of the tokens masked (80% [MASK], 10% random, 10% kept), drawn anew every epoch ->
BertPretrainer (tied MLM head + NSP head) trained with AdamW and warmup. Training saves
atomic checkpoints: run it again after an interruption and it continues where it stopped.
"""

import argparse
import glob
import os
import random

import tfbert
from tfbert.data.masking import MaskedLMMasker
from tfbert.data.pretraining_data import build_instances, pretraining_dataset
from tfbert.preprocessing import BertTokenizer
from tfbert.preprocessing.vocabulary import train_wordpiece_vocabulary
from tfbert.tasks import BertPretrainer
from tfbert.training import fit_resumable

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data", "enwiki")


def fast_documents(n=24, seed=0):
    rng = random.Random(seed)
    words = "the river city old bridge people built a stone near market north over years crossed".split()
    return [" ".join(" ".join(rng.choice(words) for _ in range(rng.randint(4, 8))).capitalize() + "."
                     for _ in range(3)) for _ in range(n)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="tiny model and corpus (a smoke test)")
    parser.add_argument("--size", default="mini", help="BERT size: tiny, mini, small, medium, base, large")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--output-dir", default="runs/pretrain_from_scratch")
    args = parser.parse_args(argv)

    if args.fast:
        documents, vocab_size, seq_len, batch, args.steps = fast_documents(), 60, 32, 4, 4
    else:
        dumps = glob.glob(os.path.join(SHARED, "*.bz2"))
        if not dumps:
            parser.exit(2, f"no MediaWiki dump in {SHARED}: pass --fast, or put an enwiki *.xml.bz2 there\n")
        from tfbert.data.wikipedia import load_articles

        documents = [" ".join(paragraphs) for _, paragraphs in load_articles(dumps[0])]
        vocab_size, seq_len, batch = 8000, 128, 32

    vocabulary = train_wordpiece_vocabulary(documents, vocab_size, lowercase=True)
    tokenizer = BertTokenizer(vocabulary, lowercase=True)
    instances = build_instances(documents, tokenizer, max_seq_length=seq_len, dupe_factor=2, seed=0)
    masker = MaskedLMMasker(vocabulary, max_predictions=max(4, seq_len * 15 // 100))
    dataset = pretraining_dataset(instances, masker, batch, seed=0, repeat=True)
    print(f"{len(documents)} documents -> {len(instances['token_ids'])} sequence pairs; vocabulary {len(vocabulary)}")

    sizes = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32) if args.fast else {}
    config = tfbert.BertConfig.from_preset_size(args.size, vocab_size=len(vocabulary),
                                                max_position_embeddings=max(128, seq_len), **sizes)
    model = BertPretrainer(tfbert.BERT(config), preprocessor=tokenizer)
    model.compile(learning_rate=1e-3 if args.fast else 1e-4, num_train_steps=args.steps)
    steps_per_epoch = min(args.steps, 500)
    fit_resumable(model, dataset, epochs=args.steps // steps_per_epoch, steps_per_epoch=steps_per_epoch,
                  checkpoint_dir=os.path.join(args.output_dir, "checkpoints"), verbose=2)

    for row in model.fill_mask(["The [MASK] crossed the river."], top_k=3):
        print("fill-mask:", [(p["token"], round(p["score"], 3)) for p in row[0]])
    model.backbone.save_preset(os.path.join(args.output_dir, "preset"), vocabulary=vocabulary, lowercase=True,
                               overwrite=True)
    print(f"done: backbone preset in {os.path.join(args.output_dir, 'preset')} "
          "(fine-tune it: tfbert finetune --preset that-directory ...)")


if __name__ == "__main__":
    main()
