"""conlleval entity scores and SQuAD v1.1 EM/F1 against hand-computed values."""

import numpy as np
import pytest

from tfbert.metrics import MaskedAccuracy
from tfbert.metrics.conlleval import evaluate, get_entities, split_tag
from tfbert.metrics.squad import evaluate as squad_evaluate
from tfbert.metrics.squad import exact_match_score, f1_score, normalize_answer


# ---- conlleval ---------------------------------------------------------
def test_split_tag_on_first_dash():
    assert split_tag("B-PER") == ("B", "PER")
    assert split_tag("I-MISC-X") == ("I", "MISC-X")
    assert split_tag("O") == ("O", "")


@pytest.mark.parametrize("tags,entities", [
    (["B-PER", "I-PER", "O"], [("PER", 0, 2)]),
    (["I-PER", "I-PER", "O"], [("PER", 0, 2)]),                      # I- without B- starts a chunk
    (["O", "I-LOC"], [("LOC", 1, 2)]),
    (["B-PER", "B-PER"], [("PER", 0, 1), ("PER", 1, 2)]),            # B- after B- starts a new one
    (["I-PER", "I-LOC", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 3)]),   # a type change ends a chunk
    (["B-PER", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 2)]),
    (["I-ORG", "B-ORG", "I-ORG"], [("ORG", 0, 1), ("ORG", 1, 3)]),   # IOB1: B- separates same-type chunks
    (["O", "O"], []),
    ([], []),
])
def test_get_entities(tags, entities):
    assert get_entities(tags) == entities


def test_evaluate_hand_computed():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "I-ORG", "I-ORG"], ["O", "B-MISC"]]
    pred = [["I-PER", "I-PER", "O", "B-ORG", "O"],   # PER correct (I- without B-), LOC predicted as ORG
            ["B-ORG", "I-ORG", "O"],                  # ORG ends too early: wrong
            ["O", "I-MISC"]]                          # I-MISC after O starts MISC: correct
    scores = evaluate(gold, pred)
    # gold chunks: PER, LOC, ORG, MISC = 4; predicted: PER, ORG, ORG, MISC = 4; correct: PER, MISC = 2
    assert (scores["correct"], scores["predicted"], scores["gold"]) == (2, 4, 4)
    assert scores["precision"] == pytest.approx(0.5) and scores["recall"] == pytest.approx(0.5)
    assert scores["f1"] == pytest.approx(0.5)
    assert scores["accuracy"] == pytest.approx(6 / 10)   # 3 + 2 + 1 tokens with identical tags
    assert scores["per_type"]["PER"]["f1"] == 1.0
    assert scores["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "correct": 0, "predicted": 0, "gold": 1}
    assert scores["per_type"]["ORG"]["precision"] == 0.0 and scores["per_type"]["ORG"]["predicted"] == 2


def test_evaluate_precision_differs_from_recall():
    gold = [["B-PER", "O", "O", "O"]]
    pred = [["B-PER", "O", "B-LOC", "I-LOC"]]
    scores = evaluate(gold, pred)
    assert scores["precision"] == pytest.approx(0.5) and scores["recall"] == pytest.approx(1.0)
    assert scores["f1"] == pytest.approx(2 * 0.5 * 1.0 / 1.5)


def test_chunks_do_not_cross_sentences():
    # two sentences: an I-PER at the start of the second is a new chunk, not a continuation
    scores = evaluate([["B-PER"], ["I-PER"]], [["B-PER", ], ["I-PER"]])
    assert scores["gold"] == 2 and scores["correct"] == 2


def test_evaluate_rejects_ragged_sentences():
    with pytest.raises(ValueError, match="Sentence 1 has 2 gold tags but 1 predicted"):
        evaluate([["O"], ["O", "O"]], [["O"], ["O"]])


# ---- SQuAD -------------------------------------------------------------
@pytest.mark.parametrize("raw,normalized", [
    ("The Eiffel Tower", "eiffel tower"),
    ("  an   apple, a pear; the END.", "apple pear end"),
    ("Theatre", "theatre"),                 # 'the' only as a whole word
    ("U.S.-based", "usbased"),
    ("Élan (the café)", "élan café"),
])
def test_normalize_answer(raw, normalized):
    assert normalize_answer(raw) == normalized


def test_squad_scores_hand_computed():
    assert exact_match_score("the Denver Broncos!", "Denver Broncos") == 1.0
    # prediction "broncos won" vs gold "denver broncos": 1 common; P = 1/2, R = 1/2
    assert f1_score("Broncos won", "Denver Broncos") == pytest.approx(0.5)
    # prediction "in 1990 season" (3 tokens) vs gold "1990" (1): P = 1/3, R = 1, F1 = 0.5
    assert f1_score("in 1990 season", "1990") == pytest.approx(0.5)
    assert f1_score("a", "the") == 0.0   # both normalise to nothing
    dataset = [{"title": "t", "paragraphs": [{"context": "...", "qas": [
        {"id": "q1", "question": "?", "answers": [{"text": "Denver Broncos"}, {"text": "Broncos"}]},
        {"id": "q2", "question": "?", "answers": [{"text": "1990"}]},
        {"id": "q3", "question": "?", "answers": [{"text": "blue"}]},
    ]}]}]
    scores = squad_evaluate(dataset, {"q1": "the Broncos", "q2": "in 1990 season"})
    # q1: EM 1 (max over golds: "broncos" == "broncos"), F1 1; q2: EM 0, F1 0.5; q3 unanswered: 0
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * 1.5 / 3)
    assert scores["total"] == 3 and scores["unanswered"] == 1


# ---- masked token accuracy ---------------------------------------------
def test_masked_accuracy_skips_ignored_positions():
    metric = MaskedAccuracy()
    logits = np.eye(3, dtype="float32")[[[0, 1, 2, 2], [1, 1, 0, 0]]]   # argmax = the index
    labels = np.array([[0, 2, 2, -100], [1, -100, -100, 0]])
    metric.update_state(labels, logits)
    assert float(metric.result()) == pytest.approx(4 / 5)
