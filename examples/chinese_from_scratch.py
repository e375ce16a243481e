"""Chinese BERT offline, two recipes: from scratch (从零开始), and teaching the English MiniLM Chinese.

    python examples/chinese_from_scratch.py                      # both recipes on ../shared/data/chnsenticorp
    python examples/chinese_from_scratch.py --recipe continued   # only MiniLM + Chinese characters
    python examples/chinese_from_scratch.py --fast               # tiny models and data: seconds

from scratch: a character vocabulary learned from the corpus -> BERT-mini pretrained with
masked-LM + next-sentence prediction and Chinese whole-word masking (jieba words, characters
as tokens) -> fine-tuned on ChnSentiCorp sentiment.
continued: MiniLM's vocabulary extended with the corpus' characters that it maps to [UNK]
(new rows start from [UNK] + small noise) -> masked-LM pretraining continued with whole-word
masking -> fine-tuned.

Data: the corpus is the text of ChnSentiCorp's train.tsv minus a held-out split (10%,
seeded) that neither pretraining nor model selection sees; each review is a document (its
sentences give the next-sentence pairs). Model selection (the best fine-tuning epoch) uses
dev.tsv; the reported accuracy is on the held-out split. Every stage prints its wall time and
the [UNK] rate of the tokenizer is printed before and after; everything also goes to
OUTPUT_DIR/results.json. Whole-word masking needs jieba (pip install 'tfbert[zh]'); --fast falls
back to WordPiece whole words without it.

The step and epoch defaults are an estimate of about an hour per recipe on 2 CPU cores, scaled
from MiniLM fine-tuning on ChnSentiCorp (616 steps of 32 in 21.8 minutes); neither the wall
times nor the accuracies of the full recipes have been measured yet.
"""

import argparse
import json
import os
import time

import numpy as np

import tfbert
from tfbert.data import ClassificationData, TextExample, random_split, read_text_table
from tfbert.data.masking import MaskedLMMasker
from tfbert.data.pipeline import classification_dataset
from tfbert.data.pretraining_data import build_instances, pretraining_dataset
from tfbert.fileio import atomic_write_text
from tfbert.tasks import BertMaskedLM, BertPretrainer
from tfbert.vocabulary_extension import character_vocabulary, new_tokens_from_corpus, unknown_rate

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data", "chnsenticorp")

FAST_POSITIVE = ["这家酒店很干净，服务也很好。下次还会再来！", "房间宽敞明亮，早餐丰富。位置方便，推荐。",
                 "这本书写得非常精彩。我很喜欢作者的故事。", "我是程序员，这台电脑速度很快。性价比高，满意。"]
FAST_NEGATIVE = ["房间又小又脏，服务态度很差。不会再来了。", "早餐难吃，隔音不好。晚上太吵，睡不着。",
                 "这本书内容空洞，很失望。浪费时间。", "电脑经常死机，散热很差。售后也不理人。"]


def fast_data():
    """(train, dev, held-out) ClassificationData of the tiny inline reviews."""
    def data(repeat):
        examples = [TextExample(t, 1) for t in FAST_POSITIVE * repeat] + [TextExample(t, 0) for t in FAST_NEGATIVE * repeat]
        return ClassificationData(examples, num_classes=2)
    return data(4), data(1), data(1)


def chnsenticorp(directory, held_out=0.1, seed=0):
    """(train, dev, held-out): train.tsv minus a seeded held-out split, dev.tsv for model selection."""
    def read(name):
        return read_text_table(os.path.join(directory, name), text_column="text_a", label_column="label",
                               label_names=["0", "1"])

    train, test = random_split(read("train.tsv"), held_out, seed=seed)
    return train, read("dev.tsv"), test


def segmenter_or_none(fast):
    from tfbert.data.chinese_words import ChineseWordSegmenter

    try:
        return ChineseWordSegmenter("jieba")
    except ImportError as e:
        if not fast:
            raise
        print(f"note: {e} Using WordPiece whole words only.")
        return None


class Timer:
    def __init__(self):
        self.stages = []

    def stage(self, name):
        timer = self

        class _Stage:
            def __enter__(self):
                self.start = time.perf_counter()
                print(f"== {name}")

            def __exit__(self, *exc):
                seconds = time.perf_counter() - self.start
                timer.stages.append((name, seconds))
                print(f"   {name}: {seconds:.1f} s")
                return False

        return _Stage()


def unk_line(label, texts, tokenizer):
    unknown, total = unknown_rate(texts, tokenizer)
    print(f"   [UNK] rate {label}: {100.0 * unknown / max(total, 1):.2f}% ({unknown} of {total} tokens)")
    return unknown / max(total, 1)


