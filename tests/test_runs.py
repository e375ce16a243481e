"""Run directories, the callbacks that record a run, and the PNG plots; and the reliability rules of runs
and exports: what a run is, what --overwrite deletes, the lock, failed starts, file modes, kills."""

import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfbert
from test_case import TINY
from tfbert import cli, fileio
from tfbert.callbacks import HistoryRecorder, ScalarSummaries, run_callbacks
from tfbert.plots import confusion_matrix, plot_confusion_matrix, plot_history, plots_available
from tfbert.runs import (ForeignDirectoryError, RunDirectory, RunExistsError, RunLockedError, is_run, open_run,
                         start_run)
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


# ---- reliability: what a run is, what --overwrite deletes, the lock, failed starts, file modes ----------
HERE = os.path.dirname(os.path.abspath(__file__))
KILL_WORKER = os.path.join(HERE, "kill_worker.py")
RESUME_WORKER = os.path.join(HERE, "resume_worker.py")


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
                PYTHONPATH=os.pathsep.join([os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")]))


def _tree(path):
    return sorted(os.path.relpath(os.path.join(d, n), path) for d, dirs, files in os.walk(path) for n in dirs + files)


@pytest.mark.parametrize("text", ['{"command": "python benchmarks/finetune.py sst2", "settings": {}}',
                                  "not json at all", '["finetune"]',
                                  '{"command": "finetune", "settings": {}, "started": "2026-01-01T00:00:00"}'])
def test_another_tools_run_json_is_never_taken_for_a_run(tmp_path, text):
    (tmp_path / "run.json").write_text(text)
    (tmp_path / "results.csv").write_text("mine")
    before = _tree(tmp_path)
    for mode in ("new", "overwrite", "resume", "check"):
        with pytest.raises(ForeignDirectoryError, match="was not written by tfbert.*choose another --output-dir"):
            open_run(str(tmp_path), "finetune", {}, mode=mode)
    assert not is_run(str(tmp_path))
    with pytest.raises(ForeignDirectoryError, match="was not written by tfbert"):
        RunDirectory(str(tmp_path))
    assert _tree(tmp_path) == before  # nothing deleted, no lock file written


def test_overwrite_deletes_only_what_tfbert_wrote_and_names_the_rest(tmp_path):
    path = str(tmp_path / "run")
    with open_run(path, "pretrain", {"steps": 1}) as run:
        for name in ("model.keras", "vocab.txt", "preset/config.json", "logs/train/events.out.tfevents.1",
                     "plots/training_curves.png", "checkpoints/latest", "checkpoints/step-000000001-epoch-00001-0000000/x",
                     ".metrics.json.ab12cd", ".model.tmp-123.keras"):
            os.makedirs(os.path.dirname(run.file(name)), exist_ok=True)
            open(run.file(name), "w").close()
    assert run.record["tfbert_version"] == tfbert.__version__ and run.record["command"] == "pretrain"
    (tmp_path / "run" / "notes.txt").write_text("mine")
    (tmp_path / "run" / "plots" / "figure.pdf").write_text("mine")
    (tmp_path / "run" / "checkpoints" / "my-backup").mkdir()
    before = _tree(tmp_path / "run")
    with pytest.raises(ForeignDirectoryError) as refused:
        open_run(path, "pretrain", {"steps": 2}, mode="overwrite")
    message = str(refused.value)
    assert "holds a run and files tfbert did not write (checkpoints/my-backup, notes.txt, plots/figure.pdf)" in message
    assert "\n" not in message
    assert _tree(tmp_path / "run") == before
    for name in ("notes.txt", "plots/figure.pdf"):
        os.remove(tmp_path / "run" / name)
    os.rmdir(tmp_path / "run" / "checkpoints" / "my-backup")
    with open_run(path, "pretrain", {"steps": 2}, mode="overwrite") as fresh:
        assert sorted(os.listdir(path)) == ["run.json", "run.lock"] and fresh.settings == {"steps": 2}


def _hold(run_dir):
    """A second process that holds ``run_dir`` as a live run; returns it once its lock is taken."""
    proc = subprocess.Popen([sys.executable, KILL_WORKER, "hold", run_dir], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line == "ready\n", proc.stderr.read()[-2000:]
    return proc


def test_a_live_run_is_locked_against_a_second_process_and_kill_9_leaves_no_stale_lock(capsys, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = _hold(run_dir)
    try:
        record = (tmp_path / "run" / "run.json").read_text()
        for mode in ("overwrite", "resume"):
            with pytest.raises(RunLockedError, match=rf"in use by another tfbert process \(pid {proc.pid}, "
                                                     r"`tfbert finetune`\).*wait for it to finish"):
                open_run(run_dir, "finetune", {}, mode=mode)
        data = tmp_path / "reviews.csv"
        data.write_text("text,label\n" + "a good film,1\na bad film,0\n" * 10)
        for flag in ("--overwrite", "--resume"):
            start = time.time()
            code = cli.main(["finetune", "-o", run_dir, "--data", str(data), flag])
            err = capsys.readouterr().err
            assert code == 1 and time.time() - start < 30, err
            assert f"tfbert: error: run directory {os.path.abspath(run_dir)} is in use by another tfbert process " \
                   f"(pid {proc.pid}" in err
        with pytest.raises(RunLockedError, match=f"pid {proc.pid}"):  # `tfbert evaluate` writing its metrics
            RunDirectory(run_dir).update_metrics(evaluate_test={"accuracy": 1.0})
        assert (tmp_path / "run" / "run.json").read_text() == record  # the live run was not touched
        assert not (tmp_path / "run" / "metrics.json").exists()
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with open_run(run_dir, "finetune", {}, mode="resume") as run:  # the OS released the lock: no stale lock
        assert run.resumed


def test_failed_start_leaves_nothing_behind(tmp_path):
    path = str(tmp_path / "run")
    with pytest.raises(ZeroDivisionError):
        run, _, _ = start_run(path, "finetune", {"epochs": None}, {"epochs": 1})
        with run:
            os.makedirs(run.logs_dir)
            open(run.file("vocab.txt"), "w").close()
            1 / 0  # a failure before the first checkpoint
    assert not os.path.exists(path)  # tfbert made the folder, so it goes too
    os.makedirs(path)
    with pytest.raises(KeyboardInterrupt):
        with start_run(path, "finetune", {}, {"epochs": 1})[0]:
            raise KeyboardInterrupt
    assert os.listdir(path) == []  # the user's empty folder stays, empty
    with pytest.raises(ValueError, match="bad data"):  # a failing check writes nothing
        start_run(path, "finetune", {}, {"epochs": 1}, check=lambda settings: (_ for _ in ()).throw(
            ValueError("bad data")))
    assert os.listdir(path) == []
    with pytest.raises(ZeroDivisionError):  # after a checkpoint, a failed run is kept for --resume
        with start_run(path, "finetune", {}, {"epochs": 1})[0] as run:
            os.makedirs(os.path.join(run.checkpoint_dir, "step-000000001-epoch-00000-0000001"))
            1 / 0
    assert sorted(os.listdir(path)) == ["checkpoints", "run.json", "run.lock"]
    with pytest.raises(ZeroDivisionError):  # a resumed run is never removed
        with start_run(path, "finetune", {}, {"epochs": 1}, mode="resume")[0]:
            shutil.rmtree(os.path.join(path, "checkpoints"))
            1 / 0
    assert is_run(path)


@pytest.fixture(scope="module")
def tiny_run_inputs(tmp_path_factory):
    """A tiny Hugging Face preset and a CSV of labelled texts."""
    root = tmp_path_factory.mktemp("inputs")
    words = ["good", "bad", "film", "fun", "dull", "a"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    preset = str(root / "tiny_hf")
    tfbert.BERT(tfbert.BertConfig(**{**TINY, "vocab_size": len(vocab)})).save_huggingface(
        preset, vocabulary=vocab, lowercase=True)
    data = root / "reviews.csv"
    data.write_text("text,label\n" + "a good film,1\na bad film,0\nfun,1\ndull,0\n" * 8)
    return preset, str(data)


@pytest.mark.parametrize("case", ["header-only csv", "max-seq-len 1"])
def test_cli_start_that_fails_leaves_no_run_directory(capsys, tmp_path, tiny_run_inputs, case):
    preset, data = tiny_run_inputs
    argv = ["finetune", "-o", str(tmp_path / "run"), "--preset", preset, "--steps", "1", "--batch-size", "4"]
    if case == "header-only csv":
        (tmp_path / "empty.csv").write_text("text,label\n")
        argv += ["--data", str(tmp_path / "empty.csv")]
        expected = (1, "holds no training examples")
    else:
        argv += ["--data", data, "--max-seq-len", "1"]
        expected = (2, "--max-seq-len 1 leaves no room for text")
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == expected[0] and "tfbert: error: " in err and expected[1] in err, err  # refused up front
    assert not (tmp_path / "run").exists()  # a retry is not blocked, no --resume that cannot work


def _modes(path):
    return {rel: stat.S_IMODE(os.stat(os.path.join(path, rel)).st_mode) for rel in _tree(path)}


def test_tensorflow_still_makes_folders_0755_whatever_the_umask(tmp_path):
    # Why fileio sets the folder modes of a SavedModel itself (tensorflow/tensorflow#32963).
    previous = os.umask(0o002)
    try:
        tf.io.gfile.mkdir(str(tmp_path / "made_by_tf"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "made_by_tf").st_mode) == 0o755


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700),
                                                        (0o002, 0o664, 0o775)])
def test_written_files_get_the_modes_of_the_umask(tmp_path, umask, file_mode, dir_mode):
    from tfbert.export import export_saved_model

    previous = os.umask(umask)
    try:
        with open_run(str(tmp_path / "run"), "finetune", {}) as run:
            run.update_metrics(history={"loss": [1.0]})
            fit_resumable(_tiny_model(), tf.data.Dataset.from_tensor_slices((np.ones((4, 3)), np.ones((4, 2)))).batch(2),
                          epochs=1, checkpoint_dir=run.checkpoint_dir, verbose=0)
        bert = tfbert.BERT(tfbert.BertConfig(**{**TINY, "num_hidden_layers": 1}))
        export_saved_model(bert, str(tmp_path / "export"))
        export_saved_model(bert, str(tmp_path / "export"), version=1, overwrite=True)
        fileio.atomic_write_text(str(tmp_path / "config.json"), "{}")
    finally:
        os.umask(previous)
    modes = _modes(str(tmp_path))
    assert modes and modes["export/1"] == dir_mode and modes["export/1/saved_model.pb"] == file_mode
    for rel in ("run", "run/run.json", "run/metrics.json", "run/run.lock", "config.json", "run/checkpoints/latest"):
        assert modes[rel] == (dir_mode if os.path.isdir(tmp_path / rel) else file_mode), rel
    wrong = {rel: oct(mode) for rel, mode in modes.items()
             if mode != (dir_mode if os.path.isdir(tmp_path / rel) else file_mode)}
    assert not wrong, wrong


# ---- atomic directory replacement ---------------------------------------------------------------------
def _complete(folder):
    """The generation of a swap-worker folder if all its files are whole and agree, else None.

    Read through one directory descriptor, so the look is of one folder, not of two
    halves on either side of a swap; a folder swapped away (and being deleted) while
    it was read gives "swapped".
    """
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        generation = _generation(fd)
        if generation is None and os.stat(folder).st_ino != os.fstat(fd).st_ino:
            return "swapped"
        return generation
    finally:
        os.close(fd)


def _generation(fd):
    contents = set()
    try:
        names = sorted(os.listdir(fd))
        for name in names:
            with os.fdopen(os.open(name, os.O_RDONLY, dir_fd=fd)) as f:
                contents.add(f.read())
    except FileNotFoundError:
        return None
    if names != [f"part-{i:02d}" for i in range(20)] or len(contents) != 1:
        return None
    lines = contents.pop().splitlines()
    return int(lines[0]) if len(lines) == 200 and len(set(lines)) == 1 else None


def test_overwrite_is_visible_whole_at_every_instant(tmp_path):
    import threading

    target = str(tmp_path / "1")
    seen, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            try:
                seen.append(_complete(target) is not None)
            except FileNotFoundError:  # `target` itself absent
                seen.append(False)

    with fileio.atomic_directory(target) as tmp:
        for i in range(20):
            open(os.path.join(tmp, f"part-{i:02d}"), "w").write("0\n" * 200)
    reader = threading.Thread(target=watch)
    reader.start()
    try:
        for generation in range(1, 150):
            with fileio.atomic_directory(target, overwrite=True) as tmp:
                for i in range(20):
                    open(os.path.join(tmp, f"part-{i:02d}"), "w").write(f"{generation}\n" * 200)
    finally:
        stop.set()
        reader.join()
    assert len(seen) > 100 and all(seen), f"{seen.count(False)} of {len(seen)} looks found no complete folder"
    assert _complete(target) == 149 and sorted(os.listdir(tmp_path)) == ["1"]


def test_fallback_without_exchange_keeps_both_versions_complete(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "_renameat2", lambda source, target, flags: False)
    target = str(tmp_path / "1")
    for text in ("old", "new"):
        with fileio.atomic_directory(target, overwrite=True) as tmp:
            open(os.path.join(tmp, "f"), "w").write(text)
    assert open(os.path.join(target, "f")).read() == "new" and os.listdir(tmp_path) == ["1"]
    # A writer killed between its two renames left the old version aside and the new one hidden:
    os.rename(target, str(tmp_path / ".1.old-abcd1234"))
    os.makedirs(str(tmp_path / ".1.tmp-xyz"))
    assert fileio.remove_stale_temporaries(str(tmp_path)) == [".1.tmp-xyz"]
    assert open(os.path.join(target, "f")).read() == "new"  # put back, not deleted


def test_stale_temporaries_are_removed_unless_a_live_writer_holds_them(tmp_path):
    os.makedirs(tmp_path / ".2.tmp-dead")
    os.makedirs(tmp_path / "2")
    with fileio.atomic_directory(str(tmp_path / "3")) as live:
        assert fileio.remove_stale_temporaries(str(tmp_path)) == [".2.tmp-dead"]
        assert os.path.isdir(live)  # held by this writer
    assert sorted(os.listdir(tmp_path)) == ["2", "3"]


def test_predict_picks_only_versions_tf_serving_would_load(tmp_path):
    from tfbert.cli.predict import find_saved_model

    for name in ("2", ".7.tmp-abc", ".8.old-abc", "\u00b2", "9x"):  # \u00b2 is "²": str.isdigit() says yes
        os.makedirs(tmp_path / name)
        open(tmp_path / name / "saved_model.pb", "w").close()
    assert find_saved_model(str(tmp_path)) == str(tmp_path / "2")


def test_swap_killed_at_random_instants_always_leaves_a_complete_folder(tmp_path):
    target = str(tmp_path / "1")
    rng = random.Random(0)
    kills, generations, deadline = 0, set(), time.time() + 12
    while time.time() < deadline:
        proc = subprocess.Popen([sys.executable, KILL_WORKER, "swap", target], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline() == "ready\n", proc.stderr.read()
        while not os.path.isdir(target):
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        generation = _complete(target)
        assert generation is not None, f"after kill {kills}: {sorted(os.listdir(target))}"
        generations.add(generation)
    print(f"\natomic_directory(overwrite=True) killed {kills} times; a complete folder after each")
    leftovers = [n for n in os.listdir(tmp_path) if n != "1"]
    assert set(fileio.remove_stale_temporaries(str(tmp_path))) == set(leftovers)
    assert os.listdir(tmp_path) == ["1"] and kills >= 20 and len(generations) > 1, (kills, generations)


def test_export_overwrite_killed_at_random_instants_keeps_a_loadable_version(capsys, tmp_path):
    from tfbert.cli.predict import find_saved_model, predict_saved_model
    from tfbert.export import export_saved_model
    from tfbert.preprocessing import BertPreprocessor, BertTokenizer

    words = ["good", "bad", "film"]
    tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words, lowercase=True)
    model = tfbert.BertClassifier(tfbert.BERT(tfbert.BertConfig(**{**TINY, "vocab_size": 8, "num_hidden_layers": 1})),
                                  num_classes=2, preprocessor=BertPreprocessor(tokenizer, sequence_length=16))
    source = str(tmp_path / "model.keras")
    model.save(source)
    base = str(tmp_path / "export")
    export_saved_model(model, base, version=1)
    rng = random.Random(1)
    kills, deadline = 0, time.time() + 35
    while time.time() < deadline or kills < 2:
        proc = subprocess.Popen([sys.executable, KILL_WORKER, "export", source, base], env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline()  # imported: kill while it loads, traces, saves or swaps
        assert line == "ready\n", proc.stderr.read()[-2000:]
        time.sleep(rng.uniform(0, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        assert find_saved_model(base) == os.path.join(base, "1"), sorted(os.listdir(base))
        assert [row["label_id"] in (0, 1) for row in predict_saved_model(os.path.join(base, "1"), ["a good film"])] \
            == [True], f"after kill {kills}"
    with capsys.disabled():  # shown with `pytest -s`
        print(f"\nexport --overwrite killed {kills} times; a complete, loadable version 1 after each")
    hidden = [n for n in os.listdir(base) if n.startswith(".")]
    assert all(n.startswith(".1.tmp-") for n in hidden), hidden
    export_saved_model(model, base, version=2)  # the next export cleans what killed exports left
    assert sorted(os.listdir(base)) == ["1", "2"] and find_saved_model(base) == os.path.join(base, "2")
    capsys.readouterr()


def _step_log(path):
    if not os.path.exists(path):
        return []
    return [int(v) for k, v in (line.split() for line in open(path).read().splitlines()) if k == "step"]


def test_pretrain_killed_mid_epoch_resumes_to_the_exact_step_count(tmp_path):
    from tfbert.training import read_state

    rng = random.Random(0)
    words = "the cat sat on a mat and dog ran to park".split()
    docs = [" ".join(" ".join(rng.choice(words) for _ in range(6)).capitalize() + "." for _ in range(3))
            for _ in range(12)]  # 8 steps per epoch
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(docs) + "\n")
    kill_after = random.Random().randint(4, 5)  # steps into the second epoch: past a mid-epoch checkpoint
    run_dir, log = str(tmp_path / "pt"), str(tmp_path / "steps.txt")
    proc = subprocess.Popen([sys.executable, RESUME_WORKER, "pretrain", run_dir, str(corpus), log, "0.15"], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed_at, deadline = None, time.time() + 150
    while time.time() < deadline and proc.poll() is None:
        steps = _step_log(log)
        if steps:
            per_epoch = json.load(open(os.path.join(run_dir, "run.json")))["settings"]["steps_per_epoch"]
            if steps[-1] >= per_epoch + kill_after:
                proc.send_signal(signal.SIGKILL)
                killed_at = steps[-1]
                break
        time.sleep(0.05)
    proc.wait()
    assert killed_at is not None, proc.stderr.read().decode()[-2000:]
    assert proc.returncode == -signal.SIGKILL
    total = 16  # resume_worker.PRETRAIN_STEPS
    assert per_epoch == 8, per_epoch
    restored = read_state(os.path.join(run_dir, "checkpoints"))["global_step"]
    assert per_epoch < restored <= killed_at < total
    before = len(_step_log(log))
    result = subprocess.run([sys.executable, RESUME_WORKER, "pretrain", run_dir, str(corpus), log, "0", "--resume"],
                            env=_env(), capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stderr[-2000:]  # not refused: kill -9 left no stale lock
    assert _step_log(log)[before:] == list(range(restored + 1, total + 1))  # on from the checkpoint, to the end
    state = read_state(os.path.join(run_dir, "checkpoints"))
    assert state["finished"] and state["global_step"] == total
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["epochs_done"] == total // per_epoch and len(metrics["history"]["loss"]) == total // per_epoch
    assert os.path.isfile(os.path.join(run_dir, "model.keras")) and is_run(run_dir)
