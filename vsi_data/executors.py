"""Where per-scene work runs: in this process, in a local process pool, or as Ray tasks.

An executor maps one picklable function over a list of items and yields the results as they finish, in
any order. The pipeline's steps never know which executor runs them: every result is committed by the
worker itself (an atomic part file per scene) and the build is assembled afterwards in scene order, so
the output does not depend on the schedule.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "ray")


class ExecutorUnavailable(RuntimeError):
    """The executor cannot start (Ray not installed, cluster unreachable)."""


class Executor(Protocol):
    workers: int

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]: ...


class InProcess:
    """One worker: run each item here, in order (no start-up cost, easiest to debug)."""

    workers = 1

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)


class ProcessPool:
    """`workers` local processes. They are spawned, not forked: open3d and BLAS thread pools do not
    survive a fork, and a spawned worker imports only what the step needs. At most `2 × workers` items
    are in flight, so a build of thousands of scenes does not queue thousands of pickled jobs."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        pending_items = iter(items)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=context) as pool:
            running = set()
            try:
                for item in pending_items:
                    running.add(pool.submit(fn, item))
                    if len(running) >= 2 * self.workers:
                        done, running = wait(running, return_when=FIRST_COMPLETED)
                        yield from (future.result() for future in done)
                while running:
                    done, running = wait(running, return_when=FIRST_COMPLETED)
                    yield from (future.result() for future in done)
            finally:
                for future in running:
                    future.cancel()


class RayTasks:
    """One Ray task per item, on the cluster at `RAY_ADDRESS` or, without one, on a local cluster of
    `workers` CPUs started for this run. Workers must see the same output folder (a shared filesystem on
    a real cluster) and have vsi-data installed."""

    def __init__(self, workers: int) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ExecutorUnavailable("--executor ray needs Ray: pip install 'vsi-data[ray]'") from exc
        self.ray = ray
        self.workers = workers
        self.address = os.environ.get("RAY_ADDRESS")

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        ray = self.ray
        started_here = not ray.is_initialized()
        if started_here:
            try:
                if self.address:
                    ray.init(address=self.address, log_to_driver=False)
                else:
                    ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError) as exc:
                raise ExecutorUnavailable(f"cannot start or reach Ray ({self.address or 'local'}): {exc}") from exc
        try:
            task = ray.remote(num_cpus=1)(fn)
            pending_items = iter(items)
            running = []
            limit = 2 * max(self.workers, int(ray.cluster_resources().get("CPU", 1)))
            for item in pending_items:
                running.append(task.remote(item))
                if len(running) >= limit:
                    done, running = ray.wait(running, num_returns=1)
                    yield from ray.get(done)
            while running:
                done, running = ray.wait(running, num_returns=1)
                yield from ray.get(done)
        finally:
            if started_here:
                ray.shutdown()


def make_executor(kind: str, workers: int) -> Executor:
    if kind == "ray":
        return RayTasks(workers)
    if kind != "local":
        raise ExecutorUnavailable(f"unknown executor {kind!r}; expected one of {', '.join(EXECUTORS)}")
    return InProcess() if workers <= 1 else ProcessPool(workers)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
