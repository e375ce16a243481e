"""Every task model saves to ``.keras`` and loads back with ``safe_mode=True``, outputs unchanged."""

import keras
import numpy as np
import pytest

from tests.test_export_tasks import TASKS, build


def inputs_for(model, task):
    ids = np.array([[2, 9, 11, 12, 3, 0], [2, 14, 3, 20, 3, 0]], "int32")
    mask = (ids > 0).astype("int32")
    x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": mask}
    if task == "masked_lm":
        x["mask_positions"] = np.array([[1, 2], [3, 0]], "int32")
    if task == "multiple_choice":
        x = {k: np.stack([v, v[::-1]], axis=1) for k, v in x.items()}  # [B, C=2, S]
    return x


@pytest.mark.parametrize("task, bare", [(task, False) for task in TASKS] + [("classifier", True)])
def test_keras_file_round_trip_in_safe_mode(task, bare, tmp_path):
    model = build(task, bare=bare)
    x = inputs_for(model, task)
    before = keras.tree.map_structure(np.asarray, model(x, training=False))
    path = str(tmp_path / f"{task}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    after = keras.tree.map_structure(np.asarray, loaded(x, training=False))
    keras.tree.map_structure(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6), before, after)
    # the preprocessor (its vocabulary) comes back too, so raw-text helpers work after loading
    assert type(loaded.preprocessor) is type(model.preprocessor)
    if model.preprocessor is not None:
        tokenizer = getattr(loaded.preprocessor, "tokenizer", loaded.preprocessor)
        assert tokenizer.vocabulary == getattr(model.preprocessor, "tokenizer", model.preprocessor).vocabulary
    for name in ("label_names", "num_classes", "doc_stride", "max_answer_length", "pooling_mode", "normalize"):
        if hasattr(model, name):
            assert getattr(loaded, name) == getattr(model, name), name


def test_loaded_model_exports_like_the_original(tmp_path):
    """A model loaded from .keras (safe mode) exports a SavedModel that answers as the original does."""
    import tensorflow as tf

    model = build("token_classifier")
    path = str(tmp_path / "ner.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    text = "Ada Lovelace was born in London."
    served = tf.saved_model.load(loaded.export_saved_model(str(tmp_path / "export")))
    out = served.signatures["serving_default"](text=tf.constant([text]))
    want = model.predict_text([text])[0]
    n = int(out["num_words"][0])
    assert [t.decode() for t in out["tags"][0].numpy()[:n]] == want["tags"]
    assert [w.decode() for w in out["words"][0].numpy()[:n]] == want["words"]


def test_a_fresh_process_loads_a_keras_file_after_a_plain_import_tfbert(tmp_path):
    """``import tfbert`` registers every class a .keras file names (task, backbone, preprocessor and
    tokenizer), although its public names load lazily; the command `tfbert evaluate` reads the
    same file (tested in tests/test_cli.py)."""
    import os
    import subprocess
    import sys

    from test_case import REPO_ROOT

    model = build("classifier", bare=False)
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    code = ("import keras, tfbert; m = keras.saving.load_model(%r, safe_mode=True); "
            "print(type(m).__name__, type(m.preprocessor).__name__)" % path)
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["BertClassifier", "BertPreprocessor"]
