"""Bad values are refused up front by the `tfbert` command, and training runs exactly what was asked."""

import json

import pytest

from test_cli import (NEGATIVE, POSITIVE, VOCAB, assert_one_line_error, corpus, finetune_args,  # noqa: F401
                      reviews_csv, run_cli, tiny_preset)


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


def test_a_diverging_run_exits_1_and_saves_no_nan_model(capsys, tmp_path, tiny_preset, reviews_csv):  # noqa: F811
    run_dir = tmp_path / "run"
    code, _, err = run_cli(capsys, *finetune_args(run_dir, "--data", reviews_csv, "--preset", tiny_preset,
                                                  "--steps", "6", "--batch-size", "8", "--learning-rate", "1e30"))
    assert code == 1, err
    line = assert_one_line_error(err, "the training loss became", "at step", "lower --learning-rate", "float32")
    assert "nan" in line or "inf" in line
    assert not (run_dir / "model.keras").exists()  # was: exit 0 with a NaN model.keras


# ---- --steps -----------------------------------------------------------------------------------
def test_steps_trains_exactly_n_steps_with_the_schedule_sized_for_n(capsys, tmp_path, tiny_preset, reviews_csv):  # noqa: F811
    from tfbert.cli.sources import load_keras
    from tfbert.training import read_state

    run_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, *finetune_args(run_dir, "--data", reviews_csv, "--preset", tiny_preset,
                                                    "--steps", "7", "--batch-size", "16"))
    assert code == 0, err
    steps_per_epoch = json.loads((run_dir / "run.json").read_text())["settings"]["steps_per_epoch"]
    assert 7 % steps_per_epoch, f"the test needs an epoch length that does not divide 7, got {steps_per_epoch}"
    assert "(7 in all)" in out
    # No --max-seq-len given: the default 128 is lowered to the tiny model's 32, said and recorded.
    assert "tfbert: --max-seq-len 32: the longest" in err
    assert json.loads((run_dir / "run.json").read_text())["settings"]["max_seq_len"] == 32
    assert read_state(str(run_dir / "checkpoints"))["global_step"] == 7  # was 9: whole epochs
    model = load_keras(str(run_dir / "model.keras"))
    assert int(model.optimizer.iterations) == 7
    assert model.optimizer._learning_rate.total_steps == 7  # the schedule decays to 0 at step 7
    # (a resume to exactly N, also after a kill mid-epoch, is tested on fit_resumable in test_training_limits.py)


def test_pretrain_epochs_is_not_overridden_by_the_default_steps(capsys, tmp_path, corpus):  # noqa: F811
    from tfbert.training import read_state

    run_dir = tmp_path / "pt"
    code, out, err = run_cli(capsys, "pretrain", "--corpus", corpus, "--config", "tiny", "--vocab-size", "60",
                             "-o", str(run_dir), "--epochs", "1", "--batch-size", "8", "--max-seq-len", "24",
                             "--max-predictions", "3", "--dupe-factor", "1")
    assert code == 0, err
    settings = json.loads((run_dir / "run.json").read_text())["settings"]
    assert settings["steps"] is None and settings["epochs"] == 1
    assert read_state(str(run_dir / "checkpoints"))["global_step"] == settings["steps_per_epoch"]  # was: 1000 steps


