"""CoNLL column and SQuAD v1.1 readers: parsing, -DOCSTART-, and errors naming the file line / question id."""

import json
import os

import pytest

from test_case import shared_data_path
from tfbert.data.conll import read_conll, tag_names
from tfbert.data.squad import read_squad, to_squad_dataset
from tfbert.metrics.squad import evaluate


def write(tmp_path, name, text):
    path = os.path.join(str(tmp_path), name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC


Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
-DOCSTART- -X- -X- O
BRUSSELS NNP B-NP B-LOC
"""


def test_conll_sentences_docstart_and_origins(tmp_path):
    sentences = read_conll(write(tmp_path, "train.txt", CONLL))
    assert [s.words for s in sentences] == [["EU", "rejects", "German"], ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert [s.origin for s in sentences] == ["train.txt:3", "train.txt:8", "train.txt:11"]
    assert tag_names(sentences) == ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-PER"]
    pos = read_conll(write(tmp_path, "pos.txt", CONLL), tag_column=1, iob_tags=False)
    assert pos[0].tags == ["NNP", "VBZ", "JJ"]

def test_conll_malformed_line_names_file_and_line(tmp_path):
    path = write(tmp_path, "bad.txt", CONLL.replace("Blackburn NNP I-NP I-PER", "Blackburn NNP I-PER"))
    with pytest.raises(ValueError, match=r"bad\.txt:9: expected 4 whitespace-separated columns \(like line 3\), got 3"):
        read_conll(path)


def test_conll_bad_tag_names_file_and_line(tmp_path):
    path = write(tmp_path, "bad.txt", CONLL.replace("B-MISC", "MISC"))
    with pytest.raises(ValueError, match=r"bad\.txt:5: tag 'MISC' is neither 'O' nor PREFIX-TYPE"):
        read_conll(path)


def test_conll_missing_and_empty_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_conll(os.path.join(str(tmp_path), "nope.txt"))
    with pytest.raises(ValueError, match="holds no tagged sentences"):
        read_conll(write(tmp_path, "empty.txt", "-DOCSTART- -X- -X- O\n\n"))


def test_conll2003_real_files():
    train = read_conll(shared_data_path("conll2003", "train.txt"))
    valid = read_conll(shared_data_path("conll2003", "valid.txt"))
    assert (len(train), len(valid)) == (14041, 3250)
    assert tag_names(train) == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def squad_file(tmp_path, answer_start=0):
    data = {"version": "1.1", "data": [{"title": "A", "paragraphs": [{
        "context": "Ada Lovelace wrote the first program.",
        "qas": [{"id": "5733be284776f41900661182", "question": "Who wrote it?",
                 "answers": [{"text": "Ada Lovelace", "answer_start": answer_start},
                             {"text": "Lovelace", "answer_start": 4}]}]}]}]}
    return write(tmp_path, "squad.json", json.dumps(data))


def test_squad_reader_and_round_trip_to_evaluate(tmp_path):
    examples = read_squad(squad_file(tmp_path))
    assert len(examples) == 1 and [a.text for a in examples[0].answers] == ["Ada Lovelace", "Lovelace"]
    assert evaluate(to_squad_dataset(examples), {"5733be284776f41900661182": "Lovelace"})["exact_match"] == 100.0


def test_squad_bad_answer_start_names_the_question(tmp_path):
    with pytest.raises(ValueError, match="question '5733be284776f41900661182': answer 0 'Ada Lovelace' does not "
                                         "start at answer_start=1"):
        read_squad(squad_file(tmp_path, answer_start=1))


def test_squad_not_json(tmp_path):
    with pytest.raises(ValueError, match="is not valid JSON"):
        read_squad(write(tmp_path, "x.json", "{nope"))


def test_squad_real_file():
    examples = read_squad(shared_data_path("squad", "squad-v1.1-dev-articles-00-37.json"))
    assert len(examples) == 8582 and {e.article for e in examples} == set(range(38))
