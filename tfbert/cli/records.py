"""Prediction inputs of every task as records, for ``tfbert predict``.

A record is one dict per prediction, with the fields the task reads:

- ``{"text"}`` or ``{"text", "text_pair"}``: classification, regression, ner, embedding;
- ``{"question", "context"}``: qa;
- ``{"context", "choices"}``: multiple_choice (a list of candidate texts).

They come from ``--question``/``--context``/``--choice`` or from a JSON lines
file (``--input FILE``, ``-`` for standard input), and go to a SavedModel's
``serving_default`` signature or to a task model, with the same output fields
either way: ``answer``, ``start``, ``end``, ``score`` (qa); ``choice``,
``choice_id``, ``score``, ``probabilities`` (multiple_choice); ``embedding``.

Example:
>>> import argparse
>>> from tfbert.cli.records import records_from_args
>>> args = argparse.Namespace(input=None, question=["Who wrote it?", "When?"], context=["Ada wrote it in 1843."],
...                           choice=None)
>>> records_from_args(args)
[{'question': 'Who wrote it?', 'context': 'Ada wrote it in 1843.'}, {'question': 'When?', 'context': 'Ada wrote it in 1843.'}]
"""

import json
import sys

from tfbert.cli.options import UsageError

QA_INPUTS = ("question", "context")
CHOICE_INPUTS = ("text", "choices")  # the multiple-choice signature's names; records say "context"


def add_record_options(parser):
    """Add ``--question``, ``--context``, ``--choice`` and ``--input`` to `tfbert predict`."""
    parser.add_argument("--question", action="append", metavar="TEXT",
                        help="qa: a question (repeat for several); needs --context")
    parser.add_argument("--context", action="append", metavar="TEXT",
                        help="qa: the text that holds the answer (one for all questions, or one per --question); "
                             "multiple_choice: the context the --choice candidates continue")
    parser.add_argument("--choice", action="append", metavar="TEXT",
                        help="multiple_choice: a candidate (repeat for each)")
    parser.add_argument("--input", metavar="FILE",
                        help="a JSON lines file ('-': standard input), one object per prediction with the "
                             "task's fields: text [, text_pair] | question, context | context, choices")


def records_from_args(args):
    """The records the command line gives, or None when it gives only plain TEXT arguments."""
    if getattr(args, "input", None):
        return read_json_lines(args.input)
    questions, contexts, choices = (getattr(args, k, None) or [] for k in ("question", "context", "choice"))
    if not (questions or contexts or choices):
        return None
    if choices:
        if questions or len(contexts) != 1:
            raise UsageError("multiple choice takes one --context and its candidates as --choice (repeated); "
                             "for many examples use --input FILE.jsonl")
        return [{"context": contexts[0], "choices": list(choices)}]
    if not questions or not contexts:
        raise UsageError("question answering needs --question and --context (see `tfbert predict --help`)")
    if len(contexts) not in (1, len(questions)):
        raise UsageError(f"got {len(questions)} --question but {len(contexts)} --context; give one context for "
                         "all questions or one per question")
    contexts = contexts * len(questions) if len(contexts) == 1 else contexts
    return [{"question": q, "context": c} for q, c in zip(questions, contexts)]


def read_json_lines(path):
    """One dict per non-blank line of a JSON lines file (``-``: standard input); errors name the line."""
    if path == "-":
        lines = list(sys.stdin)
        where = "standard input"
    else:
        with open(path, encoding="utf-8") as f:
            lines = list(f)
        where = path
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{where}:{number}: not a JSON object ({e.msg}); write one object per line.") from None
        if not isinstance(record, dict):
            raise ValueError(f"{where}:{number}: expected a JSON object such as {{\"text\": ...}}, got "
                             f"{type(record).__name__}.")
        records.append(record)
    if not records:
        raise ValueError(f"{where} holds no records to predict.")
    return records


def column(records, field, kind):
    """``record[field]`` of every record; a record without it is an error naming it."""
    missing = next((i for i, r in enumerate(records) if field not in r), None)
    if missing is not None:
        raise ValueError(f"record {missing + 1} has no {field!r}: a {kind} model reads {field!r} in every record "
                         f"(got the fields {sorted(records[missing])}).")
    return [records[i][field] for i in range(len(records))]


