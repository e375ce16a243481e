"""``tfbert predict MODEL TEXT...``: predictions from raw text, with a SavedModel or a checkpoint.

Example:
>>> import os, tempfile
>>> from tfbert.cli.predict import find_saved_model
>>> base = tempfile.mkdtemp()
>>> for version in ("1", "2"):
...     os.makedirs(os.path.join(base, version))
...     open(os.path.join(base, version, "saved_model.pb"), "w").close()
>>> find_saved_model(base) == os.path.join(base, "2")
True
"""

import io
import json
import os
import re
import sys

from tfbert.cli.options import UsageError, add_option, subcommand, with_default
from tfbert.cli.records import add_record_options, records_from_args
from tfbert.cli.sources import load_model_source


def register(subparsers):
    """Add `tfbert predict` and its options to the subcommand parsers."""
    p = subcommand(
        subparsers, "predict", run, "Predict from raw text with an exported SavedModel or a checkpoint",
        "MODEL is a SavedModel directory (from `tfbert export`; a base directory picks its highest version), "
        "a run directory or a .keras file. Texts come from the command line, or one per line from standard "
        "input when none are given; a pair task takes 'TEXT<TAB>TEXT_PAIR'. Question answering takes "
        "--question and --context, multiple choice --context and --choice, either of them also a JSON lines "
        "--input file.",
        ["tfbert predict saved_models/rt 'a gripping, beautifully acted film' 'a dull mess'",
         "cat reviews.txt | tfbert predict runs/rt --json",
         "tfbert predict saved_models/squad --question 'Who designed it?' --context 'The tower was designed by Eiffel.'",
         "tfbert predict runs/swag --context 'She opens the door' --choice 'and walks in.' --choice 'and eats it.'",
         "tfbert predict runs/squad --input questions.jsonl --json"],
    )
    p.add_argument("model", metavar="MODEL", help="SavedModel, run directory or .keras file (see above)")
    p.add_argument("texts", metavar="TEXT", nargs="*", help="texts to predict (default: lines of standard input)")
    add_option(p, "batch_size", help=with_default("batch_size", 32))
    p.add_argument("--json", action="store_true", help="print one JSON object per text, with every output")
    add_record_options(p)


def run(args):
    """Run `tfbert predict` with the parsed arguments; return the exit code."""
    records = records_from_args(args)  # qa / multiple choice / JSON lines inputs
    if records is not None:
        records = [_readable_values(r) for r in records]
        if args.texts:
            raise UsageError("give either TEXT arguments or --question/--context/--choice/--input, not both")
        return _predict_records(args, records)
    texts = [readable_text(t) for t in args.texts]
    if not texts:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("give texts to predict, or pipe them in one per line (see `tfbert predict --help`)")
        texts = [line.rstrip("\r\n") for line in io.StringIO(read_stdin(), newline="") if line.strip()]
        if not texts:
            raise ValueError("standard input held no text to predict.")
    batch_size = args.batch_size or 32
    saved_model = find_saved_model(args.model)
    if saved_model:
        rows = predict_saved_model(saved_model, texts, batch_size)
    else:
        model, _ = load_model_source(args.model)
        from tfbert.cli.records import model_kind

        if model_kind(model) != "text":  # qa, multiple choice and embedding models read records
            return _predict_records(args, [{"text": t} for t in texts], model=model)
        if not hasattr(model, "predict_text"):
            raise TypeError(f"{args.model} holds a {type(model).__name__}, which has no text predictions; "
                            "predict with a fine-tuned task model (a run directory or its export).")
        firsts, pairs = _split_pairs(texts, pair=bool(getattr(model, "pair", False)))
        rows = model.predict_text(firsts, text_pairs=pairs, batch_size=batch_size)
    for text, row in zip(texts, rows):
        print(json.dumps({"text": text, **row}) if args.json else f"{_summary(row)}\t{text}")
    return 0


def readable_text(text):
    """A command-line text as valid Unicode: undecodable bytes (which Python keeps in ``sys.argv`` as
    lone surrogates) and any other lone surrogate become U+FFFD, as invalid UTF-8 does everywhere in tfbert."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # surrogates that are not escaped bytes
        return re.sub("[\ud800-\udfff]", "\ufffd", text)


def read_stdin():
    """Standard input as text, invalid UTF-8 replaced by U+FFFD (a strict decoder would fail the whole batch)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream without bytes underneath (tests, embedding applications)
        return readable_text(sys.stdin.read())
    return stream.read().decode("utf-8", "replace")


def _readable_values(value):
    """``readable_text`` on every string of a record (lists and dicts too)."""
    if isinstance(value, str):
        return readable_text(value)
    if isinstance(value, list):
        return [_readable_values(v) for v in value]
    if isinstance(value, dict):
        return {k: _readable_values(v) for k, v in value.items()}
    return value


