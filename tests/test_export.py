"""export_saved_model: versions, atomic writes, serve_tokens, isolation, saved_model_cli."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from test_case import TINY, random_inputs
from tests.export_checks import run_isolated
from tfbert import export as export_module
from tfbert.export import export_saved_model, next_version
from tfbert.tasks import BertClassifier


def tiny_bert(**overrides):
    return tfbert.BERT(tfbert.BertConfig(**{**TINY, "num_hidden_layers": 1, **overrides}))


def tiny_classifier(num_classes=3, label_names=("neg", "neutral", "pos")):
    return BertClassifier(tiny_bert(), num_classes=num_classes,
                          label_names=list(label_names) if label_names else None)


def token_inputs(batch=3, seq_len=10, seed=0):
    return {k: tf.constant(v) for k, v in random_inputs(batch, seq_len, TINY["vocab_size"], seed).items()}


@pytest.fixture(scope="module")
def classifier_export(tmp_path_factory):
    import keras
    keras.utils.set_random_seed(7)
    model = tiny_classifier()
    root = tmp_path_factory.mktemp("classifier_export")
    path = export_saved_model(model, root)
    return model, path, tf.saved_model.load(path)


# ---- versions and atomicity ------------------------------------------------------
def test_versions_count_up_and_explicit_versions_are_kept(tmp_path):
    bert = tiny_bert()
    assert next_version(tmp_path / "missing") == 1
    first = export_saved_model(bert, tmp_path)
    second = export_saved_model(bert, tmp_path)
    assert [os.path.basename(first), os.path.basename(second)] == ["1", "2"]
    os.makedirs(tmp_path / "7")  # an older version, e.g. from another machine
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_saved_model(bert, tmp_path, version=2)
    assert next_version(tmp_path) == 8
    export_saved_model(bert, tmp_path, version=7, overwrite=True)
    assert sorted(os.listdir(tmp_path), key=int) == ["1", "2", "7"]
    assert os.path.exists(tmp_path / "7" / "saved_model.pb")
    for bad in (-1, "v3", 1.5, True):
        with pytest.raises(ValueError, match="version must be"):
            export_saved_model(bert, tmp_path, version=bad)


def test_failed_write_leaves_no_partial_version(tmp_path, monkeypatch):
    bert = tiny_bert()
    real_save = export_module._save

    def save_then_crash(serving, path, signatures):
        real_save(serving, path, signatures)  # a complete SavedModel in the temporary directory ...
        assert os.path.exists(os.path.join(path, "saved_model.pb"))
        raise OSError("disk full (forced by the test)")  # ... then the export fails

    monkeypatch.setattr(export_module, "_save", save_then_crash)
    with pytest.raises(OSError, match="forced by the test"):
        export_saved_model(bert, tmp_path)
    assert os.listdir(tmp_path) == []  # neither a version nor the temporary directory
    monkeypatch.undo()
    assert os.path.basename(export_saved_model(bert, tmp_path)) == "1"


def test_failure_while_tracing_leaves_nothing(tmp_path):
    bert = tiny_bert()
    export_saved_model(bert, tmp_path)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        export_saved_model(bert, tmp_path, sequence_length=TINY["max_position_embeddings"] + 1)
    with pytest.raises(TypeError, match="cannot export"):
        import keras
        export_saved_model(keras.Sequential([keras.layers.Dense(1)]), tmp_path)
    assert os.listdir(tmp_path) == ["1"]


# ---- serve_tokens ------------------------------------------------------------------
def test_backbone_serve_tokens_equals_the_model(tmp_path):
    bert = tiny_bert()
    served = tf.saved_model.load(export_saved_model(bert, tmp_path))
    assert sorted(served.signatures) == ["serve_tokens", "serving_default"]
    inputs = token_inputs()
    got = served.signatures["serve_tokens"](**inputs)
    want = bert(inputs, training=False)
    np.testing.assert_allclose(got["pooled_output"], want["pooled_output"], atol=1e-5)
    np.testing.assert_allclose(got["sequence_output"], want["sequence_output"], atol=1e-5)
    np.testing.assert_array_equal(got["padding_mask"], inputs["padding_mask"])


def test_backbone_with_a_preprocessor_serves_text(tmp_path):
    from tfbert.preprocessing import BertPreprocessor, BertTokenizer

    bert = tiny_bert()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "great", "movie", "##s"]
    prep = BertPreprocessor(BertTokenizer(vocab))
    served = tf.saved_model.load(export_saved_model(bert, tmp_path, preprocessor=prep))
    texts = ["a great movie", "movies", ""]
    out = served.signatures["serving_default"](text=tf.constant(texts))
    want = bert(prep(texts), training=False)
    np.testing.assert_allclose(out["pooled_output"], want["pooled_output"], atol=1e-5)
    assert out["sequence_output"].shape[1] % 8 == 0  # dynamic padding, multiple of 8


def test_classifier_serve_tokens_outputs(classifier_export):
    model, _, served = classifier_export
    inputs = token_inputs()
    out = served.signatures["serve_tokens"](**inputs)
    logits = model(inputs, training=False).numpy()
    assert sorted(out) == ["label", "label_id", "logits", "probabilities"]
    np.testing.assert_allclose(out["logits"], logits, atol=1e-5)
    np.testing.assert_allclose(out["probabilities"], tf.nn.softmax(logits), atol=1e-6)
    np.testing.assert_array_equal(out["label_id"], logits.argmax(-1))
    names = np.array([b"neg", b"neutral", b"pos"])
    np.testing.assert_array_equal(out["label"], names[logits.argmax(-1)])


def test_regression_and_unnamed_classifier_outputs(tmp_path):
    regression = BertClassifier(tiny_bert(), num_classes=1)
    served = tf.saved_model.load(export_saved_model(regression, tmp_path / "reg"))
    inputs = token_inputs()
    out = served.signatures["serve_tokens"](**inputs)
    assert sorted(out) == ["logits", "score"]
    np.testing.assert_allclose(out["score"], regression(inputs, training=False)[:, 0], atol=1e-5)
    unnamed = tiny_classifier(num_classes=2, label_names=None)
    served = tf.saved_model.load(export_saved_model(unnamed, tmp_path / "plain"))
    assert sorted(served.signatures["serve_tokens"](**inputs)) == ["label_id", "logits", "probabilities"]


def test_static_sequence_length_fixes_the_token_shapes(tmp_path):
    model = tiny_classifier()
    served = tf.saved_model.load(export_saved_model(model, tmp_path, sequence_length=16))
    fn = served.signatures["serve_tokens"]
    assert fn.structured_input_signature[1]["token_ids"].shape.as_list() == [None, 16]
    inputs = token_inputs(seq_len=16)
    np.testing.assert_allclose(fn(**inputs)["logits"], model(inputs, training=False), atol=1e-5)
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        fn(**token_inputs(seq_len=10))


# ---- which serving module, which options ----------------------------------------------
def test_each_model_class_names_its_serving_class():
    from tfbert import tasks
    from tfbert.serving import BackboneServing, ClassifierServing, serving_class
    from tfbert.serving.embedder import EmbedderServing
    from tfbert.serving.masked_lm import MaskedLMServing
    from tfbert.serving.multiple_choice import MultipleChoiceServing
    from tfbert.serving.question_answerer import QuestionAnswererServing
    from tfbert.serving.token_classifier import TokenClassifierServing

    expected = {tfbert.BERT: BackboneServing, tasks.BertClassifier: ClassifierServing,
                tasks.BertTokenClassifier: TokenClassifierServing, tasks.BertQuestionAnswerer: QuestionAnswererServing,
                tasks.BertMultipleChoice: MultipleChoiceServing, tasks.BertEmbedder: EmbedderServing,
                tasks.BertMaskedLM: MaskedLMServing, tasks.BertPretrainer: MaskedLMServing}
    assert {cls: cls.serving_class for cls in expected} == expected
    bert = tiny_bert()
    assert serving_class(bert) is BackboneServing
    assert serving_class(tasks.BertPretrainer(bert)) is MaskedLMServing  # inherited from BertMaskedLM


def test_an_option_the_serving_class_does_not_take_is_refused(tmp_path):
    from tfbert.export import build_serving_module
    from tfbert.serving import BackboneServing, UnknownOptionError
    from tfbert.tasks import BertQuestionAnswerer

    classifier = tiny_classifier()
    with pytest.raises(UnknownOptionError, match=r"^top_k: not an export option for a BertClassifier\. Its serving "
                                                 r"module ClassifierServing takes pair and pad_to_multiple_of"):
        export_saved_model(classifier, tmp_path, top_k=3)  # a masked-LM option
    with pytest.raises(TypeError, match=r"^pairs: .*takes pair and pad_to_multiple_of"):
        export_saved_model(classifier, tmp_path, pairs=True)  # a misspelling: a TypeError like any unknown keyword
    with pytest.raises(ValueError, match="ClassifierServing takes pair"):
        classifier.export_saved_model(str(tmp_path), doc_stride=4, top_k=1)
    qa = BertQuestionAnswerer(tiny_bert())
    with pytest.raises(UnknownOptionError, match=r"^pair: .*QuestionAnswererServing takes doc_stride, max_query_length, "
                                                 r"max_answer_length, n_best, max_windows and pad_to_multiple_of"):
        export_saved_model(qa, tmp_path, pair=True)
    with pytest.raises(UnknownOptionError, match=r"^doc_stride, pair: not export options for a BERT\. Its serving "
                                                 r"module BackboneServing takes no task option, only pad_to_multiple_of"):
        build_serving_module(tiny_bert(), pair=True, doc_stride=3)
    assert os.listdir(tmp_path) == []  # refused before anything was written
    # None is every option's default, so a caller may pass the same keywords for every task
    serving = build_serving_module(tiny_bert(), pair=None, top_k=None, max_windows=None, pad_to_multiple_of=None)
    assert isinstance(serving, BackboneServing) and serving.options == {} and serving.pad_to_multiple_of == 8


def test_a_model_without_a_serving_class_is_refused(tmp_path):
    import keras

    from tfbert.export import build_serving_module
    from tfbert.serving import serving_class
    from tfbert.tasks.base import BertTask

    class Plain(keras.Model):
        def call(self, inputs):
            return inputs

    for model in (Plain(), keras.Sequential([keras.layers.Dense(1)]), BertTask(tiny_bert())):
        name = type(model).__name__
        with pytest.raises(TypeError, match=f"cannot export a {name}: .*serving_class.*keras.export.ExportArchive"):
            serving_class(model)
        with pytest.raises(TypeError, match=f"cannot export a {name}"):
            build_serving_module(model, sequence_length=16)
        with pytest.raises(TypeError, match=f"cannot export a {name}"):
            export_saved_model(model, tmp_path)

    class Misnamed(Plain):
        serving_class = dict

    with pytest.raises(TypeError, match=r"Misnamed\.serving_class must be a subclass of tfbert\.serving\.ServingModule"):
        serving_class(Misnamed())
    assert os.listdir(tmp_path) == []


def test_serving_imports_neither_the_model_nor_the_tasks():
    """The task modules import their serving module, never the other way round (no import cycle)."""
    import ast
    import pathlib

    def reaches_up(module):
        return module in ("tfbert.model", "tfbert.tasks") or module.startswith("tfbert.tasks.")

    folder = pathlib.Path(tfbert.__file__).parent / "serving"
    found = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):  # lazy imports inside functions too
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
                    "import_module", "__import__"):
                modules = [arg.value for arg in node.args[:1] if isinstance(arg, ast.Constant)] or ["<computed>"]
            else:
                continue
            found += [f"{path.name}:{node.lineno}: {m}" for m in modules if reaches_up(m) or m == "<computed>"]
    assert found == []


# ---- bad token input ----------------------------------------------------------------
def test_serve_tokens_bad_input(classifier_export):
    _, _, served = classifier_export
    fn = served.signatures["serve_tokens"]
    good = token_inputs()
    # empty batch: empty outputs of the right rank
    empty = {k: tf.zeros((0, 8), tf.int32) for k in good}
    out = fn(**empty)
    assert out["logits"].shape == (0, 3) and out["label"].shape == (0,)
    # wrong dtype
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        fn(**{**good, "token_ids": tf.cast(good["token_ids"], tf.float32)})
    # mismatched shapes
    with pytest.raises(tf.errors.InvalidArgumentError, match="segment_ids must have the shape of token_ids"):
        fn(**{**good, "segment_ids": good["segment_ids"][:, :4]})
    # ids outside the vocabulary
    with pytest.raises(tf.errors.InvalidArgumentError, match="vocab_size"):
        fn(**{**good, "token_ids": good["token_ids"] + TINY["vocab_size"]})
    # too long for the position table
    long = {k: tf.ones((1, TINY["max_position_embeddings"] + 1), tf.int32) for k in good}
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_position_embeddings"):
        fn(**long)


# ---- independence ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["python", "ops_only"])
def test_loads_and_answers_without_tfbert_or_keras(classifier_export, tmp_path, mode):
    model, path, _ = classifier_export
    inputs = {k: v.numpy() for k, v in token_inputs(batch=4, seq_len=12, seed=3).items()}
    info, outputs = run_isolated([(path, "serve_tokens", inputs)], str(tmp_path), mode=mode)
    assert info["blocked_modules_loaded"] == []
    assert info["signatures"][os.path.abspath(path)] == ["serve_tokens", "serving_default"]
    np.testing.assert_allclose(outputs[0]["logits"], model(inputs, training=False), atol=1e-5)
    assert outputs[0]["label"].dtype.kind == "S"


# ---- saved_model_cli ------------------------------------------------------------------
def _saved_model_cli():
    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable)) or shutil.which("saved_model_cli")
    assert cli is not None, "saved_model_cli is missing: the tensorflow package installs it beside python"
    return cli


def test_saved_model_cli_show_and_run_tokens(classifier_export):
    cli = _saved_model_cli()
    _, path, _ = classifier_export
    show = subprocess.run([cli, "show", "--all", "--dir", path], capture_output=True, text=True, timeout=120)
    assert show.returncode == 0, show.stderr[-2000:]
    for name in ("signature_def['serving_default']", "signature_def['serve_tokens']",
                 "inputs['token_ids']", "outputs['label']", "outputs['probabilities']"):
        assert name in show.stdout
    run = subprocess.run(
        [cli, "run", "--dir", path, "--tag_set", "serve", "--signature_def", "serve_tokens", "--input_exprs",
         "token_ids=[[2,7,3]];segment_ids=[[0,0,0]];padding_mask=[[1,1,1]]"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Result for output key label:" in run.stdout and "Result for output key logits:" in run.stdout
