"""Worker for test_training.py: trains a tiny BertPretrainer with fit_resumable and logs every step.

Usage: python tests/resume_worker.py CHECKPOINT_DIR LOG_FILE [SLEEP_SECONDS]
Each finished step appends "step <global step>" to LOG_FILE (flushed), and the end
appends "done <optimizer iterations>", so the parent can SIGKILL it mid-epoch.

For test_runs.py, the same through the command line (run directory, lock, run.json):
    python tests/resume_worker.py pretrain RUN_DIR CORPUS LOG_FILE SLEEP_SECONDS [--resume]
runs `tfbert pretrain` on a tiny from-scratch BERT for PRETRAIN_STEPS steps (test_runs.py's
corpus makes 8 per epoch), with a checkpoint every 3 steps and the same step log.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tfbert  # noqa: E402,F401
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfbert import BERT, BertConfig  # noqa: E402
from tfbert.tasks.pretrainer import BertPretrainer  # noqa: E402
from tfbert.training import fit_resumable  # noqa: E402

EPOCHS, STEPS_PER_EPOCH, BATCH = 3, 8, 4


class StepLog(keras.callbacks.Callback):
    def __init__(self, path, sleep):
        super().__init__()
        self.path, self.sleep = path, sleep

    def on_train_batch_end(self, batch, logs=None):
        with open(self.path, "a") as f:
            f.write(f"step {int(self.model.optimizer.iterations)}\n")
        time.sleep(self.sleep)


def main():
    checkpoint_dir, log_path = sys.argv[1], sys.argv[2]
    sleep = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n = STEPS_PER_EPOCH * BATCH
    x = {"token_ids": rng.integers(5, 64, (n, 16)).astype("int32"), "segment_ids": np.zeros((n, 16), "int32"),
         "padding_mask": np.ones((n, 16), "int32"), "mask_positions": rng.integers(1, 16, (n, 3)).astype("int32")}
    y = {"mask_ids": rng.integers(5, 64, (n, 3)).astype("int32"), "mask_weights": np.ones((n, 3), "float32"),
         "next_sentence_label": rng.integers(0, 2, n).astype("int32")}
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)
    model = BertPretrainer(BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                           intermediate_size=32, max_position_embeddings=16)))
    model.compile(learning_rate=1e-3, num_train_steps=EPOCHS * STEPS_PER_EPOCH, jit_compile=False)
    fit_resumable(model, data, epochs=EPOCHS, checkpoint_dir=checkpoint_dir, save_every=3,
                  callbacks=[StepLog(log_path, sleep)], verbose=0)
    with open(log_path, "a") as f:
        f.write(f"done {int(model.optimizer.iterations)}\n")


# ---- `tfbert pretrain` through the command line ----
PRETRAIN_STEPS = 16


def pretrain_cli(run_dir, corpus, log_path, sleep, *flags):
    from tfbert import cli
    from tfbert.cli import pretrain

    logged = pretrain.callbacks_for
    pretrain.callbacks_for = lambda run: logged(run) + [StepLog(log_path, float(sleep))]
    pretrain.CHECKPOINT_EVERY = 3  # mid-epoch checkpoints in a short run
    argv = ["pretrain", "-o", run_dir, *flags]
    if "--resume" not in flags:
        argv += ["--corpus", corpus, "--config", "tiny", "--vocab-size", "60", "--steps", str(PRETRAIN_STEPS),
                 "--batch-size", "4", "--max-seq-len", "24", "--max-predictions", "3", "--seed", "3"]
    code = cli.main(argv)
    if code == 0:
        with open(log_path, "a") as f:
            f.write("done cli\n")
    sys.exit(code)


if __name__ == "__main__":
    if sys.argv[1] == "pretrain":
        pretrain_cli(*sys.argv[2:])
    else:
        main()
