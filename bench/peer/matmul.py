"""The peer figure for GspoSharp's matmul ceiling: PyTorch doing the same float32 product.

Measures exactly what bench/GspoSharp.Bench (MatmulBench, Measure.Sustained) measures: square
n x n products, 2*n^3 FLOPs each, a new output per call; calls timed in windows of at least 0.4 s
(and 3 calls); warm-up until the window rate has not risen by more than 2% over its best for 3
windows in a row (at most 12 s); then the best of 5 windows. Prints one JSON line.

    python3 bench/peer/matmul.py --threads 2

The thread count is fixed before torch is imported (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS) and
again with torch.set_num_threads, so that the BLAS library, whichever it is, uses that many.
OpenBLAS too old to know the CPU would fall back to generic kernels; the script then runs itself
again with OPENBLAS_CORETYPE set to the kernels the CPU supports (see below). Install steps:
bench/README.md.
"""
import argparse
import ctypes
import json
import os
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, required=True)
parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
args = parser.parse_args()

for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[name] = str(args.threads)

import torch  # noqa: E402  (after the thread variables, which the libraries read when they load)

torch.set_num_threads(args.threads)


def window(call, seconds=0.4):
    start = time.perf_counter()
    calls = 0
    while True:
        call()
        calls += 1
        elapsed = time.perf_counter() - start
        if calls >= 3 and elapsed >= seconds:
            return calls / elapsed, calls


def sustained(call, windows=5, max_warmup_seconds=12.0):
    begin = time.perf_counter()
    call()
    first = 1 / (time.perf_counter() - begin)
    warmup_calls, best, stale = 1, 0.0, 0
    while stale < 3 and time.perf_counter() - begin < max_warmup_seconds:
        rate, calls = window(call)
        warmup_calls += calls
        stale = 0 if rate > best * 1.02 else stale + 1
        best = max(best, rate)
    warmup_seconds = time.perf_counter() - begin
    rate = max(window(call)[0] for _ in range(windows))
    return rate, first, warmup_calls, warmup_seconds


def mapped_libraries():
    """Paths of the shared libraries mapped into this process (Linux)."""
    try:
        with open("/proc/self/maps") as maps:
            return {line.split()[-1] for line in maps if "/" in line and ".so" in line}
    except OSError:
        return set()


def blas_libraries():
    """The BLAS libraries loaded, e.g. libopenblasp-r0.3.21.so."""
    keys = ("openblas", "libblas", "mkl", "blis", "atlas")
    return sorted({os.path.basename(p) for p in mapped_libraries() if any(k in os.path.basename(p).lower() for k in keys)})


def openblas_core():
    """The CPU kernel set OpenBLAS chose (openblas_get_corename), or None without OpenBLAS."""
    for path in sorted(p for p in mapped_libraries() if "openblas" in os.path.basename(p).lower()):
        try:
            library = ctypes.CDLL(path)
            library.openblas_get_corename.restype = ctypes.c_char_p
            return library.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return None


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as info:
            return next((set(line.split(":", 1)[1].split()) for line in info if line.startswith("flags")), set())
    except OSError:
        return set()


# OpenBLAS picks its kernels from the CPU model; a CPU newer than the OpenBLAS release (Debian 12
# ships 0.3.21) gets the generic "Prescott" kernels, several times slower than the CPU allows,
# which would make the peer figure meaningless. Then this script runs itself again with the kernel
# set the CPU's instructions support, unless the user chose one (OPENBLAS_CORETYPE).
torch.matmul(torch.ones(8, 8), torch.ones(8, 8))
core = openblas_core()
forced = os.environ.get("GSPO_PEER_FORCED_CORE")
if core is not None and core.lower() == "prescott" and "OPENBLAS_CORETYPE" not in os.environ:
    flags = cpu_flags()
    wanted = "SkylakeX" if "avx512f" in flags else "Haswell" if {"avx2", "fma"} <= flags else None
    if wanted is not None:
        os.environ["OPENBLAS_CORETYPE"] = wanted
        os.environ["GSPO_PEER_FORCED_CORE"] = wanted
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable] + sys.argv)


results = {}
with torch.no_grad():
    for n in args.sizes:
        a = torch.randn(n, n)
        b = torch.randn(n, n)
        rate, first, warmup_calls, warmup_seconds = sustained(lambda: torch.matmul(a, b))
        flops = 2.0 * n ** 3
        results[str(n)] = {
            "gflops": flops * rate / 1e9,
            "first_call_gflops": flops * first / 1e9,
            "warmup_calls": warmup_calls,
            "warmup_seconds": warmup_seconds,
        }

print(json.dumps({
    "torch": torch.__version__,
    "python": sys.version.split()[0],
    "blas": blas_libraries(),
    "openblas_core": core,
    "openblas_core_chosen_here": forced is not None,
    "threads": torch.get_num_threads(),
    "sizes": results,
    "best_gflops": max(r["gflops"] for r in results.values()),
}))
