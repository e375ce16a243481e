"""Vocabulary extension: rows of old ids unchanged, new rows initialised as documented, every writer and
reader (keras-hub, the HF loader, TF1) sees the extended vocabulary, and `tfbert vocab extend` works."""

import json
import struct

import keras
import numpy as np
import pytest

import tfbert
from tfbert import BERT, BertConfig, BertTokenizer
from tfbert.heads.pretraining import MaskedLMHead, NextSentenceHead
from tfbert.tasks.pretrainer import BertPretrainer
from tfbert.vocabulary_extension import new_tokens_from_corpus, unknown_rate

from test_case import minilm_source, shared_data_path

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "i", "am", "a", "programmer", "cat", "##dog", "dog",
         "hello", ",", "。"]
HARD_TEXTS = [
    "我是程序员，I love BERT 模型！",                 # mixed script
    "ＡＢＣ１２３，全角字符。",                         # full-width forms
    "繁體中文：這是一個測試。",                         # traditional characters
    "hi😀 表情符号🎉很好",                              # emoji inside and outside words
    "很" * 3000,                                        # a very long unsegmented line
]


def tiny_bert(vocab=VOCAB):
    return BERT(BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=32, max_position_embeddings=64))


def heads(bert):
    c = bert.config
    mlm = MaskedLMHead(c.vocab_size, c.hidden_size, name="mlm_head")
    nsp = NextSentenceHead(c.hidden_size, name="nsp_head")
    mlm.build()
    nsp.build()
    mlm.output_bias.assign(np.random.default_rng(0).normal(size=c.vocab_size).astype("float32"))
    return mlm, nsp


def test_old_rows_and_bias_stay_bit_exact_and_new_ids_follow_in_order():
    bert = tiny_bert()
    mlm, _ = heads(bert)
    before = {v.path: v.numpy().copy() for v in bert.weights}
    word_path = bert.embeddings.word_embeddings.embeddings.path
    bias = mlm.output_bias.numpy().copy()
    tokenizer = bert.extend_vocabulary(BertTokenizer(VOCAB), ["程", "序", "员", "dog", "程", "catdog"], mlm_head=mlm)
    table = bert.embeddings.word_embeddings.embeddings.numpy()
    assert table.shape == (len(VOCAB) + 4, 16) and bert.config.vocab_size == len(VOCAB) + 4
    assert np.array_equal(table[:len(VOCAB)], before[word_path])
    assert bert.embeddings.word_embeddings.embeddings.path == word_path
    assert np.array_equal(mlm.output_bias.numpy()[:len(VOCAB)], bias) and mlm.vocab_size == len(VOCAB) + 4
    for v in bert.weights:  # every other weight untouched, every path unchanged
        if "word_embeddings" not in v.path:
            assert np.array_equal(v.numpy(), before[v.path]), v.path
    assert sorted(v.path for v in bert.weights) == sorted(before)
    assert tokenizer.vocabulary[len(VOCAB):] == ["程", "序", "员", "catdog"]
    report = bert.vocabulary_extension
    assert report.skipped_existing == ["dog"] and report.skipped_repeated == 1
    assert (report.from_pieces, report.from_unknown) == (1, 3)
    assert tokenizer("程序员 catdog").numpy().tolist() == [15, 16, 17, 18]


def test_bfloat16_weights_keep_their_dtype_and_old_rows():
    bert = BERT(BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=32), dtype="bfloat16")
    table = bert.embeddings.word_embeddings.embeddings
    old = keras.ops.convert_to_numpy(keras.ops.cast(table, "float32"))
    bert.extend_vocabulary(BertTokenizer(VOCAB), ["程", "序"])
    table = bert.embeddings.word_embeddings.embeddings
    assert table.dtype == "bfloat16" and tuple(table.shape) == (len(VOCAB) + 2, 16)
    assert np.array_equal(keras.ops.convert_to_numpy(keras.ops.cast(table, "float32"))[:len(VOCAB)], old)


