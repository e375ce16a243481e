"""benchmarks/throughput.py times steps, not fit calls, and counts FLOPs as documented."""

import argparse
import importlib.util
import os
import time

import keras
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def throughput():
    spec = importlib.util.spec_from_file_location("throughput", os.path.join(ROOT, "benchmarks", "throughput.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SlowStart(keras.callbacks.Callback):
    """A fixed cost per fit/predict call (like iterator and callback set-up), outside every step."""

    def on_train_begin(self, logs=None):
        time.sleep(0.5)

    def on_predict_begin(self, logs=None):
        time.sleep(0.5)


def test_step_timer_times_each_step_without_the_cost_per_call(throughput):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    x, y = np.ones((12, 4), "float32"), np.ones((12, 2), "float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)  # warm-up: tracing
    model.predict(x, batch_size=4, verbose=0)
    timer = throughput.StepTimer()
    start = time.perf_counter()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[SlowStart(), timer], shuffle=False)
    model.predict(x, batch_size=4, verbose=0, callbacks=[SlowStart(), timer])
    assert time.perf_counter() - start > 1.0
    assert len(timer.train_times) == 3 and len(timer.predict_times) == 3
    assert max(timer.train_times + timer.predict_times) < 0.25  # the 0.5 s per call is in no step


def test_flops_count_the_matmuls_of_bert_base(throughput):
    # BERT-base, batch 8 x 128: 12 layers of 2*1024*(4*768^2 + 2*768*3072) + 4*8*128^2*768, pooler, head.
    forward = throughput.step_flops(12, 768, 3072, 8, 128)
    assert forward == 12 * (2 * 1024 * (4 * 768**2 + 2 * 768 * 3072) + 4 * 8 * 128**2 * 768) + 2 * 8 * 768 * 770
    assert throughput.step_flops(12, 768, 3072, 8, 128, training=True) == 3 * forward


def test_one_cell_runs_both_systems_interleaved(throughput, monkeypatch):
    monkeypatch.setitem(throughput.SHAPES, "tiny", (1, 16, 2, 32, 2, 8))
    monkeypatch.setattr(throughput, "PEAK_N", 64)
    args = argparse.Namespace(rounds=2, chunk=2, peak_repeats=1, steps_per_execution=1, jit_compile=False, against=None)
    rows = throughput.run_cell("tiny", "float32", args)
    assert [r["job"] for r in rows] == ["training", "inference"]
    for row in rows:
        for system in ("tfbert", "reference"):
            assert len(row[system]["steps"]) == 2  # 2 rounds x (2 steps - the dropped first one)
            assert row[system]["step_s"] > 0 and 0 < row[system]["of_peak"]
        assert row["speedup"] > 0 and row["paired_speedup"] > 0 and row["reference_name"] == "keras-hub"
    assert keras.config.dtype_policy().name == "float32"


def test_against_a_git_commit_compares_with_tfbert_as_it_was(throughput, monkeypatch):
    import subprocess

    if subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("not a git checkout")
    monkeypatch.setitem(throughput.SHAPES, "tiny", (1, 16, 2, 32, 2, 8))
    monkeypatch.setattr(throughput, "PEAK_N", 64)
    args = argparse.Namespace(rounds=1, chunk=2, peak_repeats=1, steps_per_execution=1, jit_compile=False,
                              against="HEAD")
    pair = throughput.build_pair(throughput.SHAPES["tiny"], args)
    ours, ref = (next(layer for layer in pair[k].layers if "BERT" in type(layer).__name__) for k in pair)
    assert type(ours).__module__ == "tfbert.model" and type(ref).__module__ == "tfbert_ref.model"
    x = throughput.make_inputs(2, 8)  # same weights, so the same outputs (the Dense heads differ)
    np.testing.assert_allclose(ours(x)["sequence_output"], ref(x)["sequence_output"], atol=1e-5)
