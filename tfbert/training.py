"""Resumable ``fit``: step-level checkpoints written atomically, and a run that survives ``kill -9``.

Keras' own ``BackupAndRestore`` (3.15) is not enough for this: it overwrites
``latest.weights.h5`` in place and then the metadata file, so a kill during
either write leaves a torn or mismatched pair, and on restore it only resumes
at the *start* of the saved epoch, so a run killed mid-epoch repeats steps
and ends with more optimizer steps than asked for.

``StepCheckpoint`` saves every ``save_every`` steps and at each epoch end:
the model's weights *with the optimizer state* (``model.save_weights``) and a
``state.json`` (epoch, step within the epoch, global step) go into a fresh
temporary directory that is renamed to ``step-<global step>-...``, and only then
is the ``latest`` pointer file replaced (atomically). A kill at any instant
leaves the previous complete checkpoint as ``latest``. Older checkpoints are
pruned (``keep`` most recent are kept).

``fit_resumable(model, dataset, epochs=..., checkpoint_dir=...)`` restores the
latest checkpoint, if any, finishes the interrupted epoch on the batches it
had not reached (``dataset.skip(done)``), then runs the remaining epochs, so
the total number of optimizer steps equals that of an uninterrupted run.
Calling it again after it finished does nothing. The data order after a
resume matches the uninterrupted run only if the dataset yields the same
order on its first iteration as on the interrupted epoch (e.g. no shuffle, or
a per-epoch dataset); the step count always matches.

Example:
>>> import os, tempfile, numpy as np, keras
>>> from tfbert.training import fit_resumable, read_state
>>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
>>> model.compile(keras.optimizers.SGD(0.1), "mse")
>>> import tensorflow as tf
>>> data = tf.data.Dataset.from_tensor_slices((np.ones((8, 2)), np.ones((8, 1)))).batch(2)
>>> ckpt = os.path.join(tempfile.mkdtemp(), "ckpt")
>>> history = fit_resumable(model, data, epochs=2, checkpoint_dir=ckpt, save_every=3, verbose=0)
>>> int(model.optimizer.iterations), read_state(ckpt)["global_step"], read_state(ckpt)["finished"]
(8, 8, True)
>>> _ = fit_resumable(model, data, epochs=2, checkpoint_dir=ckpt, verbose=0)   # already done: no steps
>>> int(model.optimizer.iterations)
8
"""

import json
import os
import shutil

import keras
import tensorflow as tf

from tfbert.distribute import distribute_batches, is_chief, private_folder
from tfbert.fileio import atomic_directory, atomic_write_text

LATEST = "latest"
STATE = "state.json"
WEIGHTS = "model.weights.h5"


def global_step_of(model):
    """The optimizer's step count as a Python int (``int()`` refuses a strategy's MirroredVariable)."""
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def read_state(checkpoint_dir):
    """The ``state.json`` of the latest checkpoint in ``checkpoint_dir``, or None if there is none."""
    pointer = os.path.join(checkpoint_dir, LATEST)
    if not os.path.exists(pointer):
        return None
    with open(pointer, encoding="utf-8") as f:
        name = f.read().strip()
    with open(os.path.join(checkpoint_dir, name, STATE), encoding="utf-8") as f:
        state = json.load(f)
    state["path"] = os.path.join(checkpoint_dir, name)
    return state


def restore(model, checkpoint_dir):
    """Load the latest checkpoint (weights and optimizer state) into ``model``; return its state or None."""
    state = read_state(checkpoint_dir)
    if state is None:
        return None
    with model.distribute_strategy.scope():  # optimizer slots of a model trained under a strategy are its variables
        if getattr(model, "optimizer", None) is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # slots must exist before loading them
        model.load_weights(os.path.join(state["path"], WEIGHTS))
    return state


