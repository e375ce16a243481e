"""Training on several devices, machines or a TPU with ``tf.distribute``, the same code everywhere.

:func:`get_strategy` returns the ``tf.distribute.Strategy`` for a name:

- ``default``: the one-device default strategy (what plain TensorFlow uses);
- ``mirrored``: ``MirroredStrategy`` over every local GPU (the CPU when there is none);
- ``multi_worker``: ``MultiWorkerMirroredStrategy``; each machine (worker) runs
  the same command with its own ``TF_CONFIG`` naming the cluster and its index;
- ``tpu``: ``TPUStrategy`` on the TPU a ``TPUClusterResolver`` finds (Colab, a
  Cloud TPU VM, ``TPU_NAME``);
- ``auto``: ``tpu`` when there are signs of a TPU and the resolver finds one,
  else ``multi_worker`` when ``TF_CONFIG`` names more than one worker, else
  ``mirrored`` when there are several GPUs, else ``default``. It logs what it
  picked and why (logger ``tfbert.distribute``; :func:`choose_strategy` returns
  the reason).

Batches: :func:`distribute_batches` takes a function that builds the dataset
of *global* batches (the same on every worker: same seed, same order) and
returns what ``fit`` takes. Under a strategy of several replicas it is a
``strategy.distribute_datasets_from_function`` dataset in which each worker
keeps only its own rows of every global batch (:func:`replica_batches`), so
replica ``r`` of ``N`` trains on rows ``[n*r//N, n*(r+1)//N)`` of each batch of
``n`` rows; the union over the replicas is exactly the batch one device would
see. Under the default strategy the dataset is returned as it is.

A strategy must be created before any other TensorFlow work in the process
(``MultiWorkerMirroredStrategy`` in particular), and models must be built inside
``strategy.scope()``. Models that inherit ``tfbert.tasks.base.BertTask`` carry
the fixes Keras 3.15 needs under a strategy (see ``tfbert/tasks/strategy_fixes.py``).

Example:
>>> import os
>>> from tfbert.distribute import choose_strategy, get_strategy, is_chief
>>> choose_strategy("auto", environ={}, num_gpus=0)
('default', 'no TPU, no multi-worker TF_CONFIG and fewer than 2 GPUs')
>>> choose_strategy("auto", environ={"TF_CONFIG": '{"cluster": {"worker": ["a:1", "b:1"]}, '
...                                               '"task": {"type": "worker", "index": 1}}'}, num_gpus=0)[0]
'multi_worker'
>>> strategy = get_strategy("default")
>>> strategy.num_replicas_in_sync, is_chief(strategy)
(1, True)
>>> import keras
>>> from tfbert.distribute import weights_digest
>>> len(weights_digest(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])))
16
"""

import json
import logging
import math
import os

import tensorflow as tf

logger = logging.getLogger("tfbert.distribute")

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")

#: environment variables that point a TPUClusterResolver at a TPU (Colab, GKE, a named Cloud TPU)
TPU_ENVIRONMENT = ("COLAB_TPU_ADDR", "TPU_NAME", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS", "TPU_WORKER_ID")

_created = {}


def cluster_spec(environ=None):
    """``(workers, task_type, task_index)`` from ``TF_CONFIG`` (workers counts chief + worker), or ``(1, None, 0)``."""
    text = (os.environ if environ is None else environ).get("TF_CONFIG")
    if not text:
        return 1, None, 0
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}); expected "
                         '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}.') from None
    cluster = config.get("cluster") or {}
    workers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    task = config.get("task") or {}
    return max(workers, 1), task.get("type"), int(task.get("index", 0))


def _tpu_hinted(environ):
    return (any(environ.get(name) for name in TPU_ENVIRONMENT) or os.path.exists("/dev/accel0")
            or os.path.exists("/dev/vfio/0"))


def _tpu_resolver(environ=None):
    """A TPUClusterResolver: from the environment (Colab's TPU node, TPU_NAME, GKE) or, on a TPU VM, "local"."""
    environ = os.environ if environ is None else environ
    named = any(environ.get(name) for name in TPU_ENVIRONMENT)
    return tf.distribute.cluster_resolver.TPUClusterResolver(tpu=None if named else "local")


