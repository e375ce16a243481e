"""Chinese whole-word masking: segmenter words over character tokens, checked alignment with counted
fallbacks, flags carried through packing, whole words masked, jieba as an optional extra."""

import sys

import numpy as np
import pytest

from tfbert import BertTokenizer
from tfbert.data.chinese_words import ChineseWordSegmenter, word_continuations
from tfbert.data.masking import MaskedLMMasker
from tfbert.data.pretraining_data import (build_instances, create_instances, pretraining_dataset,
                                          tokenize_documents, tokenize_documents_with_words)
from tfbert.vocabulary_extension import new_tokens_from_corpus

from test_vocabulary_extension import HARD_TEXTS

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
DOCS = ["我是程序员，我喜欢自然语言处理。使用语言模型来预测下一个词。",
        "今天天气很好。我们去公园散步吧！BERT 模型很有用。",
        "深度学习改变了人工智能。机器翻译越来越准确了。"]


def char_tokenizer(texts):
    base = SPECIAL + ["bert"]
    return BertTokenizer(base + [t for t, _ in new_tokens_from_corpus(texts, BertTokenizer(base))])


def spans(tokenizer, text):
    _, starts, ends = tokenizer.tokenize_with_offsets([text])
    return starts.to_list()[0], ends.to_list()[0]


def test_words_become_continuation_flags():
    tokenizer = char_tokenizer(["用bert模型"])
    segmenter = ChineseWordSegmenter(lambda text: ["用", "bert", "模型"])
    assert word_continuations("用bert模型", *spans(tokenizer, "用bert模型"), segmenter) == [0, 0, 0, 1]
    assert segmenter.stats.fallback_words == 0 and segmenter.stats.multi_character_words == 1


def test_a_segmenter_that_disagrees_with_the_tokens_falls_back_to_single_characters():
    tokenizer = char_tokenizer(["用bert模型"])
    crossing = ChineseWordSegmenter(lambda text: ["用b", "ert模", "型"])  # splits the token "bert"
    assert word_continuations("用bert模型", *spans(tokenizer, "用bert模型"), crossing) == [0, 0, 0, 0]
    assert crossing.stats.fallback_words == 2 and crossing.stats.fallback_sentences == 0
    rewriting = ChineseWordSegmenter(lambda text: ["用", "BERT", "模型"])  # does not spell the text
    assert word_continuations("用bert模型", *spans(tokenizer, "用bert模型"), rewriting) == [0, 0, 0, 0]
    assert rewriting.stats.fallback_sentences == 1
    with pytest.raises(TypeError, match="list of strings"):
        word_continuations("用", [0], [1], ChineseWordSegmenter(lambda text: "用"))


def test_flags_travel_with_their_tokens_and_packing_is_unchanged():
    tokenizer = char_tokenizer(DOCS)
    segmenter = ChineseWordSegmenter(lambda text: [text[i:i + 2] for i in range(0, len(text), 2)])  # pairs
    tokenized, flags = tokenize_documents_with_words(DOCS, tokenizer, segmenter)
    assert tokenized == tokenize_documents(DOCS, tokenizer)
    kwargs = dict(cls_id=2, sep_id=3, max_seq_length=20, seed=5, dupe_factor=3)
    plain = create_instances(tokenized, **kwargs)
    with_words = create_instances(tokenized, word_continuations=flags, **kwargs)
    for name in ("token_ids", "segment_ids", "padding_mask", "next_sentence_label"):
        assert np.array_equal(plain[name], with_words[name]), name
    assert flags[0][0] == [0, 1] * 8  # 我是 程序 员， 我喜 欢自 然语 言处 理。: one character token each
    seen = {}
    for doc_ids, doc_flags in zip(tokenized, flags):
        for sentence, sentence_flags in zip(doc_ids, doc_flags):
            assert sentence_flags[0] == 0
            for token, flag in zip(sentence, sentence_flags):
                seen.setdefault(token, set()).add(flag)
    ids, cont = with_words["token_ids"], with_words["word_continuation"]
    specials = np.isin(ids, [0, 2, 3])
    assert not cont[specials].any()
    first = np.zeros_like(specials)
    first[:, 1:] = specials[:, :-1]
    assert not cont[first & ~specials].any()  # the first token of a segment starts a word
    for token, flag in zip(ids[~first & ~specials], cont[~first & ~specials]):
        assert flag in seen[int(token)]  # a packed token keeps a flag it had in its sentence
    always_one = [t for t, f in seen.items() if f == {1}]
    inner = ~first & ~specials & np.isin(ids, always_one)
    assert inner.any() and cont[inner].all()
    with pytest.raises(ValueError, match="sentence by sentence"):
        create_instances(tokenized, word_continuations=[f[:-1] for f in flags], **kwargs)


