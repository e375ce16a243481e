"""Keras callbacks that record a training run: history in metrics.json and TensorBoard logs.

``run_callbacks(run)`` returns the callbacks every ``tfbert finetune`` /
``tfbert pretrain`` run uses:

* ``HistoryRecorder`` appends each epoch's logs to ``metrics.json`` (so the
  curves survive an interruption, and a resumed run continues them);
* TensorBoard event files under ``logs/``: ``keras.callbacks.TensorBoard``
  when the ``tensorboard`` package is installed, otherwise ``ScalarSummaries``,
  which writes the same per-epoch scalars (``logs/train``, ``logs/validation``,
  tags ``epoch_<metric>``) with TensorFlow alone;
* ``StopOnNonFiniteLoss`` ends the run with ``TrainingDiverged`` at the first
  step whose loss is NaN or inf, before any checkpoint of that state is
  written (the last good checkpoint stays for ``--resume``);

Checkpoints for ``--resume`` are not a callback here: runs train with
``tfbert.training.fit_resumable`` (atomic step-level checkpoints in the run's
``checkpoints/``), which restarts ``fit`` where the last checkpoint left off.

Example:
>>> import os, tempfile, numpy as np, keras
>>> from tfbert.runs import open_run
>>> from tfbert.callbacks import HistoryRecorder, ScalarSummaries
>>> run = open_run(os.path.join(tempfile.mkdtemp(), "run"), "finetune", {})
>>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
>>> model.compile("sgd", "mse")
>>> _ = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, verbose=0,
...               callbacks=[HistoryRecorder(run), ScalarSummaries(run.logs_dir)])
>>> len(run.read_metrics()["history"]["loss"]), sorted(os.listdir(run.logs_dir))
(2, ['train'])
"""

import importlib.util
import math

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2


class HistoryRecorder(keras.callbacks.Callback):
    """Appends each epoch's logs to the run's ``metrics.json`` under ``"history"``.

    When ``fit`` starts at a later epoch (a resumed run), the stored history
    is cut to the epochs before it, then continued.
    """

    def __init__(self, run):
        super().__init__()
        self.run = run
        self.history = {}

    def on_train_begin(self, logs=None):
        self.history = {k: list(v) for k, v in self.run.read_metrics().get("history", {}).items()}

    def on_epoch_begin(self, epoch, logs=None):
        self.history = {k: v[:epoch] for k, v in self.history.items()}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.run.update_metrics(history=self.history, epochs_done=epoch + 1)


class ScalarSummaries(keras.callbacks.Callback):
    """Per-epoch TensorBoard scalars written with TensorFlow alone (no tensorboard package).

    Writes ``<log_dir>/train`` and ``<log_dir>/validation`` (``val_`` metrics)
    with tags ``epoch_<name>``, the layout ``keras.callbacks.TensorBoard`` uses,
    so ``tensorboard --logdir`` shows both the same way.
    """

    _METADATA = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
    )

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = log_dir
        self._writers = {}

    def _writer(self, split):
        if split not in self._writers:
            self._writers[split] = tf.summary.create_file_writer(f"{self.log_dir}/{split}")
        return self._writers[split]

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            with self._writer(split).as_default():
                tf.summary.write(f"epoch_{name}", tf.constant(float(value)), step=epoch, metadata=self._METADATA)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or inf; the run stopped without saving that state."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raise ``TrainingDiverged`` at the first batch whose loss is NaN or inf.

    Unlike ``keras.callbacks.TerminateOnNaN``, which sets ``stop_training`` and
    so lets the epoch end (and its checkpoint) run on the broken weights, this
    raises at once: no later callback sees the batch, nothing more is saved.
    Put it before the checkpoint callback. ``checkpoint_dir`` (optional) is
    named in the message with the step of its latest checkpoint.

    Example:
    >>> import numpy as np, keras
    >>> from tfbert.callbacks import StopOnNonFiniteLoss, TrainingDiverged
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(1e30), "mse")
    >>> try:
    ...     model.fit(np.ones((8, 1)) * 1e10, np.zeros((8, 1)), batch_size=1, verbose=0,
    ...               callbacks=[StopOnNonFiniteLoss()])
    ... except TrainingDiverged as e:
    ...     print(str(e)[:35])
    the training loss became inf at ste
    """

    def __init__(self, checkpoint_dir=None):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(np.asarray(loss))
        if math.isfinite(loss):
            return
        from tfbert.training import global_step_of, read_state

        self.model.stop_training = True
        step = global_step_of(self.model)
        kept = ""
        if self.checkpoint_dir is not None:

            state = read_state(self.checkpoint_dir)
            kept = (f"; the last good checkpoint (step {state['global_step']}) is kept in {self.checkpoint_dir}"
                    if state else "; no checkpoint had been written yet")
        raise TrainingDiverged(
            f"the training loss became {loss} at step {step}, so training stopped without saving that state{kept}. "
            "Try a lower --learning-rate, check the data for broken examples, or train in float32 (--policy float32)."
        )


def tensorboard_installed():
    """True if the ``tensorboard`` package (needed by ``keras.callbacks.TensorBoard``) is importable."""
    return importlib.util.find_spec("tensorboard") is not None


def tensorboard_callback(log_dir):
    """``keras.callbacks.TensorBoard`` if tensorboard is installed, else ``ScalarSummaries``."""
    if tensorboard_installed():
        return keras.callbacks.TensorBoard(log_dir=log_dir, write_graph=False)
    return ScalarSummaries(log_dir)


def run_callbacks(run):
    """The callbacks of a training run: a stop on a NaN/inf loss, history in metrics.json and TensorBoard logs."""
    return [StopOnNonFiniteLoss(run.checkpoint_dir), HistoryRecorder(run), tensorboard_callback(run.logs_dir)]
