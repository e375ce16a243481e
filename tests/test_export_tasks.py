"""Raw-string serving signatures of every task: same answers as the Python API, bad input, isolation."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tests.export_checks import run_isolated
from tfbert.preprocessing import BertPreprocessor
from tfbert.preprocessing.tokenizer import BertTokenizer
from tfbert.tasks import (BertClassifier, BertEmbedder, BertMultipleChoice, BertQuestionAnswerer,
                          BertTokenClassifier)
from tfbert.tasks.pretrainer import BertMaskedLM

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVING_EXAMPLES = os.path.join(REPO, "examples", "serving")
WORDS = ("the a an of in on is was were who what where when which ada lovelace wrote code first program for "
         "london born engine machine analytical designed by charles babbage she he it cat sat mat great movie "
         "funny warm two hours never get back man eating food bread piece paris capital france started rain "
         "opened umbrella because hungry bus late put milk fridge car book garden eu rejects german call boycott "
         "british lamb stocks fell monday sitting , . ? ! ' ;").split()
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + ["##s", "##ed", "##ing", "##er", "love", "##lace"]
MAX_POSITIONS = 64
LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def preprocessor(sequence_length=32):
    return BertPreprocessor(BertTokenizer(VOCAB), sequence_length=sequence_length)


def tiny_bert(seed):
    keras.utils.set_random_seed(seed)
    return tfbert.BERT(tfbert.BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1,
                                         num_attention_heads=2, intermediate_size=32,
                                         max_position_embeddings=MAX_POSITIONS))


def build(task, bare=False):
    """A tiny task model with its preprocessor (``bare``: without one)."""
    prep = None if bare else preprocessor()
    if task == "question_answerer":
        return BertQuestionAnswerer(tiny_bert(1), preprocessor=prep, doc_stride=6, max_query_length=6, n_best=5,
                                    max_answer_length=6)
    if task == "token_classifier":
        return BertTokenClassifier(tiny_bert(2), label_names=LABELS, preprocessor=prep)
    if task == "masked_lm":
        return BertMaskedLM(tiny_bert(3), preprocessor=prep)
    if task == "classifier":
        return BertClassifier(tiny_bert(4), num_classes=2, label_names=["negative", "positive"], preprocessor=prep)
    if task == "classifier_pair":
        return BertClassifier(tiny_bert(5), num_classes=3, label_names=["no", "maybe", "yes"], preprocessor=prep)
    if task == "embedder":
        return BertEmbedder(tiny_bert(6), preprocessor=prep)
    if task == "multiple_choice":
        return BertMultipleChoice(tiny_bert(7), preprocessor=prep)
    raise ValueError(task)


TASKS = ["classifier", "classifier_pair", "token_classifier", "question_answerer", "embedder", "masked_lm",
         "multiple_choice"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every task model exported once: {task: (model, path, loaded)}."""
    root = tmp_path_factory.mktemp("exports")
    out = {}
    for task in TASKS:
        model = build(task)
        path = model.export_saved_model(str(root / task), pair=True if task == "classifier_pair" else None)
        out[task] = (model, path, tf.saved_model.load(path))
    return out


def request_inputs(name):
    sys.path.insert(0, SERVING_EXAMPLES)
    try:
        from grpc_predict import request_to_inputs
    finally:
        sys.path.remove(SERVING_EXAMPLES)
    with open(os.path.join(SERVING_EXAMPLES, name), encoding="utf-8") as f:
        return request_to_inputs(json.load(f))


def strings(tensor):
    return [b.decode("utf-8") for b in np.asarray(tensor).reshape(-1)]


# ---- same answers as the Python API -----------------------------------------------------
QUESTIONS = ["who wrote code?", "where was ada born?", "what?", "who designed the engine?"]
CONTEXTS = ["Ada Lovelace wrote the first program for the analytical engine in London. The engine was a machine. " * 4,
            "Ada was born in London.", "",
            "The analytical engine was designed by Charles Babbage; Ada wrote code for it, in London, "
            "for the engine. " * 4]


