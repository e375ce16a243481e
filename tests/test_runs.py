"""Run directories, the callbacks that record a run, and the PNG plots."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbert.callbacks import HistoryRecorder, ScalarSummaries, run_callbacks
from tfbert.plots import confusion_matrix, plot_confusion_matrix, plot_history, plots_available
from tfbert.runs import RunDirectory, RunExistsError, is_run, open_run
from tfbert.training import fit_resumable


def test_new_run_refuses_existing_run_then_overwrite_and_resume(tmp_path):
    path = str(tmp_path / "run")
    run = open_run(path, "finetune", {"epochs": 1, "data": "x.csv"})
    assert is_run(path) and run.settings == {"epochs": 1, "data": "x.csv"}
    open(run.file("model.keras"), "w").close()
    run.close()  # release the lock: this process reopens the run below
    with pytest.raises(RunExistsError, match="--overwrite.*--resume"):
        open_run(path, "finetune", {"epochs": 2})
    resumed = open_run(path, "finetune", {"epochs": 2}, mode="resume")
    assert resumed.resumed and resumed.settings["epochs"] == 1  # stored settings win
    assert os.path.exists(resumed.file("model.keras"))
    resumed.close()
    fresh = open_run(path, "finetune", {"epochs": 2}, mode="overwrite")
    assert fresh.settings == {"epochs": 2}
    assert not os.path.exists(fresh.file("model.keras"))  # the old run is gone


def test_never_deletes_a_directory_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"holds files tfbert did not write \(notes.txt\)"):
        open_run(str(tmp_path), "finetune", {}, mode="overwrite")
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        open_run(str(tmp_path), "finetune", {}, mode="resume")


def test_resume_checks_the_command(tmp_path):
    open_run(str(tmp_path / "r"), "pretrain", {})
    with pytest.raises(ValueError, match="holds a `tfbert pretrain` run"):
        open_run(str(tmp_path / "r"), "finetune", {}, mode="resume")
    with pytest.raises(FileNotFoundError, match="not a tfbert run directory"):
        RunDirectory(str(tmp_path))


def test_metrics_json_merges_sections_and_converts_numpy(tmp_path):
    run = open_run(str(tmp_path / "r"), "finetune", {})
    run.update_metrics(history={"loss": [np.float32(0.5)]})
    run.update_metrics(test={"accuracy": np.float64(0.75), "confusion_matrix": np.eye(2, dtype="int64")})
    with open(run.file("metrics.json")) as f:
        metrics = json.load(f)
    assert metrics == {"history": {"loss": [0.5]}, "test": {"accuracy": 0.75, "confusion_matrix": [[1, 0], [0, 1]]}}


def _tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


def test_history_continues_when_a_run_resumes(tmp_path):
    x, y = np.random.default_rng(0).normal(size=(16, 3)), np.zeros((16, 2))
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)  # 4 steps per epoch
    run = open_run(str(tmp_path / "r"), "finetune", {})

    class StopAfter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt  # an interruption after two epochs

    with pytest.raises(KeyboardInterrupt):
        fit_resumable(_tiny_model(), data, epochs=4, checkpoint_dir=run.checkpoint_dir, verbose=0,
                      callbacks=run_callbacks(run) + [StopAfter()])
    assert len(run.read_metrics()["history"]["loss"]) == 2
    run.close()

    resumed = open_run(run.path, "finetune", {}, mode="resume")
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))
    fit_resumable(_tiny_model(), data, epochs=4, checkpoint_dir=resumed.checkpoint_dir, verbose=0,
                  callbacks=run_callbacks(resumed) + [record])
    # The interruption came before the second epoch's checkpoint: epoch index 1 runs again,
    # and its first (recorded but unsaved) history entry is replaced, not duplicated.
    assert seen == [1, 2, 3]
    metrics = resumed.read_metrics()
    assert len(metrics["history"]["loss"]) == 4 and metrics["epochs_done"] == 4
    assert sorted(os.listdir(resumed.logs_dir)) == ["train"]


def test_scalar_summaries_are_readable_event_files(tmp_path):
    model = _tiny_model()
    x = np.ones((8, 3))
    model.fit(x, np.ones((8, 2)), validation_data=(x, np.ones((8, 2))), epochs=3, verbose=0,
              callbacks=[ScalarSummaries(str(tmp_path))])
    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]
    events = [f for f in os.listdir(tmp_path / "train") if f.startswith("events.out.tfevents")]
    steps = {}
    for record in tf.data.TFRecordDataset(str(tmp_path / "train" / events[0])):
        event = tf.compat.v1.Event.FromString(record.numpy())
        for value in event.summary.value:
            steps.setdefault(value.tag, []).append(event.step)
            assert value.metadata.plugin_data.plugin_name == "scalars"
    assert steps == {"epoch_loss": [0, 1, 2]}


def test_history_recorder_alone(tmp_path):
    run = open_run(str(tmp_path / "r"), "finetune", {})
    _tiny_model().fit(np.ones((4, 3)), np.ones((4, 2)), epochs=2, verbose=0, callbacks=[HistoryRecorder(run)])
    assert len(run.read_metrics()["history"]["loss"]) == 2


def test_confusion_matrix_counts_and_checks():
    m = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], num_classes=3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert m.sum() == 6
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\)"):
        confusion_matrix([0, 2], [0, 1], num_classes=2)
    with pytest.raises(ValueError, match="differ in length"):
        confusion_matrix([0, 1], [0], num_classes=2)


def test_plots_are_png_files(tmp_path):
    if not plots_available():
        pytest.skip("matplotlib is not installed (the `plots` extra)")
    curves = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]},
                          str(tmp_path / "curves.png"))
    matrix = plot_confusion_matrix([[3, 1], [0, 4]], ["neg", "pos"], str(tmp_path / "cm.png"))
    for path in (curves, matrix):
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="does not match 3 class names"):
        plot_confusion_matrix([[1]], ["a", "b", "c"], str(tmp_path / "bad.png"))
