"""SQuAD v1.1 JSON: one record per question, with its context and gold answers.

Every answer's ``answer_start`` is checked against the context: the context
must hold the answer text at that character offset, or the reader raises an
error naming the question id (a shifted offset would silently train the
model on the wrong span). ``article`` is the article's index in the file, so
that held-out splits can take whole articles.

Example:
>>> import json, os, tempfile
>>> from tfbert.data.squad import read_squad
>>> data = {"version": "1.1", "data": [{"title": "Paris", "paragraphs": [{
...     "context": "Paris is the capital of France.",
...     "qas": [{"id": "q1", "question": "What is the capital of France?",
...              "answers": [{"text": "Paris", "answer_start": 0}]}]}]}]}
>>> path = os.path.join(tempfile.mkdtemp(), "squad.json")
>>> _ = open(path, "w").write(json.dumps(data))
>>> [(e.qid, e.answers[0].text, e.answers[0].start, e.article) for e in read_squad(path)]
[('q1', 'Paris', 0, 0)]
>>> data["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 3
>>> _ = open(path, "w").write(json.dumps(data))
>>> read_squad(path)
Traceback (most recent call last):
...
ValueError: squad.json: question 'q1': answer 0 'Paris' does not start at answer_start=3; ...
"""

import json
import os
from typing import List, NamedTuple


class Answer(NamedTuple):
    """A gold answer: its text and the character offset where it starts in the context."""

    text: str
    start: int


class SquadExample(NamedTuple):
    """One question.

    Fields:
        qid: the question id.
        question, context: the texts.
        answers: gold :class:`Answer` s (SQuAD dev has up to 3 per question;
            training uses the first).
        article: index of the article in the file; title: its title.
    """

    qid: str
    question: str
    context: str
    answers: List[Answer]
    article: int = 0
    title: str = ""


def check_answer(qid, context, answer, index, where):
    """Return an :class:`Answer` after checking its ``answer_start`` against ``context``."""
    try:
        text, start = answer["text"], int(answer["answer_start"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f"{where}: question {qid!r}: answer {index} needs 'text' and an integer 'answer_start', got {answer!r}."
        ) from error
    found = context[start:start + len(text)] if start >= 0 else None
    if found != text:
        raise ValueError(
            f"{where}: question {qid!r}: answer {index} {text!r} does not start at answer_start={start}; "
            f"the context holds {found!r} there. Fix answer_start (a character offset into the context)."
        )
    return Answer(text, start)


def parse_squad(data, where="SQuAD data"):
    """The records of an already-loaded SQuAD v1.1 dict (with a ``data`` list)."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{where}: expected a SQuAD JSON object with a 'data' list of articles.")
    examples = []
    for article_index, article in enumerate(data["data"]):
        title = article.get("title", "")
        for paragraph in article.get("paragraphs", []):
            context = paragraph["context"]
            for qa in paragraph.get("qas", []):
                qid = qa.get("id")
                if qid is None:
                    raise ValueError(f"{where}: a question in article {article_index} ({title!r}) has no 'id'.")
                answers = [check_answer(qid, context, a, i, where) for i, a in enumerate(qa.get("answers", []))]
                examples.append(SquadExample(str(qid), qa["question"], context, answers, article_index, title))
    return examples


def read_squad(path):
    """Read a SQuAD v1.1 JSON file into a list of :class:`SquadExample`."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"SQuAD file not found: {path}")
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from error
    return parse_squad(data, where=os.path.basename(path))


def to_squad_dataset(examples):
    """Rebuild the official ``data`` list (articles -> paragraphs -> qas) for ``tfbert.metrics.squad.evaluate``."""
    articles = {}
    for e in examples:
        article = articles.setdefault(e.article, {"title": e.title, "paragraphs": []})
        article["paragraphs"].append({"context": e.context, "qas": [
            {"id": e.qid, "question": e.question,
             "answers": [{"text": a.text, "answer_start": a.start} for a in e.answers]}]})
    return [articles[k] for k in sorted(articles)]