class StepCheckpoint(keras.callbacks.Callback):
    """Atomic checkpoints every ``save_every`` steps and at each epoch end.

    Args:
        checkpoint_dir: where ``step-<N>/`` folders and the ``latest`` pointer live.
        save_every: steps between saves (None: only at epoch ends).
        keep: how many checkpoints to keep (the newest).
        start_step: the step within the epoch where this ``fit`` call starts
            (> 0 when it finishes an interrupted epoch).
        steps_per_epoch: the full epoch length, so that an epoch cut short by
            ``stop_training`` is saved as unfinished.
    """

    def __init__(self, checkpoint_dir, save_every=None, keep=2, start_step=0, steps_per_epoch=None):
        super().__init__()
        if save_every is not None and (isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 1):
            raise ValueError(f"save_every must be a positive integer or None, got {save_every!r}.")
        self.checkpoint_dir = checkpoint_dir
        self.save_every = save_every
        self.keep = max(1, int(keep))
        self.start_step = start_step
        self.steps_per_epoch = steps_per_epoch
        self.finished_when = None  # epoch count at which the run is complete
        self.total_steps = None  # or the global step at which it is (fit_resumable's total_steps)
        self._epoch = 0
        self._step_in_epoch = 0
        self._last_saved = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._step_in_epoch = self.start_step

    def on_train_begin(self, logs=None):
        self._last_saved = global_step_of(self.model)

    def on_train_batch_end(self, batch, logs=None):
        self._step_in_epoch = self.start_step + batch + 1
        if self.total_steps is not None and global_step_of(self.model) >= self.total_steps:
            self.model.stop_training = True  # exactly total_steps: the epoch ends here, and its checkpoint follows
            return
        if self.steps_per_epoch is not None and self._step_in_epoch >= self.steps_per_epoch:
            return  # the epoch-end checkpoint follows
        if self.save_every and global_step_of(self.model) - self._last_saved >= self.save_every:
            self.save(self._epoch, self._step_in_epoch)

    def on_epoch_end(self, epoch, logs=None):
        self.start_step = 0
        if self.steps_per_epoch is not None and self._step_in_epoch < self.steps_per_epoch:
            self.save(epoch, self._step_in_epoch)  # stopped early (stop_training): the epoch is not done
        else:
            self.save(epoch + 1, 0)

    def save(self, epoch, step_in_epoch):
        global_step = global_step_of(self.model)
        if not all(bool(tf.reduce_all(tf.math.is_finite(v))) for v in self.model.trainable_variables):
            # A step can turn the weights NaN/inf before any loss shows it: never let such a
            # state replace the last good checkpoint.
            raise RuntimeError(f"training diverged: the weights hold NaN or inf at step {global_step}, so no "
                               f"checkpoint was saved; the latest good one stays in {self.checkpoint_dir}. Try a "
                               "lower learning rate, check the data, or train in float32.")
        name = f"step-{global_step:09d}-epoch-{epoch:05d}-{step_in_epoch:07d}"  # unique: never overwritten
        state = {"epoch": epoch, "step_in_epoch": step_in_epoch, "global_step": global_step,
                 "finished": (self.finished_when is not None and epoch >= self.finished_when and step_in_epoch == 0)
                 or (self.total_steps is not None and global_step >= self.total_steps)}
        target = os.path.join(self.checkpoint_dir, name)
        with atomic_directory(target, overwrite=False) as tmp:
            self.model.save_weights(os.path.join(tmp, WEIGHTS))
            with open(os.path.join(tmp, STATE), "w", encoding="utf-8") as f:
                json.dump(state, f)
        atomic_write_text(os.path.join(self.checkpoint_dir, LATEST), name + "\n")
        self._last_saved = global_step
        self._prune(name)

    def _prune(self, latest):
        names = sorted(n for n in os.listdir(self.checkpoint_dir) if n.startswith("step-") and
                       os.path.isdir(os.path.join(self.checkpoint_dir, n)))
        for name in names[:-self.keep]:
            if name != latest:
                shutil.rmtree(os.path.join(self.checkpoint_dir, name), ignore_errors=True)


def _remove_leftovers(checkpoint_dir):
    """Delete temporary files/folders that a killed save left behind (they start with '.')."""
    for name in os.listdir(checkpoint_dir):
        if name.startswith((".step-", f".{LATEST}.")):
            path = os.path.join(checkpoint_dir, name)
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)


def _merge(histories):
    merged = keras.callbacks.History()
    merged.history, merged.epoch = {}, []
    for history in histories:
        merged.epoch.extend(history.epoch)
        for key, values in history.history.items():
            merged.history.setdefault(key, []).extend(values)
    return merged


