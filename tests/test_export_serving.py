"""What TF Serving needs from every export: allowed ops only, warm-up records, batching, XLA.

One module-scoped fixture exports every task once with dynamic and once with
static shapes (plus a token-ids-only export and the bare backbone); the tests
below all read those exports.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from tests.test_export_tasks import CONTEXTS, QUESTIONS, TASKS, TEXTS, build, strings
from tfbert.serving import ops as serving_ops
from tfbert.serving.warmup import WARMUP_FILE, decode_prediction_log, read_warmup_requests

STATIC = 32  # the static width (the tiny models' preprocessor packs 32 tokens)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """{name: (model, path)} for every task x (dynamic, static), "token_classifier_bare" and "backbone"."""
    root = tmp_path_factory.mktemp("serving_exports")
    out = {}
    for task in TASKS:
        for shape in ("dynamic", "static"):
            model = build(task)
            path = model.export_saved_model(str(root / f"{task}_{shape}"),
                                            sequence_length=STATIC if shape == "static" else None,
                                            pair=True if task == "classifier_pair" else None)
            out[f"{task}_{shape}"] = (model, path)
    bare = build("token_classifier", bare=True)
    out["token_classifier_bare"] = (bare, bare.export_saved_model(str(root / "bare")))
    from tfbert.export import export_saved_model
    out["backbone"] = (bare.backbone, export_saved_model(bare.backbone, str(root / "backbone")))
    return out


@pytest.fixture(scope="module")
def loaded(exports):
    cache = {}

    def load(name):
        if name not in cache:
            cache[name] = tf.saved_model.load(exports[name][1])
        return cache[name]
    return load


# ---- the op allow-list ------------------------------------------------------------------------
def test_every_export_uses_only_ops_tf_serving_has(exports):
    seen = set()
    for name, (_, path) in sorted(exports.items()):
        bad = serving_ops.unsupported_ops(path)
        assert not bad, f"{name} uses ops outside tfbert/serving/ops.py's allow-list: {bad}"
        seen |= set(serving_ops.saved_model_ops(path))
    # the walk reaches into the function library (the tokenizer and the model live there)
    assert {"FastWordpieceTokenizeWithOffsets", "NormalizeUTF8", "BatchMatMulV2", "TopKV2"} <= seen
    assert not seen & set(serving_ops.LATER_TEXT_OPS)


def test_a_new_op_fails_with_its_name(tmp_path):
    """An op outside the list (here one that calls Python) is reported by name and reason."""
    module = tf.Module()
    module.f = tf.function(lambda x: tf.numpy_function(lambda v: v * 2, [x], tf.float32),
                           input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, str(tmp_path), signatures=module.f.get_concrete_function())
    bad = serving_ops.unsupported_ops(str(tmp_path))
    assert "PyFunc" in bad and "Python" in bad["PyFunc"]


def test_the_allow_list_matches_this_tensorflow():
    """CORE_OPS are core ops (not tensorflow-text's), TEXT_OPS are tensorflow-text's, as registered here."""
    import glob
    import importlib.util

    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    def registered():
        ops = op_def_pb2.OpList()
        ops.ParseFromString(pywrap_tf_session.TF_GetBuffer(pywrap_tf_session.TF_GetAllOpList()))
        return {op.name for op in ops.op}

    text_dir = os.path.dirname(importlib.util.find_spec("tensorflow_text").origin)
    for library in glob.glob(os.path.join(text_dir, "python", "ops", "_*.so")):
        tf.load_op_library(library)  # already loaded by tfbert's tokenizer: returns the same handle
    everything = registered()
    assert serving_ops.CORE_OPS <= everything, sorted(serving_ops.CORE_OPS - everything)
    assert serving_ops.TEXT_OPS | set(serving_ops.LATER_TEXT_OPS) <= everything
    # a text op would need tensorflow_text's kernels: none of those may be listed as core
    assert not {op for op in serving_ops.CORE_OPS if op.startswith("TFText>") or "UTF8" in op or "Wordpiece" in op}


# ---- warm-up requests ----------------------------------------------------------------------------
def test_warmup_records_parse_and_replay(exports, loaded):
    serving_api = pytest.importorskip("tensorflow_serving.apis.prediction_log_pb2",
                                      reason="tensorflow-serving-api parses the records as TF Serving does")
    for name, (_, path) in sorted(exports.items()):
        served = loaded(name)
        records = [r.numpy() for r in tf.data.TFRecordDataset(os.path.join(path, WARMUP_FILE))]
        assert len(records) == 2 * len(served.signatures), name
        mine = read_warmup_requests(path)
        for record, (signature, inputs) in zip(records, mine):
            log = serving_api.PredictionLog()
            log.ParseFromString(record)
            assert log.WhichOneof("log_type") == "predict_log"
            request = log.predict_log.request
            assert request.model_spec.signature_name == signature
            assert sorted(request.inputs) == sorted(inputs)
            fn = served.signatures[signature]
            assert sorted(request.inputs) == sorted(fn.structured_input_signature[1]), (name, signature)
            feed = {key: tf.constant(tf.make_ndarray(proto))
                    for key, proto in request.inputs.items()}
            for key in feed:
                np.testing.assert_array_equal(feed[key].numpy(), inputs[key])
            out = fn(**feed)  # replays through the loaded model
            batch = next(iter(feed.values())).shape[0]
            assert out and all(v.shape[0] == batch for v in out.values()), (name, signature)


def test_export_without_warmup(tmp_path):
    model = build("classifier")
    path = model.export_saved_model(str(tmp_path), warmup=False)
    assert not os.path.exists(os.path.join(path, "assets.extra"))
    assert os.path.exists(os.path.join(path, "saved_model.pb"))


def test_decoder_rejects_other_logs():
    with pytest.raises(ValueError, match="predict_log"):
        decode_prediction_log(b"\x0a\x00")  # a PredictionLog with only log_metadata


def test_warmup_written_before_the_version_appears(tmp_path, monkeypatch):
    """A failing warm-up write leaves no version behind (it happens inside the temporary directory)."""
    from tfbert import export as export_module

    def fail(*args):
        raise OSError("disk full")
    monkeypatch.setattr(export_module, "_write_warmup", fail)
    with pytest.raises(OSError, match="disk full"):
        build("embedder").export_saved_model(str(tmp_path))
    assert os.listdir(tmp_path) == []  # no version, no temporary directory left