def pretrain(model, tokenizer, documents, args, segmenter, learning_rate, steps):
    instances = build_instances(documents, tokenizer, max_seq_length=args.max_seq_len, dupe_factor=args.dupe_factor,
                                seed=args.seed, word_segmenter=segmenter)
    if segmenter is not None:
        print(f"   whole-word masking: {segmenter.stats}")
    masker = MaskedLMMasker(tokenizer.vocabulary, max_predictions=max(2, args.max_seq_len * 15 // 100),
                            whole_word=True)
    data = pretraining_dataset(instances, masker, args.batch_size, seed=args.seed, repeat=True)
    # A progress line every epoch of at most 250 steps; epochs of equal length that add up to exactly `steps`.
    per_epoch = next(n for n in range(min(steps, 250), 0, -1) if steps % n == 0)
    epochs = steps // per_epoch
    print(f"   {len(documents)} documents -> {len(instances['token_ids'])} sequence pairs; "
          f"{epochs * per_epoch} steps of {args.batch_size}")
    model.compile(learning_rate=learning_rate, num_train_steps=epochs * per_epoch)
    history = model.fit(data, epochs=epochs, steps_per_epoch=per_epoch, shuffle=False,  # the pipeline shuffles
                        verbose=2 if not args.fast else 0)
    print("   " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.history.items()))


def accuracy(model, data):
    predicted = np.argmax(model.predict(classification_dataset(data, model.preprocessor, batch_size=64,
                                                               bucket=False), verbose=0), axis=-1)
    return float(np.mean(predicted == np.asarray(data.labels)))


def fine_tune(preset, train, dev, test, args, learning_rate, epochs):
    """Fine-tune for ``epochs``, keep the epoch best on dev, return (dev, held-out) accuracy."""
    model = tfbert.BertClassifier.from_preset(preset, num_classes=2, sequence_length=args.max_seq_len)
    data = classification_dataset(train, model.preprocessor, batch_size=args.batch_size, shuffle=True, seed=args.seed,
                                  bucket=not args.fast)  # --fast: one static shape, one trace
    model.compile(learning_rate=learning_rate, num_train_steps=len(data) * epochs)
    best, best_weights = -1.0, None
    for epoch in range(epochs):
        model.fit(data, epochs=1, shuffle=False, verbose=2 if not args.fast else 0)
        dev_accuracy = accuracy(model, dev)
        print(f"   epoch {epoch + 1}: dev accuracy {dev_accuracy:.4f}")
        if dev_accuracy > best:
            best, best_weights = dev_accuracy, model.get_weights()
    model.set_weights(best_weights)
    return best, accuracy(model, test)


def from_scratch(train, dev, test, args, timer, segmenter):
    texts = [e.text for e in train]
    with timer.stage("scratch: character vocabulary"):
        vocabulary = character_vocabulary(texts, min_count=1 if args.fast else 2)
        tokenizer = tfbert.BertTokenizer(vocabulary)
        print(f"   {len(vocabulary)} tokens")
        unk = {"train": unk_line("on the training texts", texts, tokenizer),
               "held_out": unk_line("on the held-out texts", [e.text for e in test], tokenizer)}
    sizes = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32) if args.fast else {}
    config = tfbert.BertConfig.from_preset_size(args.size, vocab_size=len(vocabulary),
                                                max_position_embeddings=max(128, args.max_seq_len), **sizes)
    with timer.stage(f"scratch: pretrain BERT-{args.size} (MLM + NSP, whole-word masking)"):
        model = BertPretrainer(tfbert.BERT(config), preprocessor=tokenizer)
        pretrain(model, tokenizer, texts, args, segmenter, 1e-3 if args.fast else args.scratch_lr, args.scratch_steps)
        preset = os.path.join(args.output_dir, "scratch_preset")
        model.backbone.save_preset(preset, vocabulary=vocabulary, lowercase=True, overwrite=True)
    with timer.stage("scratch: fine-tune on ChnSentiCorp"):
        dev_accuracy, test_accuracy = fine_tune(preset, train, dev, test, args, 1e-3 if args.fast else 1e-4,
                                                args.scratch_epochs)
    print(f"   scratch: dev accuracy {dev_accuracy:.4f}, held-out accuracy {test_accuracy:.4f}")
    return {"vocabulary_size": len(vocabulary), "unk_rate": unk, "dev_accuracy": dev_accuracy,
            "held_out_accuracy": test_accuracy}


