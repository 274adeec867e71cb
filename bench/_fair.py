"""Equal footing for a bench: both sides on the same CPU set with the same thread budget.

    from _fair import pin                  # before numpy / torch / sklearn are imported
    cpus = pin(1)                          # this process and what it forks: one CPU, one thread per pool

`pin` sets the CPU affinity (inherited by forked and spawned children, e.g. a plot renderer) and the
thread-count variables of OpenMP / OpenBLAS / MKL / numexpr; call `torch_threads()` after importing
torch. `BENCH_CPUS=2,3` picks the CPUs (default: the last `n` this process may use).
"""

from __future__ import annotations

import os

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS")


def pin(n: int = 1) -> list[int]:
    """Restrict this process to `n` CPUs and every thread pool to `n` threads; return the CPUs."""
    allowed = sorted(os.sched_getaffinity(0))
    wanted = os.environ.get("BENCH_CPUS")
    cpus = [int(c) for c in wanted.split(",")] if wanted else allowed[-n:]
    os.sched_setaffinity(0, cpus)
    for var in THREAD_VARS:
        os.environ[var] = str(len(cpus))
    return cpus


def torch_threads(n: int) -> None:
    """One budget for torch too: intra-op and inter-op pools (call before torch runs parallel work)."""
    import torch

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:  # already set, or parallel work already ran
        pass
