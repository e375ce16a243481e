"""--policy auto: the choice per hardware, refusals, and what the training commands print and record."""

import json

import keras
import pytest

from tfbert import cli
from tfbert.cli.policy import apply_policy
from tfbert.precision import Hardware, choose_policy, read_cpu_flags
from tfbert.runs import open_run

CPU_BF16 = frozenset({"avx2", "avx512f", "avx512_bf16"})
CPU_AMX = frozenset({"avx2", "amx_bf16", "amx_tile"})
CPU_PLAIN = frozenset({"avx2", "fma"})


@pytest.mark.parametrize("hardware, policy, fragment", [
    (Hardware(tpus=8, cpu_flags=CPU_PLAIN), "mixed_bfloat16", "8 TPU core(s)"),
    (Hardware(gpu_capabilities=((9, 0),), cpu_flags=CPU_PLAIN), "mixed_bfloat16", "9.0 has bfloat16"),
    (Hardware(gpu_capabilities=((8, 0), (7, 5))), "mixed_float16", "7.5 has float16"),  # the slowest GPU decides
    (Hardware(gpu_capabilities=((6, 1),), cpu_flags=CPU_BF16), "float32", "6.1 has no half-precision"),
    (Hardware(cpu_flags=CPU_BF16, bf16_matmul_speedup=1.6), "mixed_bfloat16", "AVX512_BF16, and its bfloat16 "
                                                                             "matmuls ran at 1.60x"),
    (Hardware(cpu_flags=CPU_BF16, bf16_matmul_speedup=0.57), "float32", "without AMX, and its bfloat16 matmuls "
                                                                       "ran at 0.57x"),
    (Hardware(cpu_flags=CPU_BF16), "float32", "not measured"),
    (Hardware(cpu_flags=CPU_AMX), "mixed_bfloat16", "AMX-BF16"),
    (Hardware(cpu_flags=CPU_PLAIN), "float32", "lacks AVX512_BF16 and AMX-BF16"),
])
def test_auto_picks_the_fastest_policy_the_hardware_runs(hardware, policy, fragment):
    chosen, reason = choose_policy("auto", hardware)
    assert chosen == policy
    assert reason.startswith("auto: ") and fragment in reason


def test_float16_without_a_gpu_is_refused_and_bfloat16_on_a_plain_cpu_warns():
    with pytest.raises(ValueError, match="mixed_float16 needs a GPU.*Use --policy auto"):
        choose_policy("mixed_float16", Hardware(cpu_flags=CPU_BF16))
    assert choose_policy("mixed_float16", Hardware(gpu_capabilities=((7, 0),)))[0] == "mixed_float16"
    policy, reason = choose_policy("mixed_bfloat16", Hardware(cpu_flags=CPU_PLAIN))
    assert policy == "mixed_bfloat16" and "warning" in reason and "emulated" in reason
    assert choose_policy("float32", Hardware()) == ("float32", "as requested")
    with pytest.raises(ValueError, match="unknown dtype policy 'float64'"):
        choose_policy("float64", Hardware())


def test_detect_measures_bfloat16_matmuls_only_on_an_avx512_bf16_cpu_without_amx():
    from tfbert.precision import bf16_matmul_speedup

    hardware = Hardware.detect()
    measured = "avx512_bf16" in hardware.cpu_flags and "amx_bf16" not in hardware.cpu_flags and \
        not (hardware.tpus or hardware.gpu_capabilities)
    assert (hardware.bf16_matmul_speedup is not None) == measured
    speedup = bf16_matmul_speedup()  # measured once per process: the same answer every time
    assert speedup > 0 and bf16_matmul_speedup() == speedup
    if measured:
        assert hardware.bf16_matmul_speedup == speedup


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16 amx_bf16\n\nprocessor\t: 1\nflags\t: fpu\n")
    assert read_cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512_bf16", "amx_bf16"}
    assert read_cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_apply_policy_sets_prints_and_records_the_choice(tmp_path, capsys):
    run = open_run(str(tmp_path / "run"), "finetune", {"policy": "auto"})
    try:
        policy = apply_policy(run, {"policy": "auto"})
        assert keras.config.dtype_policy().name == policy
    finally:
        keras.config.set_dtype_policy("float32")
    expected, reason = choose_policy("auto")
    assert policy == expected
    assert f"dtype policy {policy} ({reason})" in capsys.readouterr().out
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["precision"] == {"requested": "auto", "policy": policy, "reason": reason}


@pytest.mark.skipif(bool(Hardware.detect().gpu_capabilities), reason="this machine has a GPU: float16 runs here")
@pytest.mark.parametrize("command", ["finetune", "pretrain"])
def test_cli_refuses_float16_on_a_cpu_before_writing_anything(tmp_path, capsys, command):
    data = ["--data", "rotten_tomatoes"] if command == "finetune" else ["--corpus", str(tmp_path / "none.txt")]
    code = cli.main([command, *data, "-o", str(tmp_path / "run"), "--policy", "mixed_float16"])
    err = capsys.readouterr().err
    assert code == 2
    assert "tfbert: error: --policy mixed_float16 needs a GPU" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_pretrain_with_policy_auto_trains_and_records_the_choice(tmp_path, capsys):
    words = "the cat sat on a mat and dog ran to park where birds sing".split()
    docs = [". ".join(" ".join(words[(d + s + i) % len(words)] for i in range(6)) for s in range(4)) + "."
            for d in range(12)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(docs) + "\n")
    run_dir = tmp_path / "pt"
    try:
        code = cli.main(["pretrain", "--corpus", str(corpus), "--config", "tiny", "--vocab-size", "60",
                         "-o", str(run_dir), "--steps", "2", "--batch-size", "4", "--max-seq-len", "24",
                         "--max-predictions", "3", "--policy", "auto"])
    finally:
        keras.config.set_dtype_policy("float32")
    out, err = capsys.readouterr()
    assert code == 0, err
    policy, reason = choose_policy("auto")
    assert f"dtype policy {policy} ({reason})" in out
    record = json.loads((run_dir / "run.json").read_text())
    assert record["settings"]["policy"] == "auto"
    assert record["precision"] == {"requested": "auto", "policy": policy, "reason": reason}
    assert (run_dir / "model.keras").exists()