def fit_resumable(model, dataset, *, epochs, checkpoint_dir, save_every=None, steps_per_epoch=None,
                  callbacks=None, keep=2, restore_checkpoint=True, strategy=None, total_steps=None,
                  **fit_kwargs):
    """``model.fit(dataset, epochs=...)`` that resumes from ``checkpoint_dir`` after an interruption.

    ``model`` must be compiled. ``dataset`` is a finite ``tf.data.Dataset``
    of batches (one pass = one epoch), or an infinite one with
    ``steps_per_epoch``. Other keyword arguments (``validation_data``,
    ``verbose``, ...) go to ``fit``. Returns a ``History`` of the epochs run
    by this call. ``restore_checkpoint=False`` starts afresh even if ``checkpoint_dir``
    holds a checkpoint. ``total_steps`` ends the run after exactly that many
    optimizer steps, in the middle of its last epoch if need be (``epochs``
    must cover them); a resumed run ends on the same step.

    Under a ``tf.distribute`` strategy (``strategy``, default the model's),
    build and compile the model in ``strategy.scope()``; ``dataset`` (and a
    ``validation_data`` dataset) hold *global* batches, built alike on every
    worker, and each replica trains on its rows of every batch
    (``tfbert.distribute.distribute_batches``). Every worker saves at the same
    steps (a save may need collectives), but only the chief writes into
    ``checkpoint_dir``; the other workers save into a private temporary folder
    that is removed when ``fit_resumable`` returns. Every worker restores from
    ``checkpoint_dir``, which must then be a folder all of them can read.
    """
    if getattr(model, "optimizer", None) is None:
        raise ValueError("fit_resumable needs a compiled model: call model.compile(...) first.")
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"fit_resumable takes a tf.data.Dataset of batches, got {type(dataset).__name__}; "
                        "it skips finished batches with Dataset.skip on resume.")
    if "initial_epoch" in fit_kwargs or "epochs" in fit_kwargs:
        raise ValueError("fit_resumable chooses initial_epoch itself from the checkpoint; do not pass it.")
    # The dataset shuffles itself; Keras ignores ``shuffle`` for a Dataset but warns about its default.
    fit_kwargs.setdefault("shuffle", False)
    strategy = strategy or model.distribute_strategy
    validation = fit_kwargs.get("validation_data")
    if isinstance(validation, tf.data.Dataset) and strategy.num_replicas_in_sync > 1:
        fit_kwargs["validation_data"] = distribute_batches(strategy, lambda: validation)
    cardinality = int(dataset.cardinality())
    if steps_per_epoch is None:
        if cardinality < 0:
            raise ValueError("The dataset's length is unknown or infinite; pass steps_per_epoch.")
        steps_per_epoch = cardinality
    chief = is_chief(strategy)
    write_dir = checkpoint_dir if chief else private_folder("checkpoints", checkpoint_dir)
    try:
        if chief:
            os.makedirs(checkpoint_dir, exist_ok=True)
            _remove_leftovers(checkpoint_dir)
        state = (restore(model, checkpoint_dir) if restore_checkpoint else None) or {"epoch": 0, "step_in_epoch": 0,
                                                                         "finished": False}
        callbacks = list(callbacks or [])
        saver = StepCheckpoint(write_dir, save_every=save_every, keep=keep, steps_per_epoch=steps_per_epoch)
        saver.finished_when = epochs
        saver.total_steps = total_steps
        if total_steps is not None and state.get("global_step", 0) >= total_steps:
            return _merge([])  # already trained for total_steps
        histories = []
        epoch, done = state["epoch"], state["step_in_epoch"]
        if done >= steps_per_epoch:
            epoch, done = epoch + 1, 0
        if done and epoch < epochs:  # finish the interrupted epoch on the batches it had not reached
            saver.start_step = done
            rest = dataset.skip(done) if cardinality >= 0 else dataset
            histories.append(model.fit(distribute_batches(strategy, lambda: rest), epochs=epoch + 1,
                                       initial_epoch=epoch, steps_per_epoch=steps_per_epoch - done,
                                       callbacks=callbacks + [saver], **fit_kwargs))
            epoch += 1
        if epoch < epochs and not model.stop_training:
            histories.append(model.fit(distribute_batches(strategy, lambda: dataset), epochs=epochs,
                                       initial_epoch=epoch,
                                       steps_per_epoch=None if cardinality >= 0 and steps_per_epoch == cardinality
                                       and strategy.num_replicas_in_sync == 1 else steps_per_epoch,
                                       callbacks=callbacks + [saver], **fit_kwargs))
        return _merge(histories)
    finally:
        if not chief:  # the private folder that tfbert made; a failure to delete it must not hide the real error
            shutil.rmtree(write_dir, ignore_errors=True)
