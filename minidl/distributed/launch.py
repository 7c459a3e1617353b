"""Starting ``mpiexec`` from Python: the one helper that tests, lessons, benchmarks and the CLI use.

``mpiexec`` is looked for beside the running Python first (the ``mpich`` wheel installs it
into the virtual environment's ``bin``), then on ``PATH``. Every run has a timeout twice
over: MPI's own (``MPIEXEC_TIMEOUT``, which makes MPICH's hydra kill all ranks) and the
subprocess's, a little longer, so a hung job can never hang the caller.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


def find_mpiexec() -> str | None:
    """Path of ``mpiexec``: beside ``sys.executable`` first, then on ``PATH``; None if absent."""
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("mpiexec")


def mpi_ready() -> tuple[bool, str]:
    """(True, "") when multi-process runs can start, else (False, the reason)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False, "mpi4py is not installed (pip install 'minidl[distributed]')"
    if find_mpiexec() is None:
        return False, "no mpiexec beside the Python interpreter or on PATH (pip install mpich)"
    return True, ""


@functools.cache
def _is_open_mpi(mpiexec: str) -> bool:
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "Open MPI" in out.stdout + out.stderr


def mpiexec_command(n: int, argv: Sequence[str]) -> list[str]:
    """``[mpiexec, -n, N, ...argv]``, with what Open MPI needs on a small machine or as root."""
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise RuntimeError(mpi_ready()[1])
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n (the number of processes) must be a positive int (got {n!r})")
    extra: list[str] = []
    if _is_open_mpi(mpiexec):  # MPICH's hydra needs neither
        extra = ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    return [mpiexec, *extra, "-n", str(n), *argv]


def mpiexec_env(timeout: float | None = None, blas_threads: int | None = 1,
                extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for the ranks: minidl importable, BLAS threads per rank, MPI's timeout.

    One BLAS thread per rank by default: N ranks each running as many BLAS threads as there
    are cores would fight over them.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH", "")) if p)
    if blas_threads is not None:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            env[name] = str(blas_threads)
    if timeout is not None:
        env["MPIEXEC_TIMEOUT"] = str(max(1, int(timeout)))  # hydra kills every rank after this
    if extra:
        env.update(extra)
    return env


def run_mpiexec(n: int, argv: Sequence[str], timeout: float = 120, blas_threads: int | None = 1,
                env: Mapping[str, str] | None = None, python: bool = True) -> subprocess.CompletedProcess:
    """Run ``mpiexec -n N python argv...`` (or ``argv`` itself with ``python=False``), capturing output.

    Raises ``subprocess.TimeoutExpired`` only if MPI's own timeout failed to end the job.
    """
    args = [sys.executable, *argv] if python else list(argv)
    return subprocess.run(mpiexec_command(n, args), capture_output=True, text=True,
                          env=mpiexec_env(timeout, blas_threads, env), timeout=timeout + 15)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m minidl.distributed.launch -n 2 script.py [args]``: mpiexec with minidl's settings."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m minidl.distributed.launch",
                                     description="Run a Python script on N processes with mpiexec.")
    parser.add_argument("-n", type=int, default=2, help="number of processes (default 2)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds before MPI kills the job")
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads per process (default 1)")
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    ok, why = mpi_ready()
    if not ok:
        print(f"minidl.distributed.launch: {why}", file=sys.stderr)
        return 2
    command = mpiexec_command(args.n, [sys.executable, args.script, *args.args])
    return subprocess.call(command, env=mpiexec_env(args.timeout, args.blas_threads))


if __name__ == "__main__":
    sys.exit(main())
