"""Where runs execute: in this process, in a local process pool, or as Ray tasks on a cluster.

Each executor yields ``(run, record)`` as runs finish (``record`` is the exception for a run that
failed), so the sweep writes every result the moment it exists. Parallel runs (a pool of two or more
workers, or Ray tasks) each use one CPU thread, set in the environment before the worker imports
anything, so they do not fight over cores and the pool and Ray compute bit-identical numbers for the
same seeds. With ``workers == 1`` runs execute in this process with all its threads.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from droplab import _checks
from droplab.experiments.sweep import Run, execute

EXECUTORS = ("local", "ray")
RAY_MISSING = ("`--executor ray` needs Ray, which is not installed here: "
               "pip install 'droplab[ray]' (or pip install ray)")


class ExecutorUnavailable(RuntimeError):
    """The executor asked for cannot run here (Ray is not installed)."""


_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def limit_threads(n: int, *, this_process: bool = True) -> None:
    """Cap the CPU threads of the frameworks: through the environment (read by libraries when they
    load, so by child processes) and, with ``this_process``, torch's already-loaded runtime."""
    for var in _THREAD_VARS:
        os.environ[var] = str(n)
    flags = os.environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" not in flags:
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false"
                                   f" intra_op_parallelism_threads={n}").strip()
    if this_process and "torch" in sys.modules:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
        with contextlib.suppress(RuntimeError):  # only settable before the first parallel work
            torch.set_num_interop_threads(n)


@contextlib.contextmanager
def _thread_env(n: int) -> Iterator[None]:
    saved = {var: os.environ.get(var) for var in (*_THREAD_VARS, "XLA_FLAGS")}
    try:
        limit_threads(n, this_process=False)
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _init_worker(threads: int) -> None:
    # Ctrl-C reaches the whole process group; only the parent handles it (and stops the workers).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(threads)
    _exit_with_parent(os.getppid())


def _exit_with_parent(parent: int) -> None:
    """End this worker when the sweep that started it is gone (killed with SIGKILL, say): its run
    in flight could no longer be saved, and a pool worker left alone waits for work forever."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="droplab-parent-watch", daemon=True).start()


def execute_all(runs: Sequence[Run], *, executor: str = "local", workers: int = 2,
                address: str | None = None) -> Iterator[tuple[Run, Any]]:
    """Execute ``runs``, yielding ``(run, record_or_exception)`` in completion order."""
    _checks.one_of(executor, "executor", EXECUTORS)
    workers = _checks.positive_int(workers, "workers")
    if executor == "ray":
        return _ray(runs, workers, address)
    if address is not None:
        raise ValueError(_checks.invalid("address", "no address with the local executor", address))
    if workers == 1:
        return _inline(runs, 0)
    return _pool(runs, workers)


def _inline(runs: Sequence[Run], threads: int) -> Iterator[tuple[Run, Any]]:
    for run in runs:
        try:
            record = execute(run, threads)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # noqa: BLE001 - a failed run is reported, the sweep goes on
            yield run, e
            continue
        yield run, record


def _pool(runs: Sequence[Run], workers: int) -> Iterator[tuple[Run, Any]]:
    threads = 1
    pool = cf.ProcessPoolExecutor(max_workers=workers,
                                  mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_init_worker, initargs=(threads,))
    # Workers are spawned on submit and inherit this environment: BLAS and OpenMP read it when
    # they load, before any initializer could set it.
    with _thread_env(threads):
        futures = {pool.submit(execute, run, threads): run for run in runs}
    try:
        for future in cf.as_completed(futures):
            run = futures[future]
            error = future.exception()
            yield run, (error if error is not None else future.result())
    finally:
        # On Ctrl-C or an early exit, stop the workers now rather than after their current run.
        for f in futures:
            f.cancel()
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            if p.is_alive():
                p.terminate()
        for p in processes:
            p.join(timeout=10)


def _ray(runs: Sequence[Run], workers: int, address: str | None) -> Iterator[tuple[Run, Any]]:
    try:
        import ray
    except ImportError:
        raise ExecutorUnavailable(RAY_MISSING) from None
    started_here = not ray.is_initialized()
    if started_here:
        if address is None:
            # Ray's workers start with OMP_NUM_THREADS=1 for one-CPU tasks; the task sets torch's.
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            # Ship droplab's code to the cluster's workers; frameworks must be installed there.
            package = str(Path(__file__).resolve().parents[1])
            ray.init(address=address, log_to_driver=False,
                     runtime_env={"py_modules": [package]})
    threads = 1
    task = ray.remote(num_cpus=1, max_retries=0)(execute)
    refs = {task.remote(run, threads): run for run in runs}
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                run = refs.pop(ref)
                try:
                    yield run, ray.get(ref)
                except ray.exceptions.RayTaskError as e:
                    yield run, e.as_instanceof_cause()
    finally:
        for ref in refs:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()
