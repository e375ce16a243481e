"""`tfbert finetune --strategy multi_worker` with 2 worker processes on 127.0.0.1, against one process.

The workers train a tiny BERT on a CSV the test writes (dropout off). Checked:
both workers end with the same weights (the digest each prints), the chief's
epoch losses and final weights match a one-process run with the same global
batch within 1e-5, the run directory holds one model.keras, and the non-chief
leaves nothing behind (its private folder lives under a TMPDIR the test owns).
"""

import json
import os
import re
import sys

import numpy as np
import pytest

import tfbert
from cluster import logs, run_cluster
from test_case import TINY

WORDS = ["good", "great", "fun", "bad", "dull", "awful", "film", "movie", "plot", "acting"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("distribute_cli")
    preset = str(root / "tiny_hf")
    import keras

    keras.utils.set_random_seed(0)
    tfbert.BERT(tfbert.BertConfig(**{**TINY, "vocab_size": len(VOCAB)})).save_huggingface(
        preset, vocabulary=VOCAB, lowercase=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(70):  # 3-word texts: one length bucket; --max-examples 48: every global batch is full
        words = rng.choice(WORDS, 3)
        rows.append(f"{' '.join(words)},{'pos' if words[0] in ('good', 'great', 'fun') else 'neg'}")
    csv = root / "reviews.csv"
    csv.write_text("review,sentiment\n" + "\n".join(rows) + "\n")
    return root, preset, str(csv)


def finetune_argv(preset, csv, out, strategy):
    return ["finetune", "--data", csv, "--preset", preset, "--output-dir", str(out), "--strategy", strategy,
            "--epochs", "2", "--batch-size", "8", "--max-seq-len", "16", "--learning-rate", "1e-2",
            "--max-examples", "48", "--dropout", "0", "--seed", "3"]


@pytest.fixture(scope="module")
def runs(inputs):
    from tfbert.cli import main

    root, preset, csv = inputs
    one = root / "one"
    assert main(finetune_argv(preset, csv, one, "default")) == 0
    two, tmp = root / "two", root / "worker_tmp"
    tmp.mkdir()
    codes = run_cluster(lambda i: [sys.executable, "-m", "tfbert", *finetune_argv(preset, csv, two, "multi_worker")],
                        str(root), workers=2, timeout=240, extra_env={"TMPDIR": str(tmp)})
    assert codes == [0, 0], logs(str(root))
    return one, two, tmp, logs(str(root))


def test_both_workers_end_with_identical_weights(runs):
    _, _, _, output = runs
    digests = re.findall(r"weights digest ([0-9a-f]{16})", output)
    assert len(digests) == 2 and digests[0] == digests[1], output
    assert "MultiWorkerMirroredStrategy with 2 replica(s), worker 0 of 2" in output
    assert "worker 1 of 2" in output


def test_losses_and_weights_match_one_process(runs):
    import keras

    one, two, _, _ = runs
    history_one = json.loads((one / "metrics.json").read_text())["history"]
    history_two = json.loads((two / "metrics.json").read_text())["history"]
    assert len(history_two["loss"]) == 2
    np.testing.assert_allclose(history_two["loss"], history_one["loss"], atol=1e-5, rtol=0)
    weights_one = keras.saving.load_model(str(one / "model.keras")).get_weights()
    weights_two = keras.saving.load_model(str(two / "model.keras")).get_weights()
    assert len(weights_one) == len(weights_two)
    for a, b in zip(weights_one, weights_two):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def test_only_the_chief_writes_and_the_other_worker_leaves_nothing(runs):
    _, two, tmp, _ = runs
    found = [os.path.join(d, f) for d, _, files in os.walk(os.path.dirname(two)) for f in files if f == "model.keras"]
    assert sorted(found) == sorted([str(two / "model.keras"), str(two.parent / "one" / "model.keras")])
    assert os.listdir(tmp) == []  # the non-chief's private run folder and checkpoints were removed
    run = json.loads((two / "run.json").read_text())
    assert run["settings"]["dropout"] == 0.0 and run["finished"]
    assert os.listdir(two / "checkpoints")
