"""Text inputs that used to lose text silently or fail a whole batch: short pair lengths, invalid UTF-8, surrogates."""

import numpy as np
import pytest
import tensorflow as tf

from tfbert.preprocessing import BertPreprocessor, BertTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "film", "bad", "\ufffd"]


@pytest.fixture(scope="module")
def tokenizer():
    return BertTokenizer(VOCAB, lowercase=True)


# ---- sequence lengths that hold [CLS] a [SEP] (b [SEP]) ------------------------------------------
@pytest.mark.parametrize("length", [1, 2])
def test_a_length_without_room_for_one_token_is_refused(tokenizer, length):
    with pytest.raises(ValueError, match=r"integer in \[3, .*\[CLS\] text \[SEP\] needs at least 3 \(text pairs 5\)"):
        BertPreprocessor(tokenizer, sequence_length=length)  # 2 was accepted: [CLS] [SEP], the text dropped


@pytest.mark.parametrize("length", [3, 4])
def test_pairs_need_room_for_one_token_of_each_text(tokenizer, length):
    pre = BertPreprocessor(tokenizer, sequence_length=length)
    assert pre(["good film"])["token_ids"].numpy().tolist()[0][:2] == [2, 6]  # single texts still work
    with pytest.raises(ValueError, match=rf"text pair needs sequence_length >= 5 .* has {length}; .*"
                                         r"sequence_length=5 or more"):
        pre((["good film"], ["bad film"]))  # was: the second text dropped silently
    with pytest.raises(ValueError, match="text pair needs sequence_length >= 5"):
        pre.call_with_offsets((tf.constant(["good"]), tf.constant(["bad"])))
    dynamic = BertPreprocessor(tokenizer, max_sequence_length=4)
    with pytest.raises(ValueError, match="text pair needs sequence_length >= 5 .* has 4"):
        dynamic((["good"], ["bad"]))


def test_five_positions_keep_one_token_of_each_text(tokenizer):
    out = BertPreprocessor(tokenizer, sequence_length=5)((["good film"], ["bad film"]))
    assert out["token_ids"].numpy().tolist() == [[2, 6, 3, 8, 3]]
    assert out["segment_ids"].numpy().tolist() == [[0, 0, 0, 1, 1]]


# ---- invalid UTF-8 and lone surrogates ------------------------------------------------------------
BAD = "a \udcff good \ud800 film"   # \udcff: an undecodable byte as sys.argv keeps it; \ud800: a lone surrogate
CLEAN = "a good film"


def test_tokenizer_entry_points_replace_lone_surrogates(tokenizer):
    expected = tokenizer.tokenize([CLEAN]).to_list()
    assert tokenizer.tokenize([BAD]).to_list() == expected  # was: "Error converting unicode string"
    assert tokenizer.tokenize(BAD).numpy().tolist() == expected[0]
    assert tokenizer.tokenize(np.array([BAD])).to_list() == expected
    ids, starts, ends = tokenizer.tokenize_with_offsets(BAD)
    assert [BAD[s:e] for s, e in zip(starts.numpy(), ends.numpy())] == ["a", "good", "film"]  # offsets into BAD
    assert tokenizer.tokenize_batch([BAD, "bad"])["token_ids"].to_list()[0] == expected[0]
    assert tokenizer.tokenize([b"a \xff good \xed\xa0\x80 film"]).to_list() == expected  # bytes, as before


def test_preprocessor_replaces_lone_surrogates(tokenizer):
    pre = BertPreprocessor(tokenizer, sequence_length=12)
    clean = pre(([CLEAN], ["bad"]))["token_ids"].numpy()
    np.testing.assert_array_equal(pre(([BAD], ["bad\udc80"]))["token_ids"].numpy(), clean)
    np.testing.assert_array_equal(pre.call_with_offsets([BAD])["token_ids"].numpy(), pre([CLEAN])["token_ids"].numpy())


def test_task_predict_text_takes_lone_surrogates(tokenizer):
    import tfbert
    from test_case import TINY
    from tfbert.tasks import BertClassifier, BertQuestionAnswerer, BertTokenClassifier

    backbone = tfbert.BERT(tfbert.BertConfig(**{**TINY, "vocab_size": len(VOCAB)}))
    pre = BertPreprocessor(tokenizer, sequence_length=16, max_sequence_length=32)
    classifier = BertClassifier(backbone, num_classes=2, preprocessor=pre)
    assert classifier.predict_text([BAD]) == classifier.predict_text([CLEAN])
    tagger = BertTokenClassifier(backbone, label_names=["O", "B-X", "I-X"], preprocessor=pre)
    tagged, clean = tagger.predict_text([BAD])[0], tagger.predict_text([CLEAN])[0]
    assert tagged["words"] == ["a", "good", "film"] and tagged["tags"] == clean["tags"]
    answerer = BertQuestionAnswerer(backbone, preprocessor=pre, doc_stride=4)
    answer = answerer.predict_text(["good \udcff?"], [BAD])[0]
    assert answer["text"] == BAD[answer["start"]:answer["end"]]


def test_predict_cli_replaces_invalid_utf8_in_arguments_and_stdin(capsys, tmp_path, monkeypatch):
    import io
    import sys

    import tfbert
    from test_case import TINY
    from tfbert import cli
    from tfbert.tasks import BertClassifier

    backbone = tfbert.BERT(tfbert.BertConfig(**{**TINY, "vocab_size": len(VOCAB)}))
    pre = BertPreprocessor(tokenizer_for_cli(), max_sequence_length=32)
    model = BertClassifier(backbone, num_classes=2, preprocessor=pre)
    path = str(tmp_path / "m.keras")
    model.save(path)
    code = cli.main(["predict", path, "a good film", BAD])  # BAD as Python decodes the bytes b"a \xff ..."
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[:2] == lines[1].split("\t")[:2]
    assert lines[1].endswith("a \ufffd good \ufffd film")
    stdin = io.TextIOWrapper(io.BytesIO(b"a good film\na \xff good \xc3 film\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(stdin, "isatty", lambda: False)
    code = cli.main(["predict", path, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err  # was: UnicodeDecodeError / "Error converting unicode string"
    rows = [__import__("json").loads(line) for line in out.splitlines()]
    assert rows[1]["text"] == "a \ufffd good \ufffd film" and rows[0]["probabilities"] == rows[1]["probabilities"]


def tokenizer_for_cli():
    return BertTokenizer(VOCAB, lowercase=True)


def test_csv_files_with_invalid_utf8_read_with_replacements(tmp_path):
    from tfbert.data.csv_text import read_text_table

    path = tmp_path / "t.csv"
    path.write_bytes(b"text,label\na \xff good film,1\nbad,0\n")
    data = read_text_table(str(path))
    assert data.examples[0].text == "a \ufffd good film"  # was: UnicodeDecodeError for the whole file


def test_conll_files_with_invalid_utf8_read_with_replacements(tmp_path):
    from tfbert.data.conll import read_conll

    path = tmp_path / "t.conll"
    path.write_bytes(b"caf\xe9 NN O\nParis NNP B-LOC\n\n")  # a Latin-1 byte in a UTF-8 file
    sentences = read_conll(str(path))
    assert sentences[0].words == ["caf\ufffd", "Paris"]  # was: UnicodeDecodeError for the whole file