def continued(train, dev, test, args, timer, segmenter):
    texts = [e.text for e in train]
    with timer.stage("continued: extend the vocabulary"):
        if args.fast:
            from _fast import tiny_preset

            source = tiny_preset(["this is a tiny english vocabulary"])
        else:
            source = args.preset
        tokenizer = tfbert.BertTokenizer.from_preset(source)
        bert = tfbert.BERT.from_preset(source)
        found = new_tokens_from_corpus(texts, tokenizer, min_count=1 if args.fast else 2)
        extended = bert.extend_vocabulary(tokenizer, [t for t, _ in found], seed=args.seed)
        print(f"   {bert.vocabulary_extension}")
        unk = {"train_before": unk_line("on the training texts, before", texts, tokenizer),
               "train_after": unk_line("on the training texts, after", texts, extended),
               "held_out_after": unk_line("on the held-out texts, after", [e.text for e in test], extended)}
        ids = extended("我是程序员").numpy().tolist()
        print(f"   我是程序员 -> {ids} {[extended.id_to_token(i) for i in ids]}")
    with timer.stage("continued: masked-LM pretraining (whole-word masking)"):
        model = BertMaskedLM(bert, preprocessor=extended)
        pretrain(model, extended, texts, args, segmenter, 1e-3 if args.fast else args.continued_lr,
                 args.continued_steps)
        preset = os.path.join(args.output_dir, "continued_preset")
        bert.save_preset(preset, overwrite=True)
    with timer.stage("continued: fine-tune on ChnSentiCorp"):
        dev_accuracy, test_accuracy = fine_tune(preset, train, dev, test, args, 1e-3 if args.fast else 1e-4,
                                                args.continued_epochs)
    print(f"   continued: dev accuracy {dev_accuracy:.4f}, held-out accuracy {test_accuracy:.4f}")
    return {"vocabulary_size": bert.config.vocab_size, "unk_rate": unk, "dev_accuracy": dev_accuracy,
            "held_out_accuracy": test_accuracy, "example_ids": ids}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="tiny models and inline data (a smoke test)")
    parser.add_argument("--recipe", choices=("scratch", "continued", "both"), default="both")
    parser.add_argument("--data", default=SHARED, help="folder with ChnSentiCorp train.tsv and dev.tsv")
    parser.add_argument("--preset", default="minilm_l6_en_uncased", help="checkpoint of the continued recipe")
    parser.add_argument("--size", default="mini", help="from-scratch BERT size: tiny, mini, small, ...")
    parser.add_argument("--max-train", type=int, help="use at most this many training reviews (a quick run)")
    # Defaults sized (estimated, not yet measured) for about 60 minutes per recipe on 2 CPU cores.
    parser.add_argument("--scratch-steps", type=int, default=3500, help="pretraining steps of the scratch recipe")
    parser.add_argument("--continued-steps", type=int, default=700, help="MLM steps of the continued recipe")
    parser.add_argument("--scratch-epochs", type=int, default=3, help="fine-tuning epochs after scratch pretraining")
    parser.add_argument("--continued-epochs", type=int, default=2, help="fine-tuning epochs of the continued recipe")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-len", type=int, default=128)
    parser.add_argument("--dupe-factor", type=int, default=5)
    parser.add_argument("--scratch-lr", type=float, default=5e-4, help="peak learning rate of scratch pretraining")
    parser.add_argument("--continued-lr", type=float, default=1e-4, help="peak learning rate of continued pretraining")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="runs/chinese")
    args = parser.parse_args(argv)

    if args.fast:
        train, dev, test = fast_data()
        args.scratch_steps = args.continued_steps = 2
        args.scratch_epochs = args.continued_epochs = 1
        args.batch_size, args.max_seq_len = 4, 32
        args.dupe_factor, args.size = 1, "tiny"
    else:
        if not os.path.isfile(os.path.join(args.data, "train.tsv")):
            parser.exit(2, f"{args.data}/train.tsv not found: pass --data (ChnSentiCorp) or --fast\n")
        train, dev, test = chnsenticorp(args.data, seed=args.seed)
        if args.max_train:
            train = train.sample(args.max_train, seed=args.seed)
    print(f"ChnSentiCorp: {len(train)} training, {len(dev)} dev (model selection), {len(test)} held-out reviews")
    os.makedirs(args.output_dir, exist_ok=True)
    timer, results = Timer(), {}
    start = time.perf_counter()
    if args.recipe in ("scratch", "both"):
        results["scratch"] = from_scratch(train, dev, test, args, timer, segmenter_or_none(args.fast))
    if args.recipe in ("continued", "both"):
        results["continued"] = continued(train, dev, test, args, timer, segmenter_or_none(args.fast))
    total = time.perf_counter() - start
    print("stage wall times: " + "; ".join(f"{name} {seconds:.0f} s" for name, seconds in timer.stages))
    summary = {"settings": vars(args), "recipes": results, "stages_s": dict(timer.stages), "total_s": total,
               "examples": {"train": len(train), "dev": len(dev), "held_out": len(test)}}
    atomic_write_text(os.path.join(args.output_dir, "results.json"), json.dumps(summary, indent=2) + "\n")
    print("done: held-out accuracy " + ", ".join(f"{k} {v['held_out_accuracy']:.4f}" for k, v in results.items())
          + f"; {total:.0f} s in all; {os.path.join(args.output_dir, 'results.json')}")


if __name__ == "__main__":
    main()