# ---- messages ------------------------------------------------------------------------------------
def test_a_missing_column_is_named_once_with_its_option(capsys, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("a,b\nx,y\n")
    code, _, err = run_cli(capsys, *finetune_args(tmp_path / "run", "--data", str(table)))
    line = assert_one_line_error(err, "no text column among ['a', 'b']", "--text-column")
    assert code == 1 and "column column" not in line
    table.write_text("text,b\nx,y\n")
    code, _, err = run_cli(capsys, *finetune_args(tmp_path / "run", "--data", str(table)))
    line = assert_one_line_error(err, "no label column among ['text', 'b']", "--label-column")
    assert "column column" not in line  # was: "no label column column among ..."


def test_export_to_an_existing_version_names_the_cli_flags(capsys, tmp_path):
    (tmp_path / "exports" / "1").mkdir(parents=True)
    code, _, err = run_cli(capsys, "export", "tiny", "--export-dir", str(tmp_path / "exports"), "--version", "1")
    line = assert_one_line_error(err, "already exists", "--overwrite", "--version 2")
    assert code == 1 and "overwrite=True" not in line and "version=None" not in line


def test_an_unknown_option_is_reported_before_a_missing_required_one(capsys):
    code, _, err = run_cli(capsys, "finetune", "--data", "rotten_tomatoes", "--bogus")
    assert code == 2
    assert_one_line_error(err, "unrecognized arguments: --bogus", "`tfbert finetune --help`")  # was: required -o
    code, _, err = run_cli(capsys, "finetune", "--data", "rotten_tomatoes")
    assert code == 2
    assert_one_line_error(err, "the following arguments are required: -o/--output-dir")


def test_an_output_dir_below_a_file_is_a_clear_line(capsys, tmp_path):
    (tmp_path / "plain_file").write_text("x")
    code, _, err = run_cli(capsys, *finetune_args(tmp_path / "plain_file" / "sub", "--data", "rotten_tomatoes",
                                                  "--steps", "1"))
    line = assert_one_line_error(err, f"{tmp_path / 'plain_file'} is a file, not a folder", "choose another path")
    assert code == 1 and "[Errno" not in line


@pytest.mark.parametrize("content", ["null", "[1, 2]", "3"])
def test_a_config_json_that_is_not_an_object_is_a_clear_line(capsys, tmp_path, content):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(content)
    (tmp_path / "bert_config.json").write_text(content)
    for source in (tmp_path / "model", tmp_path / "bert_config.json"):
        code, _, err = run_cli(capsys, "info", str(source))
        line = assert_one_line_error(err, f"holds {content}, not a JSON object", "write it again")
        assert code == 1 and "TypeError" not in line and "AttributeError" not in line


def test_a_truncated_keras_file_is_called_truncated(capsys, tmp_path):
    import tfbert

    path = tmp_path / "model.keras"
    tfbert.BERT(tfbert.BertConfig(**{"vocab_size": 64, "hidden_size": 16, "num_hidden_layers": 1,
                                     "num_attention_heads": 2, "intermediate_size": 32})).save(str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for command in (["info", str(path)], ["export", str(path), "--export-dir", str(tmp_path / "e")]):
        code, _, err = run_cli(capsys, *command)
        line = assert_one_line_error(err, "model.keras is truncated or corrupt", "save the model again")
        assert code == 1 and "File not found" not in line


# ---- --max-seq-len -------------------------------------------------------------------------------
def test_max_seq_len_beyond_the_model_is_refused_before_anything_is_written(capsys, tmp_path, tiny_preset,  # noqa: F811
                                                                            reviews_csv):  # noqa: F811
    run_dir = tmp_path / "run"
    code, _, err = run_cli(capsys, *finetune_args(run_dir, "--data", reviews_csv, "--preset", tiny_preset,
                                                  "--max-seq-len", "100000"))
    assert code == 2  # was: trained at 32 while run.json said 100000
    assert_one_line_error(err, "--max-seq-len 100000 is longer than", "max_position_embeddings is 32",
                          "--max-seq-len 32 or less")
    assert not run_dir.exists()
    documents = tmp_path / "corpus.txt"
    documents.write_text("A good film. Great fun.\n\nA bad film. Dull plot.\n")
    code, _, err = run_cli(capsys, "pretrain", "--corpus", str(documents), "--preset", tiny_preset,
                           "-o", str(tmp_path / "pt"), "--max-seq-len", "64")
    assert code == 2
    assert_one_line_error(err, "--max-seq-len 64 is longer than", "max_position_embeddings is 32")
    assert not (tmp_path / "pt").exists()


def test_task_from_preset_refuses_a_sequence_length_beyond_the_model(tiny_preset):  # noqa: F811
    from tfbert.tasks import BertClassifier

    with pytest.raises(ValueError, match="sequence_length 64 is longer than .* max_position_embeddings is 32"):
        BertClassifier.from_preset(tiny_preset, num_classes=2, sequence_length=64)
    assert BertClassifier.from_preset(tiny_preset, num_classes=2, sequence_length=32).preprocessor.sequence_length == 32