def test_new_rows_initialisation_pieces_mean_and_unknown_neighbourhood():
    bert = tiny_bert()
    mlm, _ = heads(bert)
    rows = bert.embeddings.word_embeddings.embeddings.numpy().copy()
    bias = mlm.output_bias.numpy().copy()
    bert.extend_vocabulary(BertTokenizer(VOCAB), ["catdog", "程", "序"], mlm_head=mlm, noise_scale=0.1, seed=3)
    new = bert.embeddings.word_embeddings.embeddings.numpy()
    cat, dog_piece, unk = VOCAB.index("cat"), VOCAB.index("##dog"), VOCAB.index("[UNK]")
    np.testing.assert_allclose(new[15], (rows[cat] + rows[dog_piece]) / 2, rtol=1e-6)
    np.testing.assert_allclose(mlm.output_bias.numpy()[15], (bias[cat] + bias[dog_piece]) / 2, rtol=1e-6)
    scale = rows.std()
    for i in (16, 17):  # [UNK] row + noise of std 0.1 * std(old rows)
        assert 0 < np.linalg.norm(new[i] - rows[unk]) < 0.5 * scale * np.sqrt(16)
        np.testing.assert_allclose(mlm.output_bias.numpy()[i], bias[unk] - np.log(2), rtol=1e-6)
    assert not np.array_equal(new[16], new[17])
    again = tiny_bert()
    again.embeddings.word_embeddings.embeddings.assign(rows)
    again.extend_vocabulary(BertTokenizer(VOCAB), ["catdog", "程", "序"], seed=3)
    assert np.array_equal(again.embeddings.word_embeddings.embeddings.numpy(), new)  # deterministic


def test_tokens_the_tokenizer_could_never_produce_are_refused():
    with pytest.raises(ValueError, match=r"'程序员' \(the tokenizer splits CJK"):
        tiny_bert().extend_vocabulary(BertTokenizer(VOCAB), ["程序员"])
    with pytest.raises(ValueError, match="lowercases"):
        tiny_bert().extend_vocabulary(BertTokenizer(VOCAB), ["Hello2"])
    with pytest.raises(ValueError, match="never ## pieces"):
        tiny_bert().extend_vocabulary(BertTokenizer(VOCAB), ["##程"])
    with pytest.raises(ValueError, match="without whitespace"):
        tiny_bert().extend_vocabulary(BertTokenizer(VOCAB), ["a b"])
    with pytest.raises(ValueError, match="has 14 tokens but the model has vocab_size=15"):
        tiny_bert().extend_vocabulary(BertTokenizer(VOCAB[:-1]), ["程"])


def test_keras_still_locks_built_layers_so_the_variable_swap_is_needed():
    bert = tiny_bert()
    with pytest.raises(ValueError, match="cannot add new elements of state"):
        bert.embeddings.word_embeddings = keras.layers.Embedding(20, 16, name="word_embeddings")
    with pytest.raises(ValueError):
        bert.embeddings.word_embeddings.embeddings.assign(np.zeros((20, 16), "float32"))


def test_hard_text_goes_through_corpus_extension_without_unknowns():
    tokenizer = BertTokenizer(VOCAB)
    found = new_tokens_from_corpus(HARD_TEXTS, tokenizer)
    tokens = [t for t, _ in found]
    assert tokens[0] == "很" and "##😀" in tokens and "😀" in tokens and "ａ" in tokens and "這" in tokens
    assert found == new_tokens_from_corpus(HARD_TEXTS, tokenizer)  # deterministic order
    bert = tiny_bert()
    extended = bert.extend_vocabulary(tokenizer, tokens)
    assert unknown_rate(HARD_TEXTS[:4], tokenizer)[0] > 0
    assert unknown_rate(HARD_TEXTS[:4], extended)[0] == 0
    # the 3000-character line is one basic word for the reference tokenizer only if it is not CJK: here each 很
    assert extended(HARD_TEXTS[4]).shape[0] == 3000
    few = new_tokens_from_corpus(HARD_TEXTS, tokenizer, min_count=3000)
    assert [t for t, _ in few] == ["很"]


