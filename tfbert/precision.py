"""Which Keras dtype policy the hardware runs fastest and correctly: ``--policy auto``.

``choose_policy("auto")`` picks, with a one-line reason:
  - ``mixed_bfloat16`` on a TPU, on a GPU of compute capability >= 8.0 (bfloat16 tensor cores, no
    loss scaling needed), on a CPU with AMX-BF16 (matrix units), and on a CPU with AVX512_BF16 but
    no AMX only where its bfloat16 matmuls are measured faster: such CPUs differ (one of the
    developers' machines ran bfloat16 matmuls at 0.57x its float32 peak, so mixed_bfloat16 steps
    took 1.4-1.6x as long), so :meth:`Hardware.detect` times a 1024^3 ``tf.matmul`` in both
    dtypes once per process (a fraction of a second) and bfloat16 must be >= 1.2x as fast;
  - ``mixed_float16`` on a GPU of compute capability 7.x (float16 tensor cores);
  - ``float32`` otherwise.
An explicit policy is checked against the hardware: ``mixed_float16`` without a GPU is refused
(a CPU has no float16 matmul units, so it would run emulated and slowly, with loss scaling for
nothing); ``mixed_bfloat16`` on a CPU without bfloat16 instructions runs, with a warning that it
is emulated.

Example:
>>> from tfbert.precision import Hardware, choose_policy
>>> choose_policy("auto", Hardware(cpu_flags=frozenset({"avx512_bf16"}), bf16_matmul_speedup=1.6))[0]
'mixed_bfloat16'
>>> choose_policy("auto", Hardware(cpu_flags=frozenset({"avx512_bf16"}), bf16_matmul_speedup=0.57))[1]
'auto: the CPU has AVX512_BF16 without AMX, and its bfloat16 matmuls ran at 0.57x float32 here'
>>> choose_policy("auto", Hardware(cpu_flags=frozenset({"avx2"})))
('float32', 'auto: no TPU or GPU, and the CPU lacks AVX512_BF16 and AMX-BF16')
"""

import dataclasses
import functools
import time

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
#: how much faster than float32 a CPU's bfloat16 matmuls must be for ``auto`` to pick mixed_bfloat16
#: (the rest of a mixed_bfloat16 step, LayerNorm and softmax in float32 and the casts, gains nothing)
BF16_MIN_SPEEDUP = 1.2


@dataclasses.dataclass(frozen=True)
class Hardware:
    """What the policy choice looks at: TPU cores, GPU compute capabilities, CPU flags, and for a CPU
    with AVX512_BF16 but no AMX, its bfloat16 matmul speed over float32 (measured by ``detect``)."""

    tpus: int = 0
    gpu_capabilities: tuple = ()  # one (major, minor) per GPU
    cpu_flags: frozenset = frozenset()
    bf16_matmul_speedup: float = None

    @classmethod
    def detect(cls):
        """The hardware this process sees (TensorFlow's devices; /proc/cpuinfo for the CPU flags)."""
        import tensorflow as tf

        capabilities = []
        for gpu in tf.config.list_physical_devices("GPU"):
            capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
            capabilities.append(tuple(capability) if capability else (0, 0))
        tpus = len(tf.config.list_logical_devices("TPU"))
        flags = read_cpu_flags()
        speedup = None
        if not (tpus or capabilities) and "avx512_bf16" in flags and "amx_bf16" not in flags:
            speedup = bf16_matmul_speedup()
        return cls(tpus=tpus, gpu_capabilities=tuple(capabilities), cpu_flags=flags, bf16_matmul_speedup=speedup)


@functools.lru_cache(maxsize=None)
def bf16_matmul_speedup(size=1024, repeats=3):
    """This CPU's bfloat16 ``tf.matmul`` speed over float32 (``size``^3, best of ``repeats``), once per process."""
    import tensorflow as tf

    best = {}
    with tf.device("/CPU:0"):
        for dtype in (tf.float32, tf.bfloat16):
            a = tf.cast(tf.random.stateless_normal([size, size], seed=[0, 1]), dtype)
            tf.matmul(a, a).numpy()  # warm-up: oneDNN picks and caches its kernel
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                tf.matmul(a, a).numpy()
                times.append(time.perf_counter() - start)
            best[dtype] = min(times)
    return round(best[tf.float32] / best[tf.bfloat16], 2)


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
        if "amx_bf16" in hardware.cpu_flags:
            return "mixed_bfloat16", "auto: the CPU has AMX-BF16 (bfloat16 matrix units)"
        if bf16_cpu:
            speedup = hardware.bf16_matmul_speedup
            if speedup is None:
                return "float32", "auto: the CPU has AVX512_BF16 without AMX, and its bfloat16 speed was not measured"
            if speedup >= BF16_MIN_SPEEDUP:
                return "mixed_bfloat16", (f"auto: the CPU has AVX512_BF16, and its bfloat16 matmuls ran at "
                                          f"{speedup:.2f}x float32 here")
            return "float32", (f"auto: the CPU has AVX512_BF16 without AMX, and its bfloat16 matmuls ran at "
                               f"{speedup:.2f}x float32 here")
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