def choose_strategy(name="auto", environ=None, num_gpus=None):
    """The strategy kind ``name`` stands for, and why: ``(kind, reason)``; ``auto`` looks at the machine.

    ``environ`` (default ``os.environ``) and ``num_gpus`` (default: the visible
    GPUs) are parameters so that the choice can be checked anywhere.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}.")
    environ = os.environ if environ is None else environ
    if name != "auto":
        return name, "asked for"
    if _tpu_hinted(environ):
        try:
            _tpu_resolver(environ)
            return "tpu", "a TPUClusterResolver found a TPU"
        except (ValueError, RuntimeError) as error:
            logger.info("auto strategy: TPU hinted but not found (%s)", error)
    workers, _, _ = cluster_spec(environ)
    if workers > 1:
        return "multi_worker", f"TF_CONFIG names {workers} workers"
    if num_gpus is None:
        num_gpus = len(tf.config.list_physical_devices("GPU"))
    if num_gpus > 1:
        return "mirrored", f"{num_gpus} GPUs"
    return "default", "no TPU, no multi-worker TF_CONFIG and fewer than 2 GPUs"


def _communication_options():
    # NCCL between GPUs, ring all-reduce between CPUs; gradients packed into 32 MB messages.
    implementation = (tf.distribute.experimental.CommunicationImplementation.NCCL
                      if tf.config.list_physical_devices("GPU")
                      else tf.distribute.experimental.CommunicationImplementation.RING)
    return tf.distribute.experimental.CommunicationOptions(bytes_per_pack=32 * 1024 * 1024,
                                                           implementation=implementation)


def _make(kind):
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if kind == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=_communication_options())
    if kind == "tpu":
        advice = ("on Colab pick a TPU runtime, on a Cloud TPU VM run on the VM itself or set TPU_NAME, or use "
                  "--strategy auto")
        if not _tpu_hinted(os.environ):
            raise RuntimeError(f"--strategy tpu: no TPU found on this machine (no /dev/accel0, no "
                               f"{' / '.join(TPU_ENVIRONMENT[:2])}); {advice}.")
        try:
            resolver = _tpu_resolver()
        except (ValueError, RuntimeError) as error:
            raise RuntimeError(f"--strategy tpu: no TPU found ({error}); {advice}.") from None
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {kind!r}; expected one of {', '.join(STRATEGIES)}.")


def get_strategy(name="auto"):
    """The ``tf.distribute.Strategy`` for ``name`` (one of ``STRATEGIES``), created once per process.

    Logs (INFO, logger ``tfbert.distribute``) which strategy it picked, why,
    and how many replicas it has; ``describe(strategy)`` gives the same line.
    """
    kind, reason = choose_strategy(name)
    if kind not in _created:
        _created[kind] = _make(kind)
        strategy = _created[kind]
        logger.info("strategy %s (%s): %s", kind, reason, describe(strategy))
    return _created[kind]


def describe(strategy):
    """One line: the strategy class, its replicas and, in a cluster, this worker's place."""
    workers, _, index = cluster_spec()
    where = f", worker {index} of {workers}" if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) \
        and workers > 1 else ""
    name = ("MultiWorkerMirroredStrategy" if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            else "default strategy" if not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()
            else type(strategy).__name__)
    return f"{name} with {strategy.num_replicas_in_sync} replica(s){where}"


def is_chief(strategy=None):
    """Whether this process writes the run's files: always, except on workers other than the chief of a cluster.

    The chief is the ``chief`` task when ``TF_CONFIG`` has one, else worker 0.
    """
    strategy = strategy or tf.distribute.get_strategy()
    extended = strategy.extended
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = getattr(extended, "_task_type", None), getattr(extended, "_task_id", None)
    if task_type is None:  # a one-worker MultiWorkerMirroredStrategy
        return True
    if task_type == "chief":
        return True
    has_chief = "chief" in (extended._cluster_resolver.cluster_spec().as_dict() if
                            getattr(extended, "_cluster_resolver", None) else {})
    return task_type == "worker" and task_id == 0 and not has_chief


def weights_digest(model):
    """sha256 (16 hex digits) of every weight of ``model``, in order, as this process holds them.

    Under a strategy each worker prints it after training: equal digests mean
    bit-identical weights on every worker.
    """
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for value in model.get_weights():
        value = np.ascontiguousarray(value)
        digest.update(str((value.dtype.str, value.shape)).encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:16]


