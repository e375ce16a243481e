"""SQuAD v1.1 exact match and F1, defined as the official ``evaluate-v1.1.py`` defines them.

An answer is normalised by lower-casing, removing punctuation, removing the
articles *a*, *an*, *the* and collapsing whitespace. Exact match compares the
normalised strings; F1 is the harmonic mean of the precision and recall of
the normalised answers' bags of words. Each question scores the maximum over
its gold answers; a question without a prediction scores 0. Scores are
percentages, as in the official script.

Example:
>>> from tfbert.metrics.squad import normalize_answer, f1_score, evaluate
>>> normalize_answer("The  Eiffel Tower!")
'eiffel tower'
>>> round(f1_score("the tower in Paris", "Eiffel Tower"), 4)
0.4
>>> dataset = [{"paragraphs": [{"qas": [{"id": "q1", "answers": [{"text": "Denver Broncos"}]}]}]}]
>>> evaluate(dataset, {"q1": "the Denver Broncos"})
{'exact_match': 100.0, 'f1': 100.0, 'total': 1, 'unanswered': 0}
"""

import collections
import re
import string

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text):
    """Lower-case, strip punctuation, drop articles, collapse whitespace (in that order)."""
    text = str(text).lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match_score(prediction, ground_truth):
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def f1_score(prediction, ground_truth):
    """Bag-of-words F1 between the normalised prediction and gold answer."""
    predicted = normalize_answer(prediction).split()
    gold = normalize_answer(ground_truth).split()
    same = sum((collections.Counter(predicted) & collections.Counter(gold)).values())
    if same == 0:
        return 0.0
    precision = same / len(predicted)
    recall = same / len(gold)
    return 2 * precision * recall / (precision + recall)


def max_over_ground_truths(metric, prediction, ground_truths):
    """The best score of ``prediction`` against any of the gold answers."""
    ground_truths = list(ground_truths)
    if not ground_truths:
        raise ValueError("A question has no gold answers; SQuAD v1.1 questions need at least one.")
    return max(metric(prediction, truth) for truth in ground_truths)


def evaluate(dataset, predictions):
    """Official-style scores for ``predictions`` (question id -> answer text).

    Args:
        dataset: the ``"data"`` list of a SQuAD v1.1 JSON file (articles with
            ``paragraphs`` -> ``qas`` -> ``id``/``answers``).
        predictions: dict question id -> predicted answer string.
    Returns:
        ``{"exact_match", "f1"}`` in percent over all questions of
        ``dataset``, with ``total`` questions and how many were
        ``unanswered`` (scored 0, as the official script does).
    """
    exact = f1 = 0.0
    total = unanswered = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    unanswered += 1
                    continue
                truths = [answer["text"] for answer in qa["answers"]]
                prediction = predictions[qa["id"]]
                exact += max_over_ground_truths(exact_match_score, prediction, truths)
                f1 += max_over_ground_truths(f1_score, prediction, truths)
    if total == 0:
        raise ValueError("The dataset holds no questions to evaluate.")
    return {"exact_match": 100.0 * exact / total, "f1": 100.0 * f1 / total, "total": total, "unanswered": unanswered}
