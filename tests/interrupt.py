"""Ctrl-C in the middle of a command: `vsi-data ARGS` runs in its own process with one of its steps held (it
touches a marker file and sleeps), then gets SIGINT there, as a user's Ctrl-C sends it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

HELD = """
import importlib, signal, sys, time
from pathlib import Path

signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even where SIGINT was ignored
module_name, name, after, ready, *args = sys.argv[1:]
module = importlib.import_module(module_name)
step, calls = getattr(module, name), []


def held(*positional, **keywords):
    calls.append(None)
    if len(calls) > int(after):
        Path(ready).touch()
        time.sleep(600)
    return step(*positional, **keywords)


setattr(module, name, held)
from vsi_data.cli import app

app(args, prog_name="vsi-data")
"""


def interrupted(step: str, args: list[str], ready: Path, after: int = 0) -> subprocess.CompletedProcess:
    """Run `vsi-data ARGS`, hold it on entering `step` ("module:function", looked up at call time) once it has
    run `after` times, and send SIGINT there; the finished process, its output as text."""
    module, name = step.split(":")
    command = [sys.executable, "-c", HELD, module, name, str(after), str(ready), *map(str, args)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not ready.exists():
            if process.poll() is not None:
                raise AssertionError(f"ended before reaching {step}: {process.communicate()}")
            assert time.monotonic() < deadline, f"did not reach {step} in 3 minutes"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
