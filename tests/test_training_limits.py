"""fit_resumable stops on exactly ``total_steps`` (also after a resume), and a diverged run saves no NaN state."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from tfbert.callbacks import StopOnNonFiniteLoss, TrainingDiverged
from tfbert.training import StepCheckpoint, fit_resumable, read_state, restore


def _model(lr=0.01):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(lr), "mse")
    return model


def _data(batches=4, poison_batch=None):
    x = np.ones((batches * 2, 2), "float32")
    if poison_batch is not None:
        x[poison_batch * 2] = np.inf
    return tf.data.Dataset.from_tensor_slices((x, np.ones((batches * 2, 1), "float32"))).batch(2)


class _KillAt(keras.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == self.step:
            raise KeyboardInterrupt


def test_total_steps_ends_mid_epoch_on_exactly_n_steps(tmp_path):
    model = _model()
    history = fit_resumable(model, _data(4).repeat(), epochs=2, steps_per_epoch=4, total_steps=6,
                            checkpoint_dir=str(tmp_path / "ckpt"), verbose=0)
    assert int(model.optimizer.iterations) == 6  # was 8: whole epochs of 4
    state = read_state(str(tmp_path / "ckpt"))
    assert state["global_step"] == 6 and state["finished"]
    assert len(history.history["loss"]) == 2
    again = _model()
    fit_resumable(again, _data(4).repeat(), epochs=2, steps_per_epoch=4, total_steps=6,
                  checkpoint_dir=str(tmp_path / "ckpt"), verbose=0)
    assert int(again.optimizer.iterations) == 6  # a finished run trains no further


@pytest.mark.parametrize("kill_at", [2, 5])
def test_a_killed_total_steps_run_resumes_to_exactly_n(tmp_path, kill_at):
    ckpt = str(tmp_path / "ckpt")
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        fit_resumable(model, _data(4).repeat(), epochs=2, steps_per_epoch=4, total_steps=7, save_every=1,
                      checkpoint_dir=ckpt, verbose=0, callbacks=[_KillAt(kill_at)])
    resumed = _model()
    fit_resumable(resumed, _data(4).repeat(), epochs=2, steps_per_epoch=4, total_steps=7, save_every=1,
                  checkpoint_dir=ckpt, verbose=0)
    assert int(resumed.optimizer.iterations) == 7
    assert read_state(ckpt)["global_step"] == 7 and read_state(ckpt)["finished"]
    longer = _model()  # a resume with a larger total continues to that exact step
    fit_resumable(longer, _data(4).repeat(), epochs=3, steps_per_epoch=4, total_steps=10,
                  checkpoint_dir=ckpt, verbose=0)
    assert int(longer.optimizer.iterations) == 10


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    ckpt = str(tmp_path / "ckpt")
    model = _model()
    with pytest.raises(TrainingDiverged, match=r"loss became (inf|nan) at step 3.*last good checkpoint \(step 2\)"
                                               r".*lower --learning-rate"):
        fit_resumable(model, _data(4, poison_batch=2), epochs=2, save_every=1, checkpoint_dir=ckpt, verbose=0,
                      callbacks=[StopOnNonFiniteLoss(ckpt)])
    state = read_state(ckpt)
    assert state["global_step"] == 2  # the step-3 state (NaN weights) was never saved
    fresh = _model()
    restore(fresh, ckpt)
    assert all(np.isfinite(w).all() for w in fresh.get_weights())


def test_the_checkpoint_refuses_to_save_non_finite_weights(tmp_path):
    ckpt = str(tmp_path / "ckpt")
    model = _model()
    fit_resumable(model, _data(2), epochs=1, checkpoint_dir=ckpt, verbose=0)
    good = read_state(ckpt)["path"]
    kernel = model.layers[0].kernel
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))  # weights broken while the loss still looked fine
    saver = StepCheckpoint(ckpt)
    saver.set_model(model)
    with pytest.raises(RuntimeError, match="weights hold NaN or inf"):
        saver.save(1, 0)
    assert read_state(ckpt)["path"] == good