def _predict_records(args, records, model=None):
    """Predict qa / multiple-choice / embedding records (or any records of a JSON lines --input)."""
    from tfbert.cli import records as rec

    batch_size = args.batch_size or 32
    saved_model = None if model is not None else find_saved_model(args.model)
    if saved_model:
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel uses)

        signature = tf.saved_model.load(saved_model).signatures["serving_default"]
        if rec.signature_kind(signature.structured_input_signature[1]) == "text":
            texts = [t + ("\t" + r["text_pair"] if "text_pair" in r else "")
                     for r, t in zip(records, rec.column(records, "text", "text"))]
            rows = predict_saved_model(saved_model, texts, batch_size)
        else:
            rows = rec.predict_signature(signature, records, batch_size, _plain_value)
    else:
        model = model if model is not None else load_model_source(args.model)[0]
        if rec.model_kind(model) == "text":
            texts = rec.column(records, "text", "text")
            pairs = [r["text_pair"] for r in records] if all("text_pair" in r for r in records) else None
            rows = model.predict_text(texts, text_pairs=pairs, batch_size=batch_size) if pairs else \
                model.predict_text(texts, batch_size=batch_size)
        else:
            rows = rec.predict_model(model, records, batch_size)
    for record, row in zip(records, rows):
        if args.json:
            print(json.dumps({**record, **row}, ensure_ascii=False))
        else:
            print(f"{rec.summary(row) or _summary(row)}\t{rec.record_label(record)}")
    return 0


def find_saved_model(path):
    """The SavedModel directory ``path`` names (itself, or its highest numeric version), or None."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    if os.path.isdir(path):
        versions = [v for v in os.listdir(path)  # ASCII digits only, as TF Serving: never `.2.tmp-*` or `²`
                    if re.fullmatch("[0-9]+", v) and os.path.isfile(os.path.join(path, v, "saved_model.pb"))]
        if versions:
            return os.path.join(path, max(versions, key=int))
    return None


def predict_saved_model(path, texts, batch_size=32):
    """Run the ``serving_default`` signature of a SavedModel on raw texts; one dict of outputs per text."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel uses)

    signature = tf.saved_model.load(path).signatures["serving_default"]
    names = sorted(signature.structured_input_signature[1])
    from tfbert.cli.records import signature_kind

    if signature_kind(names) == "qa":
        raise UsageError(f"{path} answers questions: give --question and --context (or --input FILE.jsonl)")
    if signature_kind(names) == "multiple_choice":
        raise UsageError(f"{path} picks among choices: give --context and --choice (or --input FILE.jsonl)")
    if names not in (["text"], ["text", "text_pair"]):
        raise ValueError(f"{path}: serving_default takes {names}, not raw text; export the model with its "
                         "preprocessor (`tfbert export` of a fine-tuned run).")
    firsts, pairs = _split_pairs(texts, pair="text_pair" in names)
    rows = []
    for start in range(0, len(texts), batch_size):
        feed = {"text": tf.constant(firsts[start:start + batch_size])}
        if pairs is not None:
            feed["text_pair"] = tf.constant(pairs[start:start + batch_size])
        outputs = {k: v.numpy() for k, v in signature(**feed).items()}
        for i in range(len(feed["text"])):
            rows.append({k: _plain_value(v[i]) for k, v in outputs.items()})
    return rows


def _split_pairs(texts, pair):
    if not pair:
        return texts, None
    split = [t.split("\t", 1) for t in texts]
    bad = [t for t, parts in zip(texts, split) if len(parts) != 2]
    if bad:
        raise ValueError(f"this model reads text pairs: write each as 'TEXT<TAB>TEXT_PAIR'; got {bad[0]!r}.")
    return [a for a, _ in split], [b for _, b in split]


def _plain_value(value):
    value = value.tolist() if hasattr(value, "tolist") else value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    return value


def _summary(row):
    """A short readable form of one prediction: 'label 0.97' for classifiers, else its outputs."""
    probabilities = row.get("probabilities")
    if isinstance(probabilities, dict):
        probabilities = list(probabilities.values())
    if "label" in row and "score" in row:
        return f"{row['label']}\t{row['score']:.3f}"
    if "label" in row and probabilities:
        return f"{row['label']}\t{max(probabilities):.3f}"
    if "label_id" in row and probabilities:
        return f"{row['label_id']}\t{max(probabilities):.3f}"
    if "score" in row:
        return f"{row['score']:.4f}"
    readable = {k: v for k, v in row.items() if k not in ("logits", "probabilities")}
    return json.dumps(readable)