def private_folder(kind, shared_path):
    """A fresh, empty folder of this worker for ``kind`` of files tied to ``shared_path``, under the temp dir.

    The name depends only on ``kind``, the worker's place in ``TF_CONFIG`` and
    ``shared_path``, so that a worker restarted after ``kill -9`` (which left no
    chance to clean up) removes what its previous run left before it starts.
    """
    import hashlib
    import shutil
    import tempfile

    _, task_type, index = cluster_spec()
    key = hashlib.sha256(os.path.abspath(shared_path).encode()).hexdigest()[:12]
    path = os.path.join(tempfile.gettempdir(), f"tfbert-worker-{kind}-{task_type or 'worker'}{index}-{key}")
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def is_tpu(strategy):
    """Whether ``strategy`` runs on TPUs (``TPUStrategy``)."""
    return isinstance(strategy, (tf.distribute.TPUStrategy, tf.distribute.experimental.TPUStrategy))


def steps_per_execution_for(steps_per_epoch, total_steps=None, limit=32):
    """The most steps per host call, up to ``limit``, that divide the epoch (and ``total_steps``).

    Keras runs ``steps_per_execution`` steps per call and calls the callbacks
    between calls only, so an epoch, a resumed epoch's start and the run's last
    step must fall on a call boundary: the number chosen divides them all.

    >>> from tfbert.distribute import steps_per_execution_for
    >>> steps_per_execution_for(100), steps_per_execution_for(96), steps_per_execution_for(96, total_steps=150)
    (25, 32, 6)
    """
    whole = math.gcd(int(steps_per_epoch), int(total_steps)) if total_steps else int(steps_per_epoch)
    return max(d for d in range(1, max(1, min(int(limit), whole)) + 1) if whole % d == 0)


def tpu_compile_options(steps_per_epoch, steps_per_execution=32, total_steps=None):
    """``compile`` options of the TPU path: XLA, and up to ``steps_per_execution`` steps per host call.

    The number of steps per call divides the epoch (and ``total_steps``; see
    :func:`steps_per_execution_for`). The same options run on CPU and GPU
    (``tests/test_distribute_tpu_path.py`` runs them on the default strategy),
    so a notebook can use them everywhere.
    """
    return {"jit_compile": True,
            "steps_per_execution": steps_per_execution_for(steps_per_epoch, total_steps, limit=steps_per_execution)}


def assert_static_shapes(dataset):
    """Raise ``ValueError`` naming every element of ``dataset`` whose shape is not fully defined.

    On a TPU every tensor entering the compiled step needs a static shape:
    pad to ``--max-seq-len`` (a ``BertPreprocessor`` with ``sequence_length``)
    and batch with ``drop_remainder=True``. Returns the element spec.
    """
    spec = dataset.element_spec
    loose = []
    for path, leaf in spec_paths(spec):
        if not leaf.shape.is_fully_defined():
            loose.append(f"{path} {leaf.shape}")
    if loose:
        raise ValueError("these inputs have no static shape, which a TPU needs: " + ", ".join(loose) +
                         "; pad to a fixed sequence length (BertPreprocessor(sequence_length=...)) and batch "
                         "with drop_remainder=True.")
    return spec


def pin_batch_size(dataset, batch_size):
    """``dataset`` with every element's first axis declared as ``batch_size`` (checked as each batch passes).

    For batches made with ``drop_remainder=True`` whose later maps lost the
    static batch size (``BertPreprocessor`` returns ``segment_ids`` and
    ``padding_mask`` as ``[None, S]``).
    """
    def pin(*element):
        element = element[0] if len(element) == 1 else element
        return tf.nest.map_structure(lambda t: tf.ensure_shape(t, [batch_size] + t.shape.as_list()[1:]), element)

    return dataset.map(pin)