def test_extended_model_learns_through_the_tied_decoder():
    bert = tiny_bert()
    tokenizer = bert.extend_vocabulary(BertTokenizer(VOCAB), ["程", "序", "员"])
    model = BertPretrainer(bert, preprocessor=tokenizer)
    ids = np.array([[2, 15, 16, 17, 3, 5, 3, 0]] * 4, "int32")
    x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": (ids > 0).astype("int32"),
         "mask_positions": np.array([[1, 3]] * 4, "int32")}
    y = {"mask_ids": np.array([[15, 17]] * 4, "int32"), "mask_weights": np.ones((4, 2), "float32"),
         "next_sentence_label": np.zeros(4, "int32")}
    import tensorflow as tf

    table = bert.embeddings.word_embeddings.embeddings
    assert any(w is table for w in model.trainable_weights)
    x["token_ids"] = np.where(x["token_ids"] == 15, 4, x["token_ids"])  # 程 is masked: only the decoder sees it
    with tf.GradientTape() as tape:
        out = model(x, training=False)
        loss = model.compute_loss(x, y, out)
    assert tuple(out["mlm_logits"].shape) == (4, 2, 18)
    gradient = tf.convert_to_tensor(tape.gradient(loss, table))
    assert float(tf.norm(gradient[15])) > 0  # reached the new row through the tied decoder


