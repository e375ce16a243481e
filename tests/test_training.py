"""Resumable fit: a run killed with SIGKILL mid-epoch resumes from its last checkpoint and ends
with the same number of optimizer steps; checkpoints are complete or absent."""

import os
import signal
import subprocess
import sys
import time
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbert.training import fit_resumable, read_state

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resume_worker.py")
TOTAL_STEPS = 24  # resume_worker: 3 epochs x 8 steps


def _steps(log):
    with open(log) as f:
        lines = f.read().split()
    return [int(v) for k, v in zip(lines[::2], lines[1::2]) if k == "step"], lines


def test_sigkill_mid_epoch_then_resume(tmp_path):
    ckpt, log = str(tmp_path / "ckpt"), str(tmp_path / "log.txt")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, WORKER, ckpt, log, "0.25"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    killed_at = None
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(log):
            steps, _ = _steps(log)
            if steps and steps[-1] >= 13:  # inside the second epoch (steps 9..16)
                os.kill(proc.pid, signal.SIGKILL)
                killed_at = steps[-1]
                break
        time.sleep(0.05)
    proc.wait()
    assert killed_at is not None, f"the worker never reached step 13: {proc.stderr.read().decode()[-2000:]}"
    assert proc.returncode == -signal.SIGKILL

    state = read_state(ckpt)
    assert state["epoch"] == 1 and 0 < state["step_in_epoch"] < 8  # a mid-epoch checkpoint
    restored = state["global_step"]
    assert restored <= killed_at + 1 and restored >= 11
    before, _ = _steps(log)

    result = subprocess.run([sys.executable, WORKER, ckpt, log], env=env, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    steps, lines = _steps(log)
    resumed = steps[len(before):]
    assert resumed == list(range(restored + 1, TOTAL_STEPS + 1))  # continues right after the checkpoint
    assert lines[-2:] == ["done", str(TOTAL_STEPS)]  # the same number of steps as an uninterrupted run
    final = read_state(ckpt)
    assert final["finished"] and final["global_step"] == TOTAL_STEPS
    assert len([n for n in os.listdir(ckpt) if n.startswith("step-")]) <= 2  # older checkpoints pruned


def _model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


DATA = tf.data.Dataset.from_tensor_slices((np.arange(20.0).reshape(10, 2), np.ones((10, 1)))).batch(2)


class StopAt(keras.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == self.step:
            self.model.stop_training = True


def test_stop_mid_epoch_then_resume_in_process(tmp_path):
    ckpt = str(tmp_path / "ckpt")
    model = _model()
    fit_resumable(model, DATA, epochs=3, checkpoint_dir=ckpt, callbacks=[StopAt(7)], verbose=0)
    assert int(model.optimizer.iterations) == 7
    state = read_state(ckpt)
    assert (state["epoch"], state["step_in_epoch"], state["finished"]) == (1, 2, False)

    again = _model()  # a fresh process would start from new weights
    history = fit_resumable(again, DATA, epochs=3, checkpoint_dir=ckpt, verbose=0)
    assert int(again.optimizer.iterations) == 15 and len(history.history["loss"]) == 2
    np.testing.assert_array_equal(again.get_weights()[0].shape, (2, 1))
    assert read_state(ckpt)["finished"]
    fit_resumable(again, DATA, epochs=3, checkpoint_dir=ckpt, verbose=0)  # finished: nothing to do
    assert int(again.optimizer.iterations) == 15


def test_torn_saves_are_ignored_and_cleaned(tmp_path):
    ckpt = str(tmp_path / "ckpt")
    model = _model()
    fit_resumable(model, DATA, epochs=1, checkpoint_dir=ckpt, save_every=2, verbose=0)
    latest = read_state(ckpt)
    # What a kill during a save leaves behind: a temporary folder and a temporary pointer.
    os.makedirs(os.path.join(ckpt, ".step-000000099-epoch-00009-0000000.tmp-abc"))
    with open(os.path.join(ckpt, ".latest.tmp123"), "w") as f:
        f.write("step-000000099")
    fresh = _model()
    fit_resumable(fresh, DATA, epochs=2, checkpoint_dir=ckpt, verbose=0)
    assert int(fresh.optimizer.iterations) == 10  # resumed from the complete checkpoint at step 5
    assert not [n for n in os.listdir(ckpt) if n.startswith(".")]
    assert latest["global_step"] == 5 and latest["finished"]


def test_bad_arguments(tmp_path):
    model = _model()
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        fit_resumable(model, np.ones((4, 2)), epochs=1, checkpoint_dir=str(tmp_path))
    with pytest.raises(ValueError, match="steps_per_epoch"):
        fit_resumable(model, DATA.repeat(), epochs=1, checkpoint_dir=str(tmp_path))
    with pytest.raises(ValueError, match="compiled"):
        fit_resumable(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), DATA, epochs=1,
                      checkpoint_dir=str(tmp_path))


def test_no_shuffle_warning_for_a_dataset(tmp_path):
    # Keras' default shuffle=True makes every fit on a tf.data.Dataset warn that it is ignored.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit_resumable(_model(), DATA, epochs=1, checkpoint_dir=str(tmp_path), verbose=0)
    assert not [w for w in caught if "shuffle" in str(w.message)], [str(w.message) for w in caught]
