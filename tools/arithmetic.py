"""CPU arithmetic variants: the same code under the floating-point kernels of other CPUs.

A printed number must not depend on the reader's CPU.  What differs between CPUs is
which kernels numpy and OpenBLAS pick at run time: the vector width (128, 256 or 512
bits: how many partial sums a dot product or a reduction keeps, and so the order of
the additions) and whether multiply and add are fused (FMA: one rounding instead of
two).  Both libraries let an environment variable force older kernels, so one x86
machine can compute as several kinds of CPU:

* ``OPENBLAS_CORETYPE`` picks OpenBLAS's kernels (numpy's and scipy's OpenBLAS alike);
* ``NPY_DISABLE_CPU_FEATURES`` switches off numpy's dispatched SIMD loops (numpy 2.4
  names the groups ``X86_V3`` = AVX2 + FMA and ``X86_V4`` = AVX-512).

A machine cannot emulate a wider vector unit than it has, so a variant whose CPU
features are missing here is skipped, with a printed line saying so.  ``native`` is
whatever this CPU does by itself (on an AVX-512 machine: 512-bit kernels with FMA).
"""

import os
import platform

# name -> (what it stands for, environment, numpy CPU features it needs)
VARIANTS = {
    "avx2-fma": (
        "AVX2 with FMA, 256-bit (Intel Haswell and later, AMD Zen): OpenBLAS Haswell kernels",
        {"OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": "X86_V4"},
        ("AVX2", "FMA3"),
    ),
    "avx-nofma": (
        "AVX without FMA, 256-bit (Intel Sandy Bridge, Ivy Bridge): OpenBLAS Sandybridge kernels",
        {"OPENBLAS_CORETYPE": "Sandybridge", "NPY_DISABLE_CPU_FEATURES": "X86_V3,X86_V4"},
        ("AVX",),
    ),
    "sse-nofma": (
        "SSE4.2 only, 128-bit, no FMA (Intel Nehalem; the vector width of ARM NEON): OpenBLAS Nehalem kernels",
        {"OPENBLAS_CORETYPE": "Nehalem", "NPY_DISABLE_CPU_FEATURES": "X86_V3,X86_V4"},
        ("SSE42",),
    ),
}


def cpu_features():
    """numpy's table of the CPU features this machine has (name -> bool)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__
    return dict(__cpu_features__)


def native_description():
    """A short description of what numpy finds on this CPU."""
    features = cpu_features()
    if features.get("AVX512F"):
        width = "AVX-512"
    elif features.get("AVX2"):
        width = "AVX2"
    elif features.get("AVX"):
        width = "AVX"
    elif features.get("ASIMD") or features.get("NEON"):
        width = "NEON"
    else:
        width = "SSE"
    fma = "FMA" if features.get("FMA3") or features.get("ASIMD") else "no FMA"
    return f"{platform.machine()}, {width}, {fma}"


# numpy's feature groups and what a CPU needs for them (numpy 2.4's dispatch groups)
GROUPS = {"X86_V3": ("AVX2", "FMA3"), "X86_V4": ("AVX512F", "AVX512CD", "AVX512BW", "AVX512DQ", "AVX512VL")}


def openblas_cores():
    """The kernel set each loaded OpenBLAS picked (e.g. {'Haswell'}), from threadpoolctl."""
    import numpy  # noqa: F401  (loads numpy's OpenBLAS)
    import scipy.linalg  # noqa: F401  (loads scipy's)
    from threadpoolctl import threadpool_info

    return {info.get("architecture") for info in threadpool_info() if info.get("internal_api") == "openblas"}


def plan(names=None):
    """The variants to run here: a list of (name, description, env, reason-to-skip or None).

    A variant is skipped when this CPU lacks its features, or when it would compute
    exactly as the native run does (OpenBLAS already picks those kernels here and the
    numpy groups it switches off are absent anyway), which would only repeat that run.
    """
    names = list(VARIANTS) if names is None else names
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown arithmetic variant(s) {unknown}; known: {list(VARIANTS)}")
    x86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")
    features = cpu_features() if x86 else {}
    rows = []
    for name in names:
        description, env, needs = VARIANTS[name]
        if not x86:
            reason = f"cannot be emulated on {platform.machine()} (the kernels are x86 only)"
        else:
            missing = [f for f in needs if not features.get(f)]
            reason = f"this CPU lacks {', '.join(missing)}" if missing else None
            disabled = env.get("NPY_DISABLE_CPU_FEATURES", "").split(",")
            numpy_same = not any(all(features.get(f) for f in GROUPS.get(g, ("?",))) for g in disabled if g)
            if reason is None and numpy_same and openblas_cores() == {env.get("OPENBLAS_CORETYPE")}:
                reason = (f"the same arithmetic as native here (OpenBLAS picks {env['OPENBLAS_CORETYPE']} "
                          f"kernels and numpy has no {'/'.join(g for g in disabled if g)} loops to switch off)")
        rows.append((name, description, env, reason))
    return rows


def environment(env):
    """os.environ with one BLAS thread and the variant's settings (inherited by kernels)."""
    merged = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        merged.setdefault(name, "1")
    merged.update(env)
    return merged


if __name__ == "__main__":
    import json
    import sys

    if sys.argv[1:] == ["--plan"]:
        print(json.dumps({"native": native_description(), "variants": plan()}))
