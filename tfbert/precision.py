"""Which Keras dtype policy the hardware runs fastest and correctly: ``--policy auto``.

``choose_policy("auto")`` picks, with a one-line reason:
  - ``mixed_bfloat16`` on a TPU, on a GPU of compute capability >= 8.0 (bfloat16 tensor cores, no
    loss scaling needed) and on a CPU with AVX512_BF16 or AMX-BF16 (oneDNN runs bfloat16 matmuls
    natively there: about 1.6x the float32 matmul peak, 2x the pretraining speed on such a CPU);
  - ``mixed_float16`` on a GPU of compute capability 7.x (float16 tensor cores);
  - ``float32`` otherwise.
An explicit policy is checked against the hardware: ``mixed_float16`` without a GPU is refused
(a CPU has no float16 matmul units, so it would run emulated and slowly, with loss scaling for
nothing); ``mixed_bfloat16`` on a CPU without bfloat16 instructions runs, with a warning that it
is emulated.

Example:
>>> from tfbert.precision import Hardware, choose_policy
>>> choose_policy("auto", Hardware(cpu_flags=frozenset({"avx512_bf16"})))[0]
'mixed_bfloat16'
>>> choose_policy("auto", Hardware(cpu_flags=frozenset({"avx2"})))
('float32', 'auto: no TPU or GPU, and the CPU lacks AVX512_BF16 and AMX-BF16')
"""

import dataclasses

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclasses.dataclass(frozen=True)
class Hardware:
    """What the policy choice looks at: TPU cores, GPU compute capabilities, CPU flags."""

    tpus: int = 0
    gpu_capabilities: tuple = ()  # one (major, minor) per GPU
    cpu_flags: frozenset = frozenset()

    @classmethod
    def detect(cls):
        """The hardware this process sees (TensorFlow's devices; /proc/cpuinfo for the CPU flags)."""
        import tensorflow as tf

        capabilities = []
        for gpu in tf.config.list_physical_devices("GPU"):
            capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
            capabilities.append(tuple(capability) if capability else (0, 0))
        tpus = len(tf.config.list_logical_devices("TPU"))
        return cls(tpus=tpus, gpu_capabilities=tuple(capabilities), cpu_flags=read_cpu_flags())


def read_cpu_flags(path="/proc/cpuinfo"):
    """The CPU's feature flags (lower case) from ``/proc/cpuinfo``; empty where there is none (macOS, Windows)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def choose_policy(requested, hardware=None):
    """``(policy, reason)`` for ``requested`` ("auto" or a Keras policy name) on ``hardware``.

    Raises ValueError for an unknown name, or for a policy the hardware cannot run.
    """
    if requested != "auto" and requested not in POLICIES:
        raise ValueError(f"unknown dtype policy {requested!r}; expected 'auto' or one of {list(POLICIES)}")
    hardware = hardware or Hardware.detect()
    gpus = hardware.gpu_capabilities
    bf16_cpu = [f.upper().replace("AMX_BF16", "AMX-BF16") for f in BF16_CPU_FLAGS if f in hardware.cpu_flags]
    if requested == "auto":
        if hardware.tpus:
            return "mixed_bfloat16", f"auto: {hardware.tpus} TPU core(s), whose matrix units compute in bfloat16"
        if gpus:
            best = min(gpus)  # the slowest GPU decides under a multi-GPU strategy
            if best >= (8, 0):
                return "mixed_bfloat16", f"auto: GPU compute capability {best[0]}.{best[1]} has bfloat16 tensor cores"
            if best >= (7, 0):
                return "mixed_float16", f"auto: GPU compute capability {best[0]}.{best[1]} has float16 tensor cores"
            return "float32", f"auto: GPU compute capability {best[0]}.{best[1]} has no half-precision tensor cores"
        if bf16_cpu:
            return "mixed_bfloat16", f"auto: the CPU has {' and '.join(bf16_cpu)} (native bfloat16 matmuls)"
        return "float32", "auto: no TPU or GPU, and the CPU lacks AVX512_BF16 and AMX-BF16"
    if requested == "mixed_float16" and not gpus:
        raise ValueError(
            "--policy mixed_float16 needs a GPU (float16 tensor cores); this machine has none, and a CPU would "
            "emulate float16 slowly. Use --policy auto (picks mixed_bfloat16 where the CPU or TPU supports it) "
            "or float32.")
    if requested == "mixed_bfloat16" and not (hardware.tpus or gpus or bf16_cpu):
        return requested, ("as requested; warning: this CPU lacks AVX512_BF16 and AMX-BF16, so bfloat16 is "
                           "emulated and likely slower than float32")
    return requested, "as requested"
