"""Where per-scene work runs: in this process, in local worker processes, or as Ray tasks.

An executor maps one picklable function over a list of items and yields `(item, result)` as each finishes,
in any order. The pipeline's steps never know which executor runs them: every result is committed by the
worker itself (an atomic part file per scene) and the build is assembled afterwards in scene order, so the
output does not depend on the schedule.

One item must never take the build down with it. On the local pool and on Ray, an item whose worker dies
(a segfault, the kernel's out-of-memory killer, `os._exit`) is tried once more on a fresh worker, and an
item that runs past the time limit is stopped; either way the executor yields a `Lost` for it and goes on.
The local pool keeps one item per worker process, each with its own pipe, so a death is always pinned on
the item that caused it (a shared task queue, as in `concurrent.futures` or pebble, breaks the whole pool
or cannot tell which task a dead worker held).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")
TRIES = 2  # a worker death is retried once: a lost node or a momentary memory squeeze is not the item's fault
GIB = 2**30


class ExecutorUnavailable(RuntimeError):
    """The executor cannot start (Ray not installed, cluster unreachable, workers of another version)."""


@dataclass(frozen=True)
class Lost:
    """No result for an item: its worker died (on every try) or it ran past the time limit and was stopped."""

    reason: str


@dataclass(frozen=True)
class Limits:
    """What one item may use. `seconds`: wall-clock time (None: no limit), counted from when a local worker
    begins the item (after its imports) or, on Ray, from submission. `memory_gib`: Ray's scheduling request
    per task (a node runs only as many tasks as fit)."""

    seconds: float | None = 3600.0
    memory_gib: float = 2.0


class Executor:
    """Use as a context manager (Ray connects and checks its workers on entry), then `map_unordered`."""

    workers: int

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R | Lost]]:
        raise NotImplementedError


class InProcess(Executor):
    """Run each item here, in order: no start-up cost and easiest to debug, but a crash ends the run and
    there is no time limit (nothing can stop a native call from the same process)."""

    workers = 0

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R | Lost]]:
        for item in items:
            yield item, fn(item)


# --- local worker processes ----------------------------------------------------------------------------

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    """A worker must not outlive the build that started it (it would hold ~400 MB and the caller's pipes).
    Linux kills it when the parent goes (prctl PDEATHSIG, even mid native call); elsewhere a thread checks."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before the request was in place
            os._exit(1)
        return

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _worker_main(connection: Connection, parent_pid: int) -> None:
    """A pool worker: one item at a time from its own pipe, until told to stop or the pipe closes."""
    _die_with_parent(parent_pid)
    # Ctrl-C is the parent's to handle: it stops the workers itself, so a half-done item never commits.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # N workers × N library threads on N cores only fight over the caches: one thread each, set before
    # numpy or open3d load.
    for variable in _THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    while True:
        try:
            message = connection.recv()  # unpickling imports what `fn` needs: not yet the item's time
        except EOFError:
            return
        except Exception as exc:  # `fn` or the item cannot be unpickled here
            _reply(connection, "error", exc)
            continue
        if message is None:
            return
        fn, item = message
        connection.send(("started", None))
        try:
            result = fn(item)
        except Exception as exc:  # a bug in fn: re-raised in the parent
            _reply(connection, "error", exc)
            continue
        _reply(connection, "ok", result)


def _reply(connection: Connection, kind: str, value: Any) -> None:
    if kind == "error":
        value.add_note(f"in worker process {os.getpid()}:\n{traceback.format_exc()}")
    try:
        connection.send((kind, value))
    except Exception as exc:  # an unpicklable result or exception
        connection.send(("error", RuntimeError(f"cannot send the result back: {type(exc).__name__}: {exc}")))


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "its worker process stopped answering"
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        why = {signal.SIGSEGV: " (a segmentation fault)", signal.SIGKILL: " (as the out-of-memory killer does)"}
        return f"its worker process was killed by {name}{why.get(signal.Signals(-exitcode), '')}"
    return f"its worker process exited with status {exitcode}"


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    connection: Connection
    task: int | None = None  # index of the item it is working on
    started: float | None = None  # when it began the item, after the imports its unpickling needed

    def give(self, fn: Callable, items: Sequence, task: int) -> None:
        self.task, self.started = task, None
        with contextlib.suppress(OSError):  # it died already: its sentinel says so on the next wait
            self.connection.send((fn, items[task]))

    def stop(self, kill: bool) -> None:
        if not kill:
            with contextlib.suppress(OSError):
                self.connection.send(None)
            self.process.join(timeout=5)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
        self.connection.close()


class ProcessPool(Executor):
    """`workers` local processes, each fed one item at a time through its own pipe. They are spawned, not
    forked: open3d and BLAS thread pools do not survive a fork, and a spawned worker imports only what the
    step needs. A worker that dies is replaced; one past the time limit is killed (SIGKILL: an item that
    hangs in native code with signals blocked still stops)."""

    def __init__(self, workers: int, limits: Limits = Limits()) -> None:
        self.workers = workers
        self.limits = limits

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R | Lost]]:
        context = multiprocessing.get_context("spawn")
        queue = deque(range(len(items)))
        tries: Counter[int] = Counter()
        workers: list[_Worker] = []
        finished = False
        try:
            while queue or any(w.task is not None for w in workers):
                for worker in workers:
                    if worker.task is None and queue:
                        worker.give(fn, items, queue.popleft())
                while queue and len(workers) < self.workers:
                    workers.append(self._start(context))
                    workers[-1].give(fn, items, queue.popleft())
                busy = [w for w in workers if w.task is not None]
                wait([w.connection for w in busy] + [w.process.sentinel for w in busy], self._until_deadline(busy))
                for worker in busy:
                    outcome = self._check(worker)
                    if outcome is None:
                        continue
                    task, kind, value = outcome
                    if kind == "ok":
                        yield items[task], value
                        continue
                    if kind == "error":
                        raise value
                    workers.remove(worker)
                    worker.stop(kill=True)
                    if kind == "died":
                        tries[task] += 1
                        if tries[task] < TRIES:
                            log.warning("%s: %s; trying it once more", items[task], value)
                            queue.append(task)
                            continue
                        value = f"{value}, on each of {TRIES} tries"
                    yield items[task], Lost(value)
            finished = True
        finally:
            for worker in workers:
                worker.stop(kill=not finished)

    def _start(self, context: Any) -> _Worker:
        parent_end, child_end = context.Pipe(duplex=True)
        process = context.Process(target=_worker_main, args=(child_end, os.getpid()), daemon=True)
        process.start()
        child_end.close()
        return _Worker(process, parent_end)

    def _until_deadline(self, busy: list[_Worker]) -> float | None:
        started = [w.started for w in busy if w.started is not None]
        if self.limits.seconds is None or not started:
            return None
        return max(0.0, min(started) + self.limits.seconds - time.monotonic())

    def _check(self, worker: _Worker) -> tuple[int, str, Any] | None:
        """(task, "ok" | "error" | "died" | "timed out", value) once the worker's item is over, else None."""
        task = worker.task
        while worker.connection.poll():
            try:
                kind, value = worker.connection.recv()
            except (EOFError, OSError):
                worker.process.join(timeout=5)
                return task, "died", _describe_exit(worker.process.exitcode)
            if kind == "started":  # the item's clock starts now, after the worker's imports
                worker.started = time.monotonic()
                continue
            worker.task = None
            return task, kind, value
        if worker.process.exitcode is not None:
            return task, "died", _describe_exit(worker.process.exitcode)
        limit = self.limits.seconds
        if limit is not None and worker.started is not None and time.monotonic() - worker.started > limit:
            return task, "timed out", f"no result after {limit:g} s (the time limit); its worker was stopped"
        return None


