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
    """{name: (model, path)} for every task x (dynamic, static), regression, "token_classifier_bare",
    "backbone" and two --xla exports."""
    root = tmp_path_factory.mktemp("serving_exports")
    out = {}
    for task in TASKS:
        for shape in ("dynamic", "static"):
            model = build(task)
            path = model.export_saved_model(str(root / f"{task}_{shape}"),
                                            sequence_length=STATIC if shape == "static" else None,
                                            pair=True if task == "classifier_pair" else None)
            out[f"{task}_{shape}"] = (model, path)
    from tests.test_export_tasks import preprocessor, tiny_bert
    from tfbert.tasks import BertClassifier
    regression = BertClassifier(tiny_bert(9), num_classes=1, preprocessor=preprocessor())  # a score, MSE
    for shape, length in (("dynamic", None), ("static", STATIC)):
        out[f"regression_{shape}"] = (regression, regression.export_saved_model(
            str(root / f"regression_{shape}"), sequence_length=length))
    bare = build("token_classifier", bare=True)
    out["token_classifier_bare"] = (bare, bare.export_saved_model(str(root / "bare")))
    from tfbert.export import export_saved_model
    out["backbone"] = (bare.backbone, export_saved_model(bare.backbone, str(root / "backbone")))
    # --xla: the dynamic GPU form and the static TPU form (the same weights as the default exports)
    classifier, _ = out["classifier_dynamic"]
    out["classifier_xla"] = (classifier, classifier.export_saved_model(str(root / "classifier_xla"), xla=True))
    qa, _ = out["question_answerer_static"]
    out["question_answerer_xla_static"] = (qa, qa.export_saved_model(
        str(root / "qa_xla"), xla=True, sequence_length=STATIC))
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


def serving_signatures(path):
    """The SignatureDefs of a SavedModel, read from saved_model.pb (no loading)."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    return {k: v for k, v in saved.meta_graphs[0].signature_def.items() if not k.startswith("__")}


# ---- warm-up requests ----------------------------------------------------------------------------
#: exports whose warm-up requests are replayed (loading a SavedModel is the slow part; the other
#: exports' records are parsed and checked against their signatures without loading them).
REPLAYED = [f"{task}_dynamic" for task in TASKS] + ["regression_dynamic",
    "token_classifier_static", "question_answerer_static", "multiple_choice_static",
    "token_classifier_bare", "backbone", "classifier_xla", "question_answerer_xla_static"]


def test_warmup_records_parse_and_replay(exports, loaded):
    from tensorflow_serving.apis import prediction_log_pb2 as serving_api  # parses the records as TF Serving does
    for name, (_, path) in sorted(exports.items()):
        saved = serving_signatures(path)
        records = [r.numpy() for r in tf.data.TFRecordDataset(os.path.join(path, WARMUP_FILE))]
        assert len(records) == 2 * len(saved), name
        mine = read_warmup_requests(path)
        for record, (signature, inputs) in zip(records, mine):
            log = serving_api.PredictionLog()
            log.ParseFromString(record)
            assert log.WhichOneof("log_type") == "predict_log"
            request = log.predict_log.request
            assert request.model_spec.signature_name == signature
            assert sorted(request.inputs) == sorted(inputs)
            specs = saved[signature].inputs
            assert sorted(request.inputs) == sorted(specs), (name, signature)
            for key, proto in request.inputs.items():
                assert proto.dtype == specs[key].dtype, (name, signature, key)
                assert len(proto.tensor_shape.dim) == len(specs[key].tensor_shape.dim), (name, signature, key)
            if name not in REPLAYED:
                continue
            fn = loaded(name).signatures[signature]
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


# ---- TF Serving batching: requests concatenated along axis 0 --------------------------------------
BATCH_REQUESTS = {
    "classifier": {"text": ["a great movie", "", "two hours i will never get back " * 6]},
    "regression": {"text": ["a great movie", "stocks fell"]},
    "classifier_pair": {"text": ["the cat sat", "stocks fell", ""], "text_pair": ["a cat", "", "the mat"]},
    "token_classifier": {"text": TEXTS[:4]},
    "question_answerer": {"question": QUESTIONS, "context": CONTEXTS},
    "embedder": {"text": ["a man is eating food", "", "bread " * 40]},
    "masked_lm": {"text": ["paris is the [MASK] of france .", "[MASK] [MASK] wrote code", "no mask"]},
    "multiple_choice": {"text": ["he put the milk back in the", "she opened the umbrella"],
                        "choices": [["fridge", "car", ""], ["it started to rain", "she was hungry", "bus"]]},
}
PADDING = ("", -1, 0, float("-inf"), -1e9)


def assert_same_row(batched, single, where):
    """Row of a batched output vs the one-row output: equal where both have values, padding elsewhere."""
    batched, single = np.asarray(batched), np.asarray(single)
    assert batched.ndim == single.ndim, where
    overlap = tuple(slice(0, min(a, b)) for a, b in zip(batched.shape, single.shape))
    if batched.dtype.kind in "OS":
        np.testing.assert_array_equal(batched[overlap], single[overlap], err_msg=where)
    else:
        np.testing.assert_allclose(batched[overlap], single[overlap], rtol=1e-5, atol=1e-5, err_msg=where)
    for value in (batched, single):  # what one has beyond the other is padding
        extra = np.ones(value.shape, bool)
        extra[overlap] = False
        if extra.any():
            pad = value[extra]
            kind = pad.flat[0].decode() if isinstance(pad.flat[0], bytes) else float(pad.flat[0])
            assert kind in PADDING and (pad == pad.flat[0]).all(), f"{where}: {pad[:5]} is not padding"


@pytest.mark.parametrize("shape", ["dynamic", "static"])
def test_concatenated_requests_answer_as_one_by_one(exports, loaded, shape):
    """What TF Serving's --enable_batching does to serving_default: rows concatenated, outputs split."""
    for task, inputs in BATCH_REQUESTS.items():
        if f"{task}_{shape}" not in REPLAYED:  # static: the tasks that window or pad their outputs
            continue
        fn = loaded(f"{task}_{shape}").signatures["serving_default"]
        batched = fn(**{k: tf.constant(v) for k, v in inputs.items()})
        rows = len(next(iter(inputs.values())))
        for i in range(rows):
            single = fn(**{k: tf.constant(v[i:i + 1]) for k, v in inputs.items()})
            assert sorted(single) == sorted(batched)
            for key in batched:
                assert batched[key].shape[0] == rows
                assert_same_row(batched[key].numpy()[i], single[key].numpy()[0], f"{task}/{shape}/{key}/row {i}")