def _rectangular(choices):
    """Candidate lists padded with "" (an unused slot to the multiple-choice signature)."""
    width = max(len(c) for c in choices)
    return [list(c) + [""] * (width - len(c)) for c in choices]


def signature_kind(names):
    """``"qa"``, ``"multiple_choice"`` or ``"text"`` from a ``serving_default``'s input names."""
    names = sorted(names)
    if names == sorted(QA_INPUTS):
        return "qa"
    if names == sorted(CHOICE_INPUTS):
        return "multiple_choice"
    return "text"


def model_kind(model):
    """``"qa"``, ``"multiple_choice"``, ``"embedding"`` or ``"text"`` (classifiers, taggers) of a task model."""
    from tfbert.tasks import BertEmbedder, BertMultipleChoice, BertQuestionAnswerer

    if isinstance(model, BertQuestionAnswerer):
        return "qa"
    if isinstance(model, BertMultipleChoice):
        return "multiple_choice"
    if isinstance(model, BertEmbedder):
        return "embedding"
    return "text"


def predict_signature(signature, records, batch_size, plain_value):
    """Rows of outputs of a ``serving_default`` signature of a qa or multiple-choice SavedModel."""
    import numpy as np
    import tensorflow as tf

    kind = signature_kind(signature.structured_input_signature[1])
    if kind == "qa":
        feeds = {"question": column(records, "question", kind), "context": column(records, "context", kind)}
    else:
        feeds = {"text": [r.get("context", r.get("text")) if isinstance(r, dict) else None for r in records],
                 "choices": _rectangular(column(records, "choices", kind))}
        if any(t is None for t in feeds["text"]):
            column(records, "context", kind)
    rows = []
    for start in range(0, len(records), batch_size):
        feed = {k: tf.constant(v[start:start + batch_size]) for k, v in feeds.items()}
        outputs = {k: v.numpy() for k, v in signature(**feed).items()}
        for i in range(len(feed[next(iter(feed))])):
            row = {k: plain_value(v[i]) for k, v in outputs.items()}
            if kind == "multiple_choice":
                used = len(records[start + i]["choices"])
                row["probabilities"] = row["probabilities"][:used]
                row["logits"] = row["logits"][:used]
                row["score"] = float(np.max(row["probabilities"]))
            rows.append(row)
    return rows


def predict_model(model, records, batch_size):
    """Rows of outputs of a qa, multiple-choice or embedding task model, named as its SavedModel names them."""
    kind = model_kind(model)
    if kind == "qa":
        answers = model.predict_text(column(records, "question", kind), column(records, "context", kind),
                                     batch_size=batch_size)
        return [{"answer": a["text"], "start": a["start"], "end": a["end"], "score": a["score"]} for a in answers]
    if kind == "multiple_choice":
        contexts = [r.get("context", r.get("text")) for r in records]
        if any(c is None for c in contexts):
            column(records, "context", kind)
        rows = []
        for context, options in zip(contexts, column(records, "choices", kind)):
            best = model.predict_text([context], [list(options)])[0]
            rows.append({"choice": best["choice"], "choice_id": best["index"], "score": best["score"],
                         "probabilities": best["probabilities"]})
        return rows
    if kind == "embedding":
        vectors = model.embed(column(records, "text", kind), batch_size=batch_size)
        return [{"embedding": [float(x) for x in v]} for v in vectors]
    raise TypeError(f"{type(model).__name__} reads plain texts: give them as TEXT arguments.")


def summary(row):
    """A short readable form of a qa, multiple-choice or embedding prediction, or None for other rows."""
    if "answer" in row:
        return f"{row['answer']}\t{row['score']:.3f}"
    if "choice" in row and "score" in row:
        return f"{row['choice']}\t{row['score']:.3f}"
    if "embedding" in row and len(row) == 1:
        vector = row["embedding"]
        more = f", ... ({len(vector)} values)]" if len(vector) > 4 else "]"
        return "[" + ", ".join(f"{x:.4f}" for x in vector[:4]) + more
    return None


def record_label(record):
    """The text a summary line ends with: the question, the context or the text of the record."""
    for field in ("question", "context", "text"):
        if field in record:
            return record[field]
    return json.dumps(record, ensure_ascii=False)
