"""Narrow fixes for Keras 3.15's ``fit``/``evaluate`` under ``tf.distribute`` strategies.

``BertTask`` (every task model) inherits :class:`StrategyFixes`. Each method
below repairs one thing that Keras 3.15.1 / TF 2.21 gets wrong when a model is
trained under a strategy, and does nothing more; outside a strategy (the
default strategy, one replica) every method defers to Keras unchanged.
``tests/test_distribute_keras_bugs.py`` asserts that plain Keras still fails in
each of these ways, so that a Keras release that fixes one makes its test fail
and tells us to drop the fix.

1. ``_maybe_symbolic_build`` (Keras' ``TensorFlowTrainer``) builds the model
   from the first batch after ``strategy.reduce("MEAN", <whole nested batch>,
   axis=None)``. Under ``MultiWorkerMirroredStrategy`` ``reduce`` does not take
   a nest ("Attempt to convert a value (PerReplica:{...}) ... to a Tensor"),
   and under ``MirroredStrategy`` the MEAN turns the int32 token ids into
   float32, which ``BERT`` refuses. Building only needs shapes and dtypes, so
   the fix builds from the first replica's element spec. That also keeps Keras
   from drawing a batch from a fresh iterator first, which advanced a
   reshuffling dataset to its next order (a run under a strategy then trained on
   other batches than the same run without one). Upstream: keras-team/keras
   ``backend/tensorflow/trainer.py`` (no issue filed for it that we know of).
2. ``reduce_per_replica`` reduces each log with ``strategy.reduce("MEAN", v,
   axis=0)`` in multi-worker mode, which fails on scalar logs ("Invalid
   reduction dimension 0 for input with 0 dimensions"; tensorflow/tensorflow#72388,
   keras-team/keras#20585, open). The fix gives every log a leading axis of
   length 1 in multi-worker mode, so that Keras' axis-0 mean is the mean over
   the replicas and the logs come out with their own shape.
3. The optimizer clips (``global_clipnorm``, ``clipnorm``, ``clipvalue``) each
   replica's gradient *before* the all-reduce, so a clipped step under a strategy
   differs from the same step on one device. The fix clips after the all-reduce,
   with the optimizer's own clipping code, during this model's train step only.
4. Keras' ``SeedGenerator`` state is a variable that the strategy mirrors, so
   every replica draws the same dropout masks (for its own rows). The fix adds
   the replica id to each dropout seed during the train step, so that each
   replica draws its own masks, reproducibly for a given number of replicas.

Example:
>>> import keras, tensorflow as tf
>>> from tfbert.tasks.strategy_fixes import in_multi_worker_mode, logs_with_replica_axis
>>> in_multi_worker_mode(tf.distribute.get_strategy())
False
>>> logs_with_replica_axis({"loss": keras.ops.convert_to_tensor(1.5)})["loss"].shape
TensorShape([1])
"""

import contextlib
import threading

import keras
import tensorflow as tf

_PATCH_LOCK = threading.Lock()
_PATCHED = {}  # id(optimizer) -> replicas tracing a step with the swap in place


def in_multi_worker_mode(strategy):
    """Whether ``strategy`` is a ``MultiWorkerMirroredStrategy`` spanning more than one worker."""
    extended = getattr(strategy, "extended", None)
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and bool(getattr(extended, "_in_multi_worker_mode", lambda: False)()))


def logs_with_replica_axis(logs):
    """Each log tensor with a leading axis of length 1 (fix 2 above)."""
    return keras.tree.map_structure(lambda v: tf.expand_dims(v, 0) if tf.is_tensor(v) else v, logs)


def _first_replica(value, strategy):
    if isinstance(value, tf.distribute.DistributedValues):
        return strategy.experimental_local_results(value)[0]
    return value


def _first_replica_spec(spec):
    value_specs = getattr(spec, "_value_specs", None)  # a PerReplicaSpec holds one spec per local replica
    return value_specs[0] if value_specs else spec