def _safetensors_shapes(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
    return {k: v["shape"] for k, v in header.items() if k != "__metadata__"}


def test_every_writer_carries_the_extended_vocabulary(tmp_path):
    import keras_hub

    bert = tiny_bert()
    mlm, nsp = heads(bert)
    tokenizer = bert.extend_vocabulary(BertTokenizer(VOCAB), ["程", "序", "员"], mlm_head=mlm)
    probe = bert.embeddings.word_embeddings.embeddings.numpy()

    bert.save_preset(tmp_path / "kh")
    backbone = keras_hub.models.BertBackbone.from_preset(str(tmp_path / "kh"))
    assert np.array_equal(backbone.token_embedding.embeddings.numpy(), probe)
    kh_tokenizer = keras_hub.models.BertTokenizer.from_preset(str(tmp_path / "kh"))
    assert kh_tokenizer.vocabulary_size() == 18 and kh_tokenizer.token_to_id("员") == 17
    assert np.array_equal(BERT.from_preset(str(tmp_path / "kh")).embeddings.word_embeddings.embeddings.numpy(), probe)

    bert.save_huggingface(tmp_path / "hf", mlm_head=mlm, nsp_head=nsp)
    shapes = _safetensors_shapes(tmp_path / "hf" / "model.safetensors")
    assert shapes["bert.embeddings.word_embeddings.weight"] == [18, 16] and shapes["cls.predictions.bias"] == [18]
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["vocab_size"] == 18
    reloaded = BERT.from_preset(str(tmp_path / "hf"))
    assert np.array_equal(reloaded.embeddings.word_embeddings.embeddings.numpy(), probe)
    head = MaskedLMHead(18, 16, name="mlm_head")
    tfbert.checkpoints.loading.load_pretraining_heads(str(tmp_path / "hf"), mlm_head=head)
    assert np.array_equal(head.output_bias.numpy(), mlm.output_bias.numpy())
    assert BertTokenizer.from_preset(str(tmp_path / "hf"))("程序员").numpy().tolist() == [15, 16, 17]

    bert.save_tf_checkpoint(str(tmp_path / "tf1" / "bert_model.ckpt"), mlm_head=mlm)
    google = BERT.from_tf_checkpoint(str(tmp_path / "tf1" / "bert_model.ckpt"))
    assert google.config.vocab_size == 18
    assert np.array_equal(google.embeddings.word_embeddings.embeddings.numpy(), probe)
    assert (tmp_path / "tf1" / "vocab.txt").read_text(encoding="utf-8").split("\n")[15:18] == ["程", "序", "员"]
    assert tokenizer.vocabulary == BertTokenizer.from_preset(str(tmp_path / "kh")).vocabulary


def test_cli_vocab_extend_from_a_corpus_and_a_token_file(tmp_path, capsys):
    from tfbert.cli import main

    tiny_bert().save_huggingface(tmp_path / "en", vocabulary=VOCAB, lowercase=True)
    (tmp_path / "corpus.txt").write_text("我是程序员。\n程序员很好\n", encoding="utf-8")
    (tmp_path / "tokens.txt").write_text("catdog\nhello\n", encoding="utf-8")
    code = main(["vocab", "extend", str(tmp_path / "en"), "--add", str(tmp_path / "corpus.txt"), "--min-count", "2",
                 "--add-tokens", str(tmp_path / "tokens.txt"), "-o", str(tmp_path / "out"), "--format", "huggingface"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "found 3 new tokens" in out and "1 already present" in out
    vocab = (tmp_path / "out" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab[len(VOCAB):] == ["catdog", "员", "序", "程"]  # listed tokens first, then by count, then code point
    assert main(["vocab", "extend", str(tmp_path / "en"), "--add", str(tmp_path / "corpus.txt"),
                 "-o", str(tmp_path / "out")]) == 1  # exists, no --overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["vocab", "extend", str(tmp_path / "en"), "-o", str(tmp_path / "x")]) == 2
    assert main(["vocab"]) == 2


def test_minilm_learns_chinese_characters_of_chnsenticorp():
    source = minilm_source()
    path = shared_data_path("chnsenticorp", "train.tsv")
    with open(path, encoding="utf-8") as f:
        texts = [line.split("\t", 1)[1] for line in f.read().splitlines()[1:501]]
    tokenizer = BertTokenizer.from_preset(source)
    bert = BERT.from_preset(source)
    old_rows = bert.embeddings.word_embeddings.embeddings.numpy().copy()
    before = unknown_rate(texts, tokenizer)
    extended = bert.extend_vocabulary(tokenizer, [t for t, _ in new_tokens_from_corpus(texts, tokenizer)])
    after = unknown_rate(texts, extended)
    assert before[0] / before[1] > 0.5 and after[0] == 0
    ids = extended("我是程序员").numpy().tolist()
    assert tokenizer.unk_token_id not in ids and len(ids) == 5
    assert np.array_equal(bert.embeddings.word_embeddings.embeddings.numpy()[:30522], old_rows)


def test_cli_keeps_pretraining_heads_and_continued_pretraining_loads_them(tmp_path, capsys):
    from tfbert.cli import main

    bert = tiny_bert()
    mlm, nsp = heads(bert)
    bert.save_huggingface(tmp_path / "en", vocabulary=VOCAB, lowercase=True, mlm_head=mlm, nsp_head=nsp)
    (tmp_path / "corpus.txt").write_text("我是程序员\n", encoding="utf-8")
    assert main(["vocab", "extend", str(tmp_path / "en"), "--add", str(tmp_path / "corpus.txt"),
                 "-o", str(tmp_path / "zh"), "--format", "huggingface"]) == 0
    model = BertPretrainer.from_preset(str(tmp_path / "zh"))
    assert not model.load_report.newly_initialized  # backbone and both heads came from the file
    bias = model.mlm_head.output_bias.numpy()
    assert bias.shape == (20,) and np.array_equal(bias[:len(VOCAB)], mlm.output_bias.numpy())
    np.testing.assert_allclose(bias[len(VOCAB):], mlm.output_bias.numpy()[1] - np.log(5), rtol=1e-6)
    assert np.array_equal(model.nsp_head.dense.kernel.numpy(), nsp.dense.kernel.numpy())
    assert model.preprocessor("我是程序员").numpy().tolist() == [17, 18, 19, 16, 15]  # ids by count, then code point