# --- Ray -----------------------------------------------------------------------------------------------


def _run(fn: Callable, *args: Any) -> Any:
    """The one remote function: Ray's decorator wants a plain function, and `fn` may be any callable."""
    return fn(*args)


def version_mismatch(driver: dict[str, str], nodes: dict[str, dict[str, str]]) -> str | None:
    """One line naming the first node whose versions differ from the driver's, and how; None if all agree."""
    for node, versions in nodes.items():
        differ = [
            f"{key} {versions.get(key, 'missing')} (driver: {driver.get(key, 'missing')})"
            for key in sorted(set(driver) | set(versions))
            if driver.get(key) != versions.get(key)
        ]
        if differ:
            others = f" ({len(nodes) - 1} other nodes checked)" if len(nodes) > 1 else ""
            return (
                f"Ray node {node} runs {', '.join(differ)}{others}; install the same versions on every node "
                "so that every scene is built by the same code"
            )
    return None


class RayTasks(Executor):
    """One Ray task per item, on the cluster at `address` (or `RAY_ADDRESS`) or, without one, on a local
    cluster of `workers` CPUs started for this run. Each task asks for one CPU and `limits.memory_gib` of
    memory; the driver keeps only as many tasks in flight as the cluster has room for, so a task starts about
    when it is submitted, and stops one past the time limit (`ray.cancel(force=True)` ends its worker).
    Workers must see the same output folder (a shared filesystem on a real cluster) and run the same code:
    `environment` is called on the driver and on every node, and any difference refuses the run."""

    def __init__(
        self,
        workers: int,
        limits: Limits = Limits(),
        address: str | None = None,
        environment: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ExecutorUnavailable("--executor ray needs Ray: pip install 'vsi-data[ray]'") from exc
        self.ray = ray
        self.workers = workers
        self.limits = limits
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        if not self.address and workers < 1:
            raise ExecutorUnavailable(
                "--executor ray without a cluster address starts a local one: give it --workers 1 or more"
            )
        self.environment = environment
        self.started_here = False

    def __enter__(self) -> RayTasks:
        ray = self.ray
        if not ray.is_initialized():
            _check_reachable(self.address, ray.util.get_node_ip_address)
            try:
                if self.address:  # an existing cluster: its nodes decide the CPUs
                    ray.init(address=self.address, log_to_driver=False)
                else:  # "local": a new cluster, never one that happens to run on this machine
                    ray.init(address="local", num_cpus=self.workers, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a local cluster"
                raise ExecutorUnavailable(f"cannot start or reach Ray ({where}): {' '.join(str(exc).split())}") from exc
            self.started_here = True
        try:
            if self._slots() == 0:
                raise ExecutorUnavailable(
                    f"no Ray node has 1 CPU and {self.limits.memory_gib:g} GiB of memory for a scene "
                    f"(cluster: {ray.cluster_resources()}); lower --scene-memory or add nodes"
                )
            if self.environment is not None:
                self._check_versions()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started_here:
            self.ray.shutdown()
            self.started_here = False

    def _nodes(self) -> list[dict]:
        return [node for node in self.ray.nodes() if node.get("Alive")]

    def _slots(self) -> int:
        """How many tasks of one CPU and `memory_gib` the live nodes can run at once."""
        memory = self.limits.memory_gib * GIB
        slots = 0
        for node in self._nodes():
            resources = node.get("Resources", {})
            cpus = int(resources.get("CPU", 0))
            slots += min(cpus, int(resources.get("memory", 0) // memory)) if memory else cpus
        return slots

    def _check_versions(self) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        probe = self.ray.remote(num_cpus=0, max_retries=0)(_run)
        refs = {
            f"{node['NodeManagerAddress']} ({node['NodeID'][:8]})": probe.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            ).remote(self.environment)
            for node in self._nodes()
        }
        nodes = dict(zip(refs, self.ray.get(list(refs.values()), timeout=300), strict=True))
        problem = version_mismatch(self.environment(), nodes)
        if problem:
            raise ExecutorUnavailable(problem)

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R | Lost]]:
        ray = self.ray
        from ray.exceptions import RayError, RayTaskError

        task = ray.remote(num_cpus=1, memory=int(self.limits.memory_gib * GIB), max_retries=TRIES - 1)(_run)
        limit = self.limits.seconds
        pending = deque(range(len(items)))
        running: dict[Any, tuple[int, float]] = {}  # object ref → (item index, submitted at)
        cancelled: set[Any] = set()
        try:
            while pending or running:
                room = max(1, self._slots())
                while pending and len(running) < room:
                    index = pending.popleft()
                    running[task.remote(fn, items[index])] = (index, time.monotonic())
                timeout = None
                if limit is not None:
                    started = [t for ref, (_, t) in running.items() if ref not in cancelled]
                    timeout = max(0.0, min(started) + limit - time.monotonic()) if started else None
                done, _ = ray.wait(list(running), num_returns=1, timeout=timeout)
                for ref in done:
                    index, _ = running.pop(ref)
                    try:
                        result = ray.get(ref)
                    except RayTaskError:
                        raise  # fn itself raised: a bug, as on the other executors
                    except RayError as exc:
                        if ref in cancelled:
                            result = Lost(f"no result after {limit:g} s (the time limit); its Ray task was cancelled")
                        else:
                            result = Lost(
                                f"its Ray worker was lost, on each of {TRIES} tries "
                                f"({type(exc).__name__}: {_first_line(exc)})"
                            )
                    yield items[index], result
                if limit is not None:
                    now = time.monotonic()
                    for ref, (_, submitted) in running.items():
                        if ref not in cancelled and now - submitted > limit:
                            ray.cancel(ref, force=True)
                            cancelled.add(ref)
        finally:
            for ref in running:
                if ref not in cancelled:
                    ray.cancel(ref, force=True)


def _check_reachable(address: str | None, node_ip: Callable[[], str]) -> None:
    """Ray retries an address where nothing answers for many minutes: a plain connection says so at once.
    Ray reads a loopback host as this machine's network address (`node_ip`), so either will do."""
    host, _, port = (address or "").removeprefix("ray://").rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():  # no address, or "auto": Ray looks for the cluster itself
        return
    hosts = [host, node_ip()] if host == "localhost" or host.startswith("127.") or host == "::1" else [host]
    problem = None
    for candidate in hosts:
        try:
            socket.create_connection((candidate, int(port)), timeout=10).close()
            return
        except OSError as exc:
            problem = exc.strerror or str(exc)
    raise ExecutorUnavailable(f"cannot reach the Ray cluster at {address}: {problem}")


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def make_executor(
    kind: str,
    workers: int,
    limits: Limits = Limits(),
    address: str | None = None,
    environment: Callable[[], dict[str, str]] | None = None,
) -> Executor:
    """`workers` 0 runs in this process; N ≥ 1 in N worker processes (or, with Ray, a local cluster of N CPUs
    when no cluster address is given)."""
    if kind == "ray":
        return RayTasks(workers, limits, address, environment)
    if kind != "local":
        raise ExecutorUnavailable(f"unknown executor {kind!r}; expected one of {', '.join(EXECUTORS)}")
    return InProcess() if workers == 0 else ProcessPool(workers, limits)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