def test_question_answerer_matches_predict_text(exported):
    model, _, served = exported["question_answerer"]
    out = served.signatures["serving_default"](question=tf.constant(QUESTIONS), context=tf.constant(CONTEXTS))
    want = model.predict_text(QUESTIONS, CONTEXTS)
    assert strings(out["answer"]) == [w["text"] for w in want]
    assert out["start"].numpy().tolist() == [w["start"] for w in want]
    assert out["end"].numpy().tolist() == [w["end"] for w in want]
    np.testing.assert_allclose(out["score"], [w["score"] for w in want], rtol=1e-5, atol=1e-5)
    assert want[2]["start"] == -1 and np.isneginf(out["score"][2])  # empty context: no span
    for context, a, b, answer in zip(CONTEXTS, out["start"].numpy(), out["end"].numpy(), strings(out["answer"])):
        assert a < 0 or context[a:b] == answer
    # several windows were needed (doc_stride 6)
    assert len(model.encode(QUESTIONS, CONTEXTS).example) > len(QUESTIONS)


def test_static_shapes_give_the_dynamic_answers(exported, tmp_path):
    """sequence_length=int pads every window to that width; answers do not change."""
    model, _, served = exported["question_answerer"]
    window = getattr(model.preprocessor, "sequence_length", None) or MAX_POSITIONS  # the dynamic export's cap
    static = tf.saved_model.load(model.export_saved_model(str(tmp_path), sequence_length=window))
    assert static.signatures["serve_tokens"].structured_input_signature[1]["token_ids"].shape.as_list() == [
        None, window]
    inputs = dict(question=tf.constant(QUESTIONS), context=tf.constant(CONTEXTS))
    dynamic_out = served.signatures["serving_default"](**inputs)
    static_out = static.signatures["serving_default"](**inputs)
    assert strings(static_out["answer"]) == strings(dynamic_out["answer"])
    np.testing.assert_allclose(static_out["score"], dynamic_out["score"], atol=1e-5)


TEXTS = ["Ada Lovelace was born in London.", "", "Lovelace, London; lovelaces wrote code!! Ada Ada",
         "Café Ådá wrote  code", "the cat sat on the mat " * 12]


def test_token_classifier_matches_predict_text(exported):
    model, _, served = exported["token_classifier"]
    out = served.signatures["serving_default"](text=tf.constant(TEXTS))
    want = model.predict_text(TEXTS[:4])
    for i, row in enumerate(want):
        n, m = int(out["num_words"][i]), int(out["num_entities"][i])
        assert strings(out["words"][i])[:n] == row["words"]
        assert strings(out["tags"][i])[:n] == row["tags"]
        got = [{"type": t, "text": x, "start": int(a), "end": int(b)} for t, x, a, b in zip(
            strings(out["entity_types"][i])[:m], strings(out["entity_texts"][i])[:m],
            out["entity_starts"][i][:m], out["entity_ends"][i][:m])]
        assert got == row["entities"]
        assert all(s == "" for s in strings(out["words"][i])[n:])
        assert (out["word_starts"][i][n:].numpy() == -1).all()
    # the long text (72 words, more than one window of 30 pieces) is tagged whole, as predict_text does
    long = model.predict_text(TEXTS[4])[0]
    assert int(out["num_words"][4]) == len(long["words"]) == 72
    assert strings(out["tags"][4])[:72] == long["tags"]
    shapes = {k: v.shape for k, v in out.items()}
    assert shapes["words"] == shapes["tags"] == shapes["word_starts"] and shapes["words"][0] == len(TEXTS)


