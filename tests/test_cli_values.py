"""Bad values are refused up front by the `tfbert` command, and training runs exactly what was asked."""

import json
import os

import numpy as np
import pytest

from test_cli import (NEGATIVE, POSITIVE, VOCAB, assert_one_line_error, finetune_args, reviews_csv,  # noqa: F401
                      run_cli, tiny_preset)


# ---- --learning-rate ---------------------------------------------------------------------------
@pytest.mark.parametrize("value, fragment", [
    ("inf", "expected a finite number > 0, got 'inf'"),
    ("nan", "expected a finite number > 0, got 'nan'"),
    ("-inf", "expected a finite number > 0, got '-inf'"),
    ("-1e-4", "expected a number > 0, got '-1e-4'"),  # was: "expected one argument" (read as an option)
    ("-.5", "expected a number > 0, got '-.5'"),
    ("0", "expected a number > 0, got '0'"),
])
def test_learning_rate_must_be_finite_and_positive(capsys, tmp_path, value, fragment):
    for command in (finetune_args(tmp_path / "run", "--data", "rotten_tomatoes"),
                    ["pretrain", "--corpus", "c.txt", "-o", str(tmp_path / "pt")]):
        code, _, err = run_cli(capsys, *command, "--learning-rate", value)
        assert code == 2
        assert_one_line_error(err, f"argument --learning-rate: {fragment}", f"`tfbert {command[0]} --help`")
    assert not (tmp_path / "run").exists() and not (tmp_path / "pt").exists()


def test_a_diverging_run_exits_1_and_saves_no_nan_model(capsys, tmp_path, tiny_preset, reviews_csv):
    run_dir = tmp_path / "run"
    code, _, err = run_cli(capsys, *finetune_args(run_dir, "--data", reviews_csv, "--preset", tiny_preset,
                                                  "--steps", "6", "--batch-size", "8", "--learning-rate", "1e30"))
    assert code == 1, err
    line = assert_one_line_error(err, "the training loss became", "at step", "lower --learning-rate", "float32")
    assert "nan" in line or "inf" in line
    assert not (run_dir / "model.keras").exists()  # was: exit 0 with a NaN model.keras


# ---- --steps -----------------------------------------------------------------------------------
def test_steps_trains_exactly_n_steps_with_the_schedule_sized_for_n(capsys, tmp_path, tiny_preset, reviews_csv):
    from tfbert.cli.sources import load_keras
    from tfbert.training import read_state

    run_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, *finetune_args(run_dir, "--data", reviews_csv, "--preset", tiny_preset,
                                                    "--steps", "7", "--batch-size", "16"))
    assert code == 0, err
    steps_per_epoch = json.loads((run_dir / "run.json").read_text())["settings"]["steps_per_epoch"]
    assert 7 % steps_per_epoch, f"the test needs an epoch length that does not divide 7, got {steps_per_epoch}"
    assert "(7 in all)" in out
    assert read_state(str(run_dir / "checkpoints"))["global_step"] == 7  # was 9: whole epochs
    model = load_keras(str(run_dir / "model.keras"))
    assert int(model.optimizer.iterations) == 7
    assert model.optimizer._learning_rate.total_steps == 7
    code, out, err = run_cli(capsys, "finetune", "-o", str(run_dir), "--resume", "--steps", "10")
    assert code == 0, err
    assert read_state(str(run_dir / "checkpoints"))["global_step"] == 10