def static_batches(dataset, batch_size, sequence_length, label_padding=0, what="the data"):
    """``dataset``'s rows again, in order, in batches of exactly ``batch_size`` rows of ``sequence_length``.

    ``dataset`` yields ``(inputs, labels, ...)`` batches of any size whose
    sequence axis (the last) may vary, as tfbert's length-bucketed pipelines
    do. Each row's last axis, where its size is not static, is padded to
    ``sequence_length`` (inputs with 0, which is ``[PAD]`` and a zero padding
    mask; everything after the inputs with ``label_padding``), rows are
    batched again with ``drop_remainder=True`` (the last ``rows % batch_size``
    rows are left out), and every tensor gets a fully defined shape: what a
    TPU compiles once. Any other axis must already
    have a static size. Counting the rows runs ``dataset`` once.

    >>> import tensorflow as tf
    >>> from tfbert.distribute import static_batches
    >>> rows = tf.data.Dataset.from_generator(lambda: iter([[5, 6], [7], [8, 9, 4]]),
    ...                                       output_signature=tf.TensorSpec([None], tf.int32))
    >>> ragged = rows.padded_batch(2).map(lambda t: ({"token_ids": t}, t[:, 0]))
    >>> fixed = static_batches(ragged, 2, 4)
    >>> fixed.element_spec[0]["token_ids"].shape, len(fixed)
    (TensorShape([2, 4]), 1)
    """
    rows = int(dataset.reduce(tf.constant(0, tf.int64),
                              lambda n, *batch: n + tf.shape(tf.nest.flatten(batch)[0], out_type=tf.int64)[0]))
    if rows < batch_size:
        raise ValueError(f"static shapes need at least one full batch: {what} has {rows} rows and the batch "
                         f"size is {batch_size}; give more data or a smaller --batch-size.")

    def fixed(tensor, value):
        shape = tensor.shape.as_list()
        if shape and shape[-1] is None:
            width = sequence_length - tf.shape(tensor)[-1]
            tensor = tf.pad(tensor, [[0, 0]] * (len(shape) - 1) + [[0, width]],
                            constant_values=tf.cast(value, tensor.dtype))
            shape[-1] = sequence_length
        if None in shape:
            raise ValueError(f"a row of shape {tensor.shape} has an axis other than the last without a static "
                             "size; static_batches can only pad the sequence axis.")
        return tf.ensure_shape(tensor, shape)

    def pad(*row):
        inputs = tf.nest.map_structure(lambda t: fixed(t, 0), row[0])
        rest = tf.nest.map_structure(lambda t: fixed(t, label_padding), tuple(row[1:]))
        return (inputs,) + rest if rest else inputs

    batches = dataset.unbatch().map(pad, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    batches = batches.batch(batch_size, drop_remainder=True)
    return batches.apply(tf.data.experimental.assert_cardinality(rows // batch_size)).prefetch(tf.data.AUTOTUNE)


def spec_paths(structure, prefix=""):
    """(path, leaf) pairs of a nest of dicts/tuples/lists, paths like ``[0]['token_ids']``."""
    if isinstance(structure, dict):
        for key in sorted(structure):
            yield from spec_paths(structure[key], f"{prefix}[{key!r}]")
    elif isinstance(structure, (tuple, list)):
        for i, item in enumerate(structure):
            yield from spec_paths(item, f"{prefix}[{i}]")
    else:
        yield prefix or "element", structure


def replica_batches(dataset, input_context):
    """This input pipeline's rows of each global batch of ``dataset``, one element per local replica.

    ``dataset`` yields global batches (any nest of tensors whose first axis is
    the batch). Global replica ``g`` of ``N`` gets rows ``[n*g//N, n*(g+1)//N)``
    of a batch of ``n`` rows, so the replicas' rows together are the batch.
    """
    total = input_context.num_replicas_in_sync
    pipelines = input_context.num_input_pipelines
    local = total // pipelines
    first = input_context.input_pipeline_id * local

    static_rows = tf.nest.flatten(dataset.element_spec)[0].shape[0]
    share = static_rows // total if static_rows is not None and static_rows % total == 0 else None

    def rows(batch, replica):
        n = tf.shape(tf.nest.flatten(batch)[0], out_type=tf.int64)[0]
        g = tf.cast(first, tf.int64) + replica
        start, stop = n * g // total, n * (g + 1) // total
        if share is None:
            return tf.nest.map_structure(lambda t: t[start:stop], batch)
        # a static global batch that splits evenly keeps a static replica batch (a TPU needs it)
        return tf.nest.map_structure(lambda t: tf.ensure_shape(t[start:stop], [share] + t.shape.as_list()[1:]), batch)

    def per_replica(*batch):
        batch = batch[0] if len(batch) == 1 else batch
        return tf.data.Dataset.range(local).map(lambda r: rows(batch, r))

    batches = dataset.flat_map(per_replica)
    known = int(dataset.cardinality())
    if known >= 0:  # flat_map hides the length; it is known, so say it (fit and evaluate use it)
        batches = batches.apply(tf.data.experimental.assert_cardinality(known * local))
    return batches


def distribute_batches(strategy, make_batches):
    """What ``fit`` should take: ``make_batches()`` (global batches) split among ``strategy``'s replicas.

    ``make_batches`` is called once per input pipeline (once per worker); it
    must build the same batches, in the same order, on every worker. With one
    replica its dataset is returned unchanged.
    """
    if strategy.num_replicas_in_sync == 1:
        return make_batches()
    return strategy.distribute_datasets_from_function(lambda context: replica_batches(make_batches(), context))