def test_masked_lm_matches_fill_mask(exported):
    model, _, served = exported["masked_lm"]
    texts = ["Paris is the [MASK] of France.", "[MASK] [MASK] wrote code[MASK]", "no mask here", ""]
    out = served.signatures["serving_default"](text=tf.constant(texts))
    assert out["tokens"].shape == (4, 3, 5) and out["probabilities"].shape == (4, 3, 5)
    assert out["num_masks"].numpy().tolist() == [1, 3, 0, 0]
    for i, text in enumerate(texts[:2]):
        for j, candidates in enumerate(model.fill_mask(text, top_k=5)):
            assert strings(out["tokens"][i, j]) == [c["token"] for c in candidates]
            assert out["token_ids"][i, j].numpy().tolist() == [c["token_id"] for c in candidates]
            np.testing.assert_allclose(out["probabilities"][i, j], [c["score"] for c in candidates], atol=1e-6)
    assert strings(out["tokens"][0, 1:]) == [""] * 10 and (out["token_ids"][2].numpy() == -1).all()


def test_classifier_matches_the_model(exported):
    model, _, served = exported["classifier"]
    texts = ["a great movie", "two hours I will never get back", ""]
    out = served.signatures["serving_default"](text=tf.constant(texts))
    logits = model(model.preprocessor(texts), training=False).numpy()
    np.testing.assert_allclose(out["logits"], logits, atol=1e-5)
    assert strings(out["label"]) == [model.class_names[i] for i in logits.argmax(-1)]
    assert [r["label"] for r in model.predict_text(texts)] == strings(out["label"])


def test_pair_classifier_takes_text_pair(exported):
    model, _, served = exported["classifier_pair"]
    fn = served.signatures["serving_default"]
    assert sorted(fn.structured_input_signature[1]) == ["text", "text_pair"]
    a, b = ["the cat sat on the mat", "stocks fell"], ["a cat was sitting on a mat", "the cat sat"]
    out = fn(text=tf.constant(a), text_pair=tf.constant(b))
    np.testing.assert_allclose(out["logits"], model(model.preprocessor((a, b)), training=False), atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="text_pair must have one entry per text entry"):
        fn(text=tf.constant(a), text_pair=tf.constant(b[:1]))


def test_embedder_and_multiple_choice(exported):
    model, _, served = exported["embedder"]
    texts = ["a man is eating food", "a man is eating a piece of bread"]
    out = served.signatures["serving_default"](text=tf.constant(texts))
    np.testing.assert_allclose(out["embedding"], model.embed(texts), atol=1e-5)
    model, _, served = exported["multiple_choice"]
    contexts = ["she opened the umbrella because", "he put the milk back in the"]
    choices = [["it started to rain", "she was hungry", "the bus was late"], ["fridge", "car", "book"]]
    out = served.signatures["serving_default"](text=tf.constant(contexts), choices=tf.constant(choices))
    want = model.predict_text(contexts, choices)
    np.testing.assert_allclose(out["probabilities"], [w["probabilities"] for w in want], atol=1e-5)
    assert strings(out["choice"]) == [w["choice"] for w in want]
    # an empty slot is never chosen and gets probability 0
    padded = tf.constant([choices[0] + [""], choices[1] + [""]])
    out = served.signatures["serving_default"](text=tf.constant(contexts), choices=padded)
    np.testing.assert_allclose(out["probabilities"][:, :3], [w["probabilities"] for w in want], atol=1e-5)
    assert (out["probabilities"][:, 3].numpy() == 0).all()


# ---- bad input at serving time -------------------------------------------------------------
STRING_INPUTS = {
    "classifier": ("text",), "classifier_pair": ("text", "text_pair"), "token_classifier": ("text",),
    "question_answerer": ("question", "context"), "embedder": ("text",), "masked_lm": ("text",),
}


