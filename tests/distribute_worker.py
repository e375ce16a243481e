"""Worker for test_distribute_keras_bugs.py: plain Keras vs tfbert under a tf.distribute strategy.

Usage: python tests/distribute_worker.py MODE OUT_JSON
MODE ``mirrored``: one process, MirroredStrategy over 2 logical CPU devices.
MODE ``multi_worker``: one worker of a MultiWorkerMirroredStrategy cluster (TF_CONFIG set by the parent).
``mirrored`` also trains the same model with ``OneDeviceStrategy("/cpu:0")``: the one-device reference.

Each mode records, as JSON: what plain Keras 3.15 does (the error it raises, or
its result) for each upstream bug that tfbert works around, and the per-step
losses and final weights of a tiny tfbert classifier trained for a few steps
(dropout off, a clip that binds), so that the parent can compare them with the
one-device run.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODE, OUT = sys.argv[1], sys.argv[2]
if MODE == "mirrored":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import tfbert  # noqa: E402,F401  (KERAS_BACKEND)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfbert.distribute import distribute_batches  # noqa: E402

GLOBAL_BATCH, STEPS, SEQ = 8, 4, 12


def make_strategy():
    if MODE == "mirrored":
        return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    if MODE == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


STRATEGY = make_strategy()  # first TensorFlow work of the process (MultiWorkerMirroredStrategy needs that)


def error_of(fn):
    try:
        result = fn()
    except Exception as error:  # the upstream failure is what is recorded
        return {"error": type(error).__name__, "message": str(error)[-3000:]}
    return {"result": result}


def plain_keras_symbolic_build(strategy):
    """Keras' _maybe_symbolic_build on a model with int32 dict inputs (bugs 1 and, on Mirrored, the cast)."""
    class Ids(keras.Model):
        def __init__(self):
            super().__init__()
            self.embedding = keras.layers.Embedding(10, 2)

        def call(self, x):
            if x["ids"].dtype != tf.int32:
                raise TypeError(f"ids arrived as {x['ids'].dtype.name}, not int32")
            return tf.reduce_mean(self.embedding(x["ids"]), axis=1)

    with strategy.scope():
        model = Ids()
        model.compile("sgd", "mse")
    data = tf.data.Dataset.from_tensor_slices(({"ids": np.ones((8, 3), "int32")}, np.ones((8, 2), "float32")))
    history = model.fit(data.batch(4), epochs=1, verbose=0, shuffle=False)
    return history.history["loss"][-1]


def plain_keras_scalar_reduce(strategy):
    """Keras' reduce_per_replica on scalar logs (tensorflow/tensorflow#72388, keras-team/keras#20585)."""
    from keras.src.backend.tensorflow.trainer import reduce_per_replica

    @tf.function
    def step():
        return reduce_per_replica(strategy.run(lambda: {"loss": tf.constant(1.0)}), strategy, "auto")

    return float(step()["loss"])


def plain_keras_clipping(strategy):
    """The first kernel after one clipped SGD step of a plain Keras model on the global batch."""
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones")])
        model.compile(keras.optimizers.SGD(1.0, global_clipnorm=0.1), "mse")
    x = np.array([[1, 2], [3, 4], [5, 6], [7, 80]] * 2, "float32")
    data = distribute_batches(strategy, lambda: tf.data.Dataset.from_tensor_slices((x, np.zeros((8, 1), "float32")))
                              .batch(8))
    model.fit(data, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    return model.get_weights()[0].ravel().tolist()


def plain_keras_first_batch(strategy):
    """Which batch of a reshuffling dataset the first step of plain Keras trains on (read off the kernel)."""
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
        model.compile(keras.optimizers.SGD(1.0), "mse")
    x = np.arange(16, dtype="float32")[:, None]
    data = tf.data.Dataset.from_tensor_slices((x, x)).shuffle(16, seed=1, reshuffle_each_iteration=True).batch(4)
    model.fit(data, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    return float(model.get_weights()[0].ravel()[0])


def dropout_masks(strategy, fixed):
    """Each local replica's dropout mask of the same input (plain Keras, or inside tfbert's seed fix)."""
    from tfbert.tasks.strategy_fixes import replica_dependent_seeds

    with strategy.scope():
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dropout(0.5)])

    @tf.function
    def step():
        def replica_fn():
            if fixed:
                with replica_dependent_seeds(model):
                    return model(tf.ones((1, 64)), training=True)
            return model(tf.ones((1, 64)), training=True)
        return strategy.run(replica_fn)

    return [np.asarray(v).ravel().tolist() for v in strategy.experimental_local_results(step())]


class StepLosses(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.means = []

    def on_train_batch_end(self, batch, logs=None):
        self.means.append(float(np.asarray(logs["loss"])))


def tfbert_training(strategy):
    from tfbert import BERT, BertConfig
    from tfbert.optimization import create_optimizer
    from tfbert.tasks import BertClassifier

    keras.utils.set_random_seed(7)
    with strategy.scope():
        backbone = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=32, max_position_embeddings=32, hidden_dropout_prob=0.0,
                                   attention_probs_dropout_prob=0.0))
        model = BertClassifier(backbone, num_classes=3, dropout=0.0)
        # a global-norm clip that binds at every step (the gradients' norm is ~0.5 here)
        model.compile(optimizer=create_optimizer(5e-3, num_train_steps=STEPS, clipnorm=0.01), jit_compile=False)
    rng = np.random.default_rng(0)
    n = GLOBAL_BATCH * STEPS
    mask = (np.arange(SEQ)[None, :] < rng.integers(4, SEQ + 1, n)[:, None]).astype("int32")
    x = {"token_ids": rng.integers(5, 64, (n, SEQ)).astype("int32") * mask,
         "segment_ids": np.zeros((n, SEQ), "int32"), "padding_mask": mask}
    y = rng.integers(0, 3, n).astype("int32")
    data = distribute_batches(strategy, lambda: tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH))
    losses = StepLosses()
    model.fit(data, epochs=1, steps_per_epoch=STEPS, verbose=0, shuffle=False, callbacks=[losses])
    replicas = [[np.asarray(strategy.experimental_local_results(v.value)[r]).tolist() for v in model.weights]
                for r in range(len(strategy.experimental_local_results(model.weights[0].value)))]
    return {"loss_means": losses.means, "weights": [w.tolist() for w in model.get_weights()],
            "replica_weights_identical": all(r == replicas[0] for r in replicas), "local_replicas": len(replicas)}


def main():
    report = {"mode": MODE, "replicas": STRATEGY.num_replicas_in_sync,
              "symbolic_build": error_of(lambda: plain_keras_symbolic_build(STRATEGY)),
              "clipping": error_of(lambda: plain_keras_clipping(STRATEGY))}
    if MODE == "multi_worker":
        report["scalar_reduce"] = error_of(lambda: plain_keras_scalar_reduce(STRATEGY))
    report["tfbert"] = tfbert_training(STRATEGY)
    if MODE == "mirrored":  # the one-device reference, in the same process (default strategy on /cpu:0)
        one_device = tf.distribute.OneDeviceStrategy("/cpu:0")
        report["one_device"] = {"clipping": plain_keras_clipping(one_device), "tfbert": tfbert_training(one_device),
                                "first_batch": plain_keras_first_batch(one_device)}
        report["dropout_masks"] = {"plain": dropout_masks(STRATEGY, False), "tfbert": dropout_masks(STRATEGY, True)}
        report["no_strategy"] = {"first_batch": plain_keras_first_batch(tf.distribute.get_strategy())}
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main()