@contextlib.contextmanager
def clipping_after_all_reduce(optimizer):
    """While tracing a train step: clip the all-reduced gradients instead of each replica's (fix 3 above).

    The optimizer (the inner one of a ``LossScaleOptimizer``) sums the replicas'
    gradients in ``_all_reduce_sum_gradients``; its ``_clip_gradients`` runs
    before that. Inside this context the clip is skipped where Keras calls it and
    applied to the summed gradients instead. Python attributes are swapped only
    while the step is traced; the traced graph keeps the new order.
    """
    target = getattr(optimizer, "inner_optimizer", optimizer)
    cls = type(target)
    if not any(getattr(target, name, None) for name in ("clipnorm", "global_clipnorm", "clipvalue")):
        yield
        return

    def reduce_then_clip(grads_and_vars):
        grads_and_vars = list(cls._all_reduce_sum_gradients(target, grads_and_vars))
        present = [i for i, (g, _) in enumerate(grads_and_vars) if g is not None]
        clipped = cls._clip_gradients(target, [grads_and_vars[i][0] for i in present])
        for i, g in zip(present, clipped):
            grads_and_vars[i] = (g, grads_and_vars[i][1])
        return grads_and_vars

    with _swapped(target, {"_clip_gradients": lambda grads: grads,
                           "_all_reduce_sum_gradients": reduce_then_clip}):
        yield


@contextlib.contextmanager
def _swapped(obj, attributes):
    """Set instance ``attributes`` on ``obj`` while a step is traced; then remove them.

    MirroredStrategy traces the step once per local replica, in one thread each:
    the swap is reference-counted so that it stays until the last replica's trace
    is done.
    """
    with _PATCH_LOCK:
        if _PATCHED.get(id(obj), 0) == 0:
            for name, value in attributes.items():
                setattr(obj, name, value)
        _PATCHED[id(obj)] = _PATCHED.get(id(obj), 0) + 1
    try:
        yield
    finally:
        with _PATCH_LOCK:
            _PATCHED[id(obj)] -= 1
            if _PATCHED[id(obj)] == 0:
                del _PATCHED[id(obj)]
                for name in attributes:
                    delattr(obj, name)


#: added (times the replica id) to the first half of each dropout seed: masks differ between replicas
REPLICA_SEED_STRIDE = 1_000_003


@contextlib.contextmanager
def replica_dependent_seeds(model):
    """While tracing a train step: each replica draws its own dropout masks (fix 4 above).

    Keras' ``SeedGenerator`` keeps its state in a variable that a strategy
    mirrors, so every replica draws the same seed and drops the same units of
    its rows. Inside this context each seed generator of ``model``'s layers
    returns its seed with ``REPLICA_SEED_STRIDE * replica id`` added to the
    first half; the state advances as before, so a run is as reproducible as
    before for a given number of replicas.
    """
    generators = []
    for layer in model._flatten_layers(include_self=False):
        generator = getattr(layer, "seed_generator", None)
        if isinstance(generator, keras.random.SeedGenerator) and generator not in generators:
            generators.append(generator)
    with contextlib.ExitStack() as stack:
        for generator in generators:
            def next_seed(ordered=True, generator=generator):
                seed = type(generator).next(generator, ordered)
                context = tf.distribute.get_replica_context()
                if context is None:
                    return seed
                replica = tf.cast(context.replica_id_in_sync_group, seed.dtype)
                return seed + tf.stack([replica * tf.cast(REPLICA_SEED_STRIDE, seed.dtype), tf.zeros_like(replica)])
            stack.enter_context(_swapped(generator, {"next": next_seed}))
        yield


class StrategyFixes:
    """Mixin for a ``keras.Model`` subclass: the fixes of this module's docstring."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = getattr(self, "_distribute_strategy", None)
        if strategy is None or iterator is None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        # Fix 1: build from the first replica's element spec (shapes and dtypes kept), not a MEAN over
        # replicas. Reading the spec also leaves the data alone: Keras takes a batch from a fresh
        # iterator, which moves a reshuffling dataset to its next order, so that training under a
        # strategy saw other batches than the same run without one.
        dataset = getattr(iterator, "_distributed_dataset", None)
        if dataset is not None:
            data_batch = keras.tree.map_structure(_first_replica_spec, dataset.element_spec)
        else:  # a Keras without that attribute: take a batch, as Keras does
            for _, _, it in iterator:
                data_batch = keras.tree.map_structure(lambda v: _first_replica(v, strategy), next(it))
                break
        return super()._maybe_symbolic_build(data_batch=data_batch)

    def train_step(self, data):
        strategy = self.distribute_strategy
        if strategy.num_replicas_in_sync > 1 and getattr(self, "optimizer", None) is not None:
            with clipping_after_all_reduce(self.optimizer), replica_dependent_seeds(self):  # fixes 3 and 4
                logs = super().train_step(data)
        else:
            logs = super().train_step(data)
        return logs_with_replica_axis(logs) if in_multi_worker_mode(strategy) else logs  # fix 2

    def test_step(self, data):
        logs = super().test_step(data)
        return logs_with_replica_axis(logs) if in_multi_worker_mode(self.distribute_strategy) else logs  # fix 2