@pytest.mark.parametrize("task", sorted(STRING_INPUTS))
def test_bad_string_input(exported, task):
    _, _, served = exported[task]
    fn = served.signatures["serving_default"]
    names = STRING_INPUTS[task]
    good = fn(**{n: tf.constant(["ada wrote code ."] * 2) for n in names})
    # empty batch: every output keeps its rank, with batch 0
    empty = fn(**{n: tf.constant([], tf.string) for n in names})
    for key, value in good.items():
        assert empty[key].shape[0] == 0 and empty[key].shape.rank == value.shape.rank, key
    # empty strings: a documented result of the usual shape
    blank = fn(**{n: tf.constant(["", ""]) for n in names})
    for key, value in good.items():
        assert blank[key].shape[0] == 2 and blank[key].shape.rank == value.shape.rank, key
    # 100 kB strings are cut (to the window, or max_windows windows for QA); the batch still answers
    huge = "ada wrote the first program in london . " * 2500
    assert len(huge) >= 100_000
    big = fn(**{n: tf.constant([huge, "ada"]) for n in names})
    for key, value in good.items():
        assert big[key].shape[0] == 2 and big[key].shape.rank == value.shape.rank, key
    # wrong dtype and wrong rank: a clear error, no output
    with pytest.raises((tf.errors.InvalidArgumentError, TypeError, ValueError), match="string|dtype"):
        fn(**{n: tf.constant([1, 2]) for n in names})
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible with expected shape"):
        fn(**{n: tf.constant([["ada"], ["code"]]) for n in names})
    # inputs of different batch sizes
    if len(names) == 2:
        with pytest.raises(tf.errors.InvalidArgumentError, match="must have one entry per"):
            fn(**{names[0]: tf.constant(["a", "b"]), names[1]: tf.constant(["c"])})


# ---- independence ------------------------------------------------------------------------
ISOLATED_INPUTS = {
    "classifier": {"text": ["a great movie", ""]},
    "classifier_pair": {"text": ["the cat sat"], "text_pair": ["a cat was sitting"]},
    "token_classifier": {"text": TEXTS[:3]},
    "question_answerer": {"question": QUESTIONS, "context": CONTEXTS},
    "embedder": {"text": ["a man is eating food"]},
    "masked_lm": {"text": ["paris is the [MASK] of france .", "[MASK] [MASK]"]},
    "multiple_choice": {"text": ["he put the milk back in the"], "choices": [["fridge", "car", ""]]},
}


def test_every_task_serves_without_tfbert_or_keras(exported, tmp_path):
    """One fresh process with tfbert, keras_hub and keras unimportable (tokenizer ops loaded as a
    C++ server loads them; tests/test_export.py also runs the plain ``import tensorflow_text`` way)."""
    calls = [(path, "serving_default", {k: np.array(v, dtype=object) for k, v in ISOLATED_INPUTS[task].items()})
             for task, (_, path, _) in sorted(exported.items())]
    info, outputs = run_isolated(calls, str(tmp_path), mode="ops_only")
    assert info["blocked_modules_loaded"] == []
    for i, (task, (_, path, served)) in enumerate(sorted(exported.items())):
        assert f"error_{i}" not in info, info.get(f"error_{i}")
        assert info["signatures"][os.path.abspath(path)] == ["serve_tokens", "serving_default"]
        inputs = {k: tf.constant(v) for k, v in ISOLATED_INPUTS[task].items()}
        want = served.signatures["serving_default"](**inputs)
        assert sorted(outputs[i]) == sorted(want), task
        for key, value in want.items():
            value = value.numpy()
            if value.dtype == object:
                np.testing.assert_array_equal(outputs[i][key], value.astype(bytes), err_msg=f"{task}/{key}")
            else:
                np.testing.assert_allclose(outputs[i][key], value, atol=1e-5, err_msg=f"{task}/{key}")


# ---- examples/serving request bodies ----------------------------------------------------------
REQUEST_FILES = {
    "classifier_request.json": "classifier",
    "classifier_pair_request.json": "classifier_pair",
    "token_classifier_request.json": "token_classifier",
    "question_answerer_request.json": "question_answerer",
    "embedder_request.json": "embedder",
    "masked_lm_request.json": "masked_lm",
    "multiple_choice_request.json": "multiple_choice",
    "tokens_request.json": "tokens",
}


def test_every_request_file_is_checked():
    files = sorted(f for f in os.listdir(SERVING_EXAMPLES) if f.endswith(".json"))
    assert files == sorted(REQUEST_FILES)


