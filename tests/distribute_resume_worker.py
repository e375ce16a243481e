"""Worker for test_distribute_resume.py: one MultiWorkerMirroredStrategy worker training with fit_resumable.

Usage: python tests/distribute_resume_worker.py CHECKPOINT_DIR LOG_FILE SLEEP_SECONDS
TF_CONFIG (set by the parent) names the cluster. The worker appends to LOG_FILE
"start <global step restored>", then "step <global step>" after every step
(flushed, so that the parent can SIGKILL a worker mid-epoch), and at the end
"done <optimizer iterations> <weights digest>".
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402

STRATEGY = tf.distribute.MultiWorkerMirroredStrategy()  # before any other TensorFlow work

import tfbert  # noqa: E402,F401
import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfbert import BERT, BertConfig  # noqa: E402
from tfbert.distribute import weights_digest  # noqa: E402
from tfbert.tasks import BertClassifier  # noqa: E402
from tfbert.training import fit_resumable, global_step_of  # noqa: E402

EPOCHS, STEPS_PER_EPOCH, BATCH, SEQ = 2, 8, 4, 8


class StepLog(keras.callbacks.Callback):
    def __init__(self, path, sleep):
        super().__init__()
        self.path, self.sleep = path, sleep

    def on_train_begin(self, logs=None):
        self.write(f"start {global_step_of(self.model)}")

    def on_train_batch_end(self, batch, logs=None):
        self.write(f"step {global_step_of(self.model)}")
        time.sleep(self.sleep)

    def write(self, line):
        with open(self.path, "a") as f:
            f.write(line + "\n")


def main():
    checkpoint_dir, log_path, sleep = sys.argv[1], sys.argv[2], float(sys.argv[3])
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n = STEPS_PER_EPOCH * BATCH
    x = {"token_ids": rng.integers(5, 64, (n, SEQ)).astype("int32"), "segment_ids": np.zeros((n, SEQ), "int32"),
         "padding_mask": np.ones((n, SEQ), "int32")}
    y = rng.integers(0, 2, n).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)
    with STRATEGY.scope():
        model = BertClassifier(BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                               intermediate_size=32, max_position_embeddings=16,
                                               hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)),
                               num_classes=2, dropout=0.0)
        model.compile(learning_rate=1e-3, num_train_steps=EPOCHS * STEPS_PER_EPOCH, jit_compile=False)
    fit_resumable(model, data, epochs=EPOCHS, checkpoint_dir=checkpoint_dir, save_every=3,
                  callbacks=[StepLog(log_path, sleep)], verbose=0)
    with open(log_path, "a") as f:
        f.write(f"done {global_step_of(model)} {weights_digest(model)}\n")


if __name__ == "__main__":
    main()
