"""The `tfbert` command: parser, help, errors and exit codes, and each subcommand on tiny models."""

import json
import os
import subprocess
import sys

import pytest

import tfbert
from conftest import REPO_ROOT, TINY
from tfbert import cli


def run_cli(capsys, *argv):
    """main(argv) in-process: (exit code, stdout, stderr)."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err):
    """stderr lines that are not TensorFlow's C++ start-up chatter."""
    return [line for line in err.splitlines() if line.startswith("tfbert")]


def assert_one_line_error(err, *fragments):
    lines = error_lines(err)
    assert len(lines) == 1 and lines[0].startswith("tfbert: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# ---- parser, help and usage errors ---------------------------------------------------------
def subcommand_parsers():
    parser = cli.build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return parser, action.choices


def test_every_subcommand_has_complete_help(capsys):
    _, commands = subcommand_parsers()
    assert set(commands) == set(cli._command_names())
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
            key = next((k for k, (flags, _) in cli.OPTIONS.items()
                        if set(flags) & set(action.option_strings or [action.dest])), None)
            if key is None:
                continue
            flags, kwargs = cli.OPTIONS[key]
            assert tuple(action.option_strings or [action.dest]) == flags, (name, key)
            assert action.help.startswith(kwargs["help"].replace("%%", "%")), (name, key)
            seen.setdefault(key, []).append(name)
    assert seen, "no shared option is used by any subcommand"


def test_top_level_help_and_version(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for name in cli._command_names():
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
    assert cli._one_line(error) == "Could not download x==1 with pip (exit code 1): ... To get it by hand, run pip download."
    assert cli._one_line(ZeroDivisionError("division by zero")) == (
        "ZeroDivisionError: division by zero (run with --verbose for the traceback)")


def test_python_dash_m_tfbert_exit_codes():
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    ok = subprocess.run([sys.executable, "-m", "tfbert", "--version"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and ok.stdout.strip() == f"tfbert {tfbert.__version__}"
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