@pytest.fixture(scope="module")
def tokens_export(tmp_path_factory):
    """A classifier with the real uncased vocabulary size, for the token-id request (ids up to 30521)."""
    keras.utils.set_random_seed(8)
    bert = tfbert.BERT(tfbert.BertConfig(vocab_size=30522, hidden_size=8, num_hidden_layers=1,
                                         num_attention_heads=2, intermediate_size=16, max_position_embeddings=64))
    model = BertClassifier(bert, num_classes=2, label_names=["negative", "positive"])
    path = model.export_saved_model(str(tmp_path_factory.mktemp("tokens")))
    return model, path, tf.saved_model.load(path)


@pytest.mark.parametrize("name", sorted(REQUEST_FILES))
def test_request_file_matches_the_signature(name, exported, tokens_export):
    task = REQUEST_FILES[name]
    model, _, served = tokens_export if task == "tokens" else exported[task]
    signature, inputs = request_inputs(name)
    fn = served.signatures[signature]
    specs = fn.structured_input_signature[1]
    assert sorted(inputs) == sorted(specs), f"{name}: inputs {sorted(inputs)} vs signature {sorted(specs)}"
    tensors = {}
    for key, array in inputs.items():
        spec = specs[key]
        expected = tf.string if array.dtype == object else tf.as_dtype(array.dtype)
        assert spec.dtype == expected, f"{name}: {key} is {expected.name} vs {spec.dtype.name} exported"
        assert spec.shape.is_compatible_with(array.shape), f"{name}: {key} shape {array.shape} vs {spec.shape}"
        tensors[key] = tf.constant(array.tolist() if array.dtype == object else array, dtype=spec.dtype)
    out = fn(**tensors)
    batch = len(next(iter(inputs.values())))
    assert out and all(value.shape[0] == batch for value in out.values())
    if task == "tokens":
        np.testing.assert_allclose(out["logits"], model(tensors, training=False), atol=1e-5)


def test_grpc_script_says_what_is_missing():
    script = os.path.join(SERVING_EXAMPLES, "grpc_predict.py")
    run = subprocess.run([sys.executable, script, "--model", "sentiment", "--request",
                          os.path.join(SERVING_EXAMPLES, "classifier_request.json"), "--dry-run"],
                         capture_output=True, text=True, timeout=300)
    try:
        import tensorflow_serving  # noqa: F401
    except ImportError:
        assert run.returncode != 0 and "pip install tensorflow-serving-api" in run.stderr
        assert "Traceback" not in run.stderr
    else:  # with the client package installed, --dry-run prints the PredictRequest
        assert run.returncode == 0 and 'name: "sentiment"' in run.stdout and "DT_STRING" in run.stdout


# ---- saved_model_cli ---------------------------------------------------------------------
def _saved_model_cli():
    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable)) or shutil.which("saved_model_cli")
    assert cli is not None, "saved_model_cli is missing: the tensorflow package installs it beside python"
    return cli


@pytest.mark.parametrize("task, exprs, key", [
    ("classifier", 'text=["a great movie"]', "label"),
    ("question_answerer", 'question=["who wrote code?"];context=["Ada wrote code in London."]', "answer"),
])
def test_saved_model_cli_answers_raw_strings(exported, task, exprs, key):
    cli = _saved_model_cli()
    _, path, _ = exported[task]
    show = subprocess.run([cli, "show", "--all", "--dir", path], capture_output=True, text=True, timeout=300)
    assert show.returncode == 0, show.stderr[-2000:]
    assert "signature_def['serving_default']" in show.stdout and "signature_def['serve_tokens']" in show.stdout
    assert "dtype: DT_STRING" in show.stdout
    # `run` needs the tensorflow-text kernel registered: examples/serving/saved_model_cli.py is
    # saved_model_cli after `import tensorflow_text`
    wrapper = os.path.join(SERVING_EXAMPLES, "saved_model_cli.py")
    run = subprocess.run([sys.executable, wrapper, "run", "--dir", path, "--tag_set", "serve", "--signature_def",
                          "serving_default", "--input_exprs", exprs], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"Result for output key {key}:" in run.stdout
