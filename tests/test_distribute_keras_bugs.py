"""Keras 3.15 under tf.distribute: the upstream failures tfbert works around, and tfbert training exactly.

Two kinds of assertions, on the same runs:
- ``test_upstream_*`` assert that *plain* Keras still fails (or still clips per
  replica). When one of them fails, a Keras/TF release fixed that bug: delete the
  matching fix in ``tfbert/tasks/strategy_fixes.py`` and this test.
- ``test_tfbert_*`` assert that a tfbert task model trains under
  ``MirroredStrategy`` (2 logical CPU devices, one process) and under
  ``MultiWorkerMirroredStrategy`` (2 worker processes on 127.0.0.1), with losses
  within 1e-5 per step of one device on the same global batches, a global-norm
  clip that binds at every step, and identical weights on every replica.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from cluster import REPO_ROOT, logs, python_argv, run_cluster, worker_env

WORKER = os.path.join(REPO_ROOT, "tests", "distribute_worker.py")


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    out = tmp_path_factory.mktemp("mirrored") / "report.json"
    env = worker_env(0, [0])
    env.pop("TF_CONFIG")
    result = subprocess.run([sys.executable, WORKER, "mirrored", str(out)], env=env, cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def multi_worker(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multi_worker")
    codes = run_cluster(lambda i: python_argv(WORKER, "multi_worker", str(folder / f"report-{i}.json")),
                        str(folder), workers=2, timeout=180)
    assert codes == [0, 0], logs(str(folder))
    return [json.loads((folder / f"report-{i}.json").read_text()) for i in range(2)]


def per_step(means):
    """Per-step losses from Keras' running means."""
    means = np.asarray(means, dtype="float64")
    steps = np.arange(1, len(means) + 1)
    totals = means * steps
    return np.diff(np.concatenate([[0.0], totals]))


def test_upstream_mirrored_symbolic_build_casts_int32_inputs_to_float32(mirrored):
    assert mirrored["replicas"] == 2
    assert mirrored["symbolic_build"].get("error") == "RuntimeError", mirrored["symbolic_build"]
    assert "ids arrived as float32" in mirrored["symbolic_build"]["message"]


def test_upstream_mirrored_clips_each_replica_before_the_all_reduce(mirrored):
    one, two = np.array(mirrored["one_device"]["clipping"]), np.array(mirrored["clipping"]["result"])
    assert np.abs(one - two).max() > 1e-3, (one, two)  # the same step, clipped per replica


def test_upstream_strategy_symbolic_build_moves_a_reshuffling_dataset_to_its_next_order(mirrored):
    # Keras draws a batch from a fresh iterator to build the model, so the first step under a strategy
    # trains on another batch than without one (the kernel after one step tells which batch it was).
    assert mirrored["one_device"]["first_batch"] != mirrored["no_strategy"]["first_batch"]


def test_upstream_multi_worker_symbolic_build_reduces_a_nest(multi_worker):
    for report in multi_worker:
        assert report["replicas"] == 2
        assert report["symbolic_build"].get("error") == "ValueError", report["symbolic_build"]
        assert "PerReplica" in report["symbolic_build"]["message"]


def test_upstream_multi_worker_reduces_scalar_logs_on_axis_0(multi_worker):
    # tensorflow/tensorflow#72388, keras-team/keras#20585
    for report in multi_worker:
        assert report["scalar_reduce"].get("error") == "ValueError", report["scalar_reduce"]
        assert "Invalid reduction dimension 0 for input with 0 dimensions" in report["scalar_reduce"]["message"], \
            report["scalar_reduce"]


def test_upstream_every_replica_draws_the_same_dropout_mask(mirrored):
    first, second = mirrored["dropout_masks"]["plain"]
    assert first == second and 0 < first.count(0.0) < len(first)


def test_tfbert_replicas_draw_their_own_dropout_masks(mirrored):
    first, second = mirrored["dropout_masks"]["tfbert"]
    assert first != second and 0 < first.count(0.0) < len(first) and 0 < second.count(0.0) < len(second)


def test_tfbert_mirrored_matches_one_device(mirrored):
    one, two = mirrored["one_device"]["tfbert"], mirrored["tfbert"]
    assert two["local_replicas"] == 2 and two["replica_weights_identical"]
    assert len(two["loss_means"]) == 4
    np.testing.assert_allclose(per_step(two["loss_means"]), per_step(one["loss_means"]), atol=1e-5, rtol=0)
    for a, b in zip(one["weights"], two["weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), atol=1e-5, rtol=0)


def test_tfbert_multi_worker_matches_one_device(mirrored, multi_worker):
    one = mirrored["one_device"]["tfbert"]
    first, second = (report["tfbert"] for report in multi_worker)
    assert first["weights"] == second["weights"]  # bit-identical on both workers
    for report in (first, second):
        np.testing.assert_allclose(per_step(report["loss_means"]), per_step(one["loss_means"]), atol=1e-5, rtol=0)
    for a, b in zip(one["weights"], first["weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), atol=1e-5, rtol=0)