def test_masks_cover_whole_words_only():
    vocab = SPECIAL + [chr(0x4E00 + i) for i in range(50)]
    rng = np.random.default_rng(0)
    ids = rng.integers(5, len(vocab), (64, 40)).astype("int32")
    ids[:, 0], ids[:, -1] = 2, 3
    words = (rng.random((64, 40)) < 0.6).astype("int32")
    words[:, :2], words[:, -1] = 0, 0
    masker = MaskedLMMasker(vocab, mask_rate=0.2, max_predictions=10, whole_word=True)
    out = masker(ids, np.ones_like(ids), seed=[3, 4], word_continuation=words)
    chosen = np.zeros_like(ids, bool)
    for row, (positions, weights) in enumerate(zip(out["mask_positions"].numpy(), out["mask_weights"].numpy())):
        chosen[row, positions[weights > 0]] = True
    word_index = np.cumsum(1 - words, axis=1)
    for row in range(64):
        for w in np.unique(word_index[row][chosen[row]]):
            assert chosen[row][word_index[row] == w].all(), (row, w)  # a chosen word is chosen whole
    assert (chosen & (words == 1)).any()  # multi-character words do get masked
    with pytest.raises(ValueError, match="whole_word=True"):
        MaskedLMMasker(vocab)(ids, np.ones_like(ids), seed=1, word_continuation=words)


def test_missing_jieba_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "jieba", None)
    with pytest.raises(ImportError, match=r"pip install 'tfbert\[zh\]'"):
        ChineseWordSegmenter()


def test_hard_text_goes_through_jieba_segmentation_and_masking():
    pytest.importorskip("jieba", reason="jieba is not installed (the `zh` extra)")
    texts = HARD_TEXTS + DOCS
    tokenizer = char_tokenizer(texts)
    segmenter = ChineseWordSegmenter("jieba")
    instances = build_instances(texts, tokenizer, max_seq_length=48, word_segmenter=segmenter, seed=0)
    stats = segmenter.stats
    assert stats.sentences > 5 and stats.multi_character_words > 5
    assert instances["word_continuation"].sum() > 0
    masker = MaskedLMMasker(tokenizer.vocabulary, max_predictions=8, whole_word=True)
    x, y = next(iter(pretraining_dataset(instances, masker, 4, seed=0)))
    assert x["token_ids"].shape == (4, 48) and float(y["mask_weights"].numpy().sum()) > 0


def test_cli_pretrain_whole_word_mask_zh(tmp_path, capsys):
    pytest.importorskip("jieba", reason="jieba is not installed (the `zh` extra)")
    from tfbert.cli import main

    corpus = tmp_path / "zh.txt"
    corpus.write_text("\n\n".join(DOCS * 4) + "\n", encoding="utf-8")
    code = main(["pretrain", "--corpus", str(corpus), "--config", "tiny", "--vocab-size", "120", "-o",
                 str(tmp_path / "pt"), "--steps", "1", "--batch-size", "2", "--max-seq-len", "24",
                 "--max-predictions", "3", "--whole-word-mask", "zh"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Chinese whole-word masking: segmented" in out and "fell back to single characters for 0 words" in out


def test_cli_pretrain_zh_without_jieba_fails_before_writing(tmp_path, capsys, monkeypatch):
    from tfbert.cli import main

    monkeypatch.setitem(sys.modules, "jieba", None)
    corpus = tmp_path / "zh.txt"
    corpus.write_text("\n\n".join(DOCS) + "\n", encoding="utf-8")
    code = main(["pretrain", "--corpus", str(corpus), "-o", str(tmp_path / "pt"), "--whole-word-mask", "zh"])
    assert code == 1 and "tfbert[zh]" in capsys.readouterr().err
    assert not (tmp_path / "pt").exists()


def test_offline_records_mask_whole_chinese_words(tmp_path):
    from tfbert.data.pretraining_records import read_pretraining_records, write_pretraining_records

    tokenizer = char_tokenizer(DOCS)
    segmenter = ChineseWordSegmenter(lambda text: [text[i:i + 3] for i in range(0, len(text), 3)])  # triples
    instances = build_instances(DOCS * 4, tokenizer, max_seq_length=24, word_segmenter=segmenter, seed=0)
    masker = MaskedLMMasker(tokenizer.vocabulary, mask_rate=0.3, max_predictions=6, whole_word=True)
    write_pretraining_records(instances, masker, str(tmp_path / "records"), seed=1)
    x, y = next(iter(read_pretraining_records(str(tmp_path / "records"), len(instances["token_ids"]), shuffle=False)))
    words = instances["word_continuation"]
    word_index = np.cumsum(1 - words, axis=1)
    for row, (positions, weights) in enumerate(zip(x["mask_positions"].numpy(), y["mask_weights"].numpy())):
        chosen = np.zeros(words.shape[1], bool)
        chosen[positions[weights > 0]] = True
        for w in np.unique(word_index[row][chosen]):
            assert chosen[word_index[row] == w].all()


def test_cli_spells_out_the_whole_word_mask_choices():
    from tfbert import cli
    from tfbert.data.pretraining_data import WHOLE_WORD_MASKS

    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    choices = next(a.choices for a in commands["pretrain"]._actions if a.dest == "whole_word_mask")
    assert tuple(choices) == WHOLE_WORD_MASKS  # spelled out to keep --help free of TensorFlow imports