def test_static_serve_tokens_batch_too(exports, loaded):
    """A static export's serve_tokens requests all have one width, so they concatenate as well."""
    model, _ = exports["multiple_choice_static"]
    fn = loaded("multiple_choice_static").signatures["serve_tokens"]
    contexts, choices = BATCH_REQUESTS["multiple_choice"]["text"], BATCH_REQUESTS["multiple_choice"]["choices"]
    firsts = [c for c, row in zip(contexts, choices) for _ in row]
    flat = model.preprocessor((firsts, [choice for row in choices for choice in row]))
    packed = {k: tf.reshape(tf.constant(v), [2, 3, -1]) for k, v in flat.items()}
    assert packed["token_ids"].shape[2] == STATIC
    batched = fn(**packed)
    for i in range(2):
        single = fn(**{k: v[i:i + 1] for k, v in packed.items()})
        np.testing.assert_allclose(batched["logits"][i], single["logits"][0], atol=1e-5)


def _batching_parameters_class():
    """TF Serving's ``BatchingParameters`` (session_bundle_config.proto, fields 1-7), which
    tensorflow-serving-api does not ship: built here from the same field names and numbers."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    proto = descriptor_pb2.FileDescriptorProto(name="batching_check.proto", package="check", syntax="proto3",
                                               dependency=["google/protobuf/wrappers.proto"])
    message = proto.message_type.add(name="BatchingParameters")
    field = descriptor_pb2.FieldDescriptorProto
    for number, name, kind in [(1, "max_batch_size", ".google.protobuf.Int64Value"),
                               (2, "batch_timeout_micros", ".google.protobuf.Int64Value"),
                               (3, "max_enqueued_batches", ".google.protobuf.Int64Value"),
                               (4, "num_batch_threads", ".google.protobuf.Int64Value"),
                               (5, "thread_pool_name", ".google.protobuf.StringValue")]:
        message.field.add(name=name, number=number, type=field.TYPE_MESSAGE, type_name=kind, label=field.LABEL_OPTIONAL)
    message.field.add(name="allowed_batch_sizes", number=6, type=field.TYPE_INT64, label=field.LABEL_REPEATED)
    message.field.add(name="pad_variable_length_inputs", number=7, type=field.TYPE_BOOL, label=field.LABEL_OPTIONAL)
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("check.BatchingParameters"))


def test_batching_examples_parse():
    """examples/serving/batching_parameters.txt and models.config are valid text protos for the server."""
    from google.protobuf import text_format

    from tests.test_export_tasks import SERVING_EXAMPLES
    with open(os.path.join(SERVING_EXAMPLES, "batching_parameters.txt")) as f:
        text = f.read()
    batching = text_format.Parse(text, _batching_parameters_class()())
    assert batching.max_batch_size.value >= 8 and batching.num_batch_threads.value >= 1
    assert not batching.pad_variable_length_inputs
    # the commented-out sizes for XLA/TPU are valid too: increasing, the last one = max_batch_size
    sizes = text_format.Parse(text.replace("# allowed_batch_sizes", "allowed_batch_sizes"),
                              _batching_parameters_class()()).allowed_batch_sizes
    assert list(sizes) == sorted(sizes) and sizes[-1] == batching.max_batch_size.value
    from tensorflow_serving.config import model_server_config_pb2 as config_pb2  # the server's config protos
    with open(os.path.join(SERVING_EXAMPLES, "models.config")) as f:
        models = text_format.Parse(f.read(), config_pb2.ModelServerConfig())
    configs = models.model_config_list.config
    assert configs and all(c.model_platform == "tensorflow" and c.base_path for c in configs)


# ---- --xla -------------------------------------------------------------------------------------
def _called_functions(library, name, seen=None):
    """``name`` and every library function it calls (through the ``f`` attribute of call ops)."""
    seen = set() if seen is None else seen
    if name in seen or name not in library:
        return seen
    seen.add(name)
    for node in library[name].node_def:
        for attr in node.attr.values():
            if attr.HasField("func"):
                _called_functions(library, attr.func.name, seen)
    return seen


def test_xla_exports_compile_only_the_model(exports):
    from tensorflow.core.protobuf import saved_model_pb2

    for name in ("classifier_xla", "question_answerer_xla_static"):
        saved = saved_model_pb2.SavedModel()
        with open(os.path.join(exports[name][1], "saved_model.pb"), "rb") as f:
            saved.ParseFromString(f.read())
        library = {fn.signature.name: fn for fn in saved.meta_graphs[0].graph_def.library.function}
        compiled = [n for n, fn in library.items() if fn.attr.get("_XlaMustCompile") and fn.attr["_XlaMustCompile"].b]
        assert compiled, f"{name}: no jit-compiled function"
        inside = {node.op for n in compiled for f in _called_functions(library, n) for node in library[f].node_def}
        assert "BatchMatMulV2" in inside or "MatMul" in inside
        text = {op for op in inside if op in serving_ops.TEXT_OPS or "String" in op or op in (
            "Substr", "UnicodeDecode", "UnicodeEncode", "StaticRegexReplace", "StaticRegexFullMatch")}
        assert not text, f"{name}: string ops inside the XLA function: {sorted(text)}"


def test_xla_exports_agree_with_the_default(loaded):
    text = {"text": tf.constant(BATCH_REQUESTS["classifier"]["text"])}
    default = loaded("classifier_dynamic").signatures["serving_default"](**text)
    xla = loaded("classifier_xla").signatures["serving_default"](**text)
    np.testing.assert_allclose(xla["logits"], default["logits"], atol=1e-5)
    assert strings(xla["label"]) == strings(default["label"])
    inputs = {k: tf.constant(v) for k, v in BATCH_REQUESTS["question_answerer"].items()}
    default = loaded("question_answerer_static").signatures["serving_default"](**inputs)
    xla = loaded("question_answerer_xla_static").signatures["serving_default"](**inputs)
    assert strings(xla["answer"]) == strings(default["answer"])
    np.testing.assert_allclose(xla["score"], default["score"], atol=1e-4)
    # the TPU path: serve_tokens of the static XLA export takes [batch, 32] ids
    fn = loaded("question_answerer_xla_static").signatures["serve_tokens"]
    assert fn.structured_input_signature[1]["token_ids"].shape.as_list() == [None, STATIC]
    ids = np.zeros((2, STATIC), "int32")
    ids[:, :6] = [2, 9, 3, 11, 12, 3]
    feed = {"token_ids": tf.constant(ids), "segment_ids": tf.constant((np.arange(STATIC) >= 3) * (ids > 0), tf.int32),
            "padding_mask": tf.constant(ids > 0, tf.int32)}
    want = loaded("question_answerer_static").signatures["serve_tokens"](**feed)
    got = fn(**feed)
    np.testing.assert_allclose(got["start_logits"], want["start_logits"], atol=1e-4)
    assert got["start_token"].numpy().tolist() == want["start_token"].numpy().tolist()


# ---- long documents: every word tagged, every window searched, the same answers everywhere ----------
#: generous bound on seconds per 1,000 words for each path (measured ~0.25 s on a loaded 2-core machine)
SECONDS_PER_1000_WORDS = 2.0
DOCUMENT = "Ada Lovelace wrote the first program for the engine in London . " * 2000  # 24,000 words


def _timed(fn, *args, **kwargs):
    import time

    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _cli_json(capsys, path, *args):
    import json

    from tfbert.cli import main
    capsys.readouterr()
    assert main(["predict", path, *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_long_document_every_word_tagged_everywhere(exports, loaded, capsys):
    model, path = exports["token_classifier_dynamic"]
    model.predict_text("warm up: the first call traces the tokenizer")
    want, seconds = _timed(model.predict_text, DOCUMENT, batch_size=256)
    want = want[0]
    words = len(want["words"])
    assert words == 24_000 and want["words"][-1] == "."
    assert seconds / (words / 1000) < SECONDS_PER_1000_WORDS, f"predict_text: {seconds:.1f} s for {words} words"
    for name in ("token_classifier_dynamic", "token_classifier_static"):
        fn = loaded(name).signatures["serving_default"]
        fn(text=tf.constant(["warm up"]))
        out, seconds = _timed(fn, text=tf.constant([DOCUMENT, "Ada wrote code ."]))
        assert seconds / (words / 1000) < SECONDS_PER_1000_WORDS, f"{name}: {seconds:.1f} s for {words} words"
        assert int(out["num_words"][0]) == words and int(out["num_words"][1]) == 4
        assert strings(out["words"][0]) == want["words"] and strings(out["tags"][0]) == want["tags"], name
        m = int(out["num_entities"][0])
        assert m == len(want["entities"])
        assert out["entity_starts"][0][:m].numpy().tolist() == [e["start"] for e in want["entities"]]
    row = _cli_json(capsys, path, DOCUMENT)  # tfbert predict reads the export's highest version
    assert row["tags"][:row["num_words"]] == want["tags"]


def test_word_tags_come_from_the_window_with_most_context():
    """Each word is read once, in the window where its first piece is most central."""
    from tfbert.data.ner import encode_word_windows
    from tfbert.data.tokens import best_windows, window_starts

    model = build("token_classifier")
    words = ("ada lovelace wrote code in london . " * 6).split()  # 'lovelace' is two pieces
    features = encode_word_windows(model.preprocessor.tokenizer, [words], sequence_length=10, doc_stride=3)
    assert features.num_words.sum() == len(words) and (features.first_word[1:] >= features.first_word[:-1]).all()
    pieces = int(sum(features.lengths[:1])) - 2  # the first window holds 8 pieces
    assert pieces == 8 and len(features.lengths) > 10
    starts = window_starts(50, 8, 3)
    owner = best_windows(50, starts, 8)
    assert owner[0] == 0 and owner[49] == len(starts) - 1
    # piece 10 sits in windows starting at 3, 6, 9: most centred in the one starting at 6 (3 and 1 pieces aside)
    assert starts[owner[10]] == 6


def test_long_context_every_window_searched(exports, loaded, capsys):
    model, path = exports["question_answerer_dynamic"]
    context = "Charles Babbage designed the analytical engine in London ; " * 200 + "Ada Lovelace wrote code ."
    question = "who wrote code ?"
    words = len(context.split())
    model.predict_text(["warm up"], ["the first call traces the tokenizer"])
    want, seconds = _timed(model.predict_text, [question], [context], batch_size=256)
    want = want[0]
    windows = len(model.encode([question], [context]).example)
    assert windows > 16 * 10  # far beyond the 16 windows the serving signature used to read
    assert seconds / (words / 1000) < SECONDS_PER_1000_WORDS, f"predict_text: {seconds:.1f} s for {words} words"
    for name in ("question_answerer_dynamic", "question_answerer_static"):
        fn = loaded(name).signatures["serving_default"]
        fn(question=tf.constant(["warm up"]), context=tf.constant(["the first call sets the graph up"]))
        out, seconds = _timed(fn, question=tf.constant([question]), context=tf.constant([context]))
        assert seconds / (words / 1000) < SECONDS_PER_1000_WORDS, f"{name}: {seconds:.1f} s for {words} words"
        assert strings(out["answer"]) == [want["text"]], name
        assert (int(out["start"][0]), int(out["end"][0])) == (want["start"], want["end"]), name
        np.testing.assert_allclose(out["score"][0], want["score"], rtol=1e-5, atol=1e-5)
    row = _cli_json(capsys, path, "--question", question, "--context", context)
    assert (row["answer"], row["start"], row["end"]) == (want["text"], want["start"], want["end"])


def test_cli_export_flags(tmp_path, capsys):
    """`tfbert export --no-warmup --xla` reaches export_saved_model; the default writes the warm-up file."""
    from tfbert.cli import main

    model = build("embedder")
    source = str(tmp_path / "embedder.keras")
    model.save(source)
    assert main(["export", source, "--export-dir", str(tmp_path / "plain")]) == 0
    assert os.path.exists(tmp_path / "plain" / "1" / WARMUP_FILE)
    assert main(["export", source, "--export-dir", str(tmp_path / "xla"), "--no-warmup", "--xla"]) == 0
    assert not os.path.exists(tmp_path / "xla" / "1" / "assets.extra")
    with open(tmp_path / "xla" / "1" / "saved_model.pb", "rb") as f:
        assert b"_XlaMustCompile" in f.read()
