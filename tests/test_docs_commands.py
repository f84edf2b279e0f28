"""Every example command in README.md and docs/*.md parses against the CLI: a renamed or removed flag, a
misspelt command or a missing required option in the docs fails here, not in a user's terminal."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from vsi_data.cli import app

ROOT = Path(__file__).resolve().parent.parent
CODE_BLOCK = re.compile(r"```(?:bash|sh|console)?\n(.*?)```", re.DOTALL)
SYNOPSIS = re.compile(r"[\[<{]|\w\|\w")  # usage lines ([--frames N], <dir>, a|b) are not commands


def example_commands() -> list[tuple[str, str]]:
    """(file, command line) of each `vsi-data ...` line in a code block, continuation lines joined, comments,
    redirections and pipes cut off."""
    commands = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in CODE_BLOCK.findall(path.read_text(encoding="utf-8")):
            for line in block.replace("\\\n", " ").splitlines():
                line = re.split(r"\s+(?:#|>|\|)\s", line.strip().removeprefix("$ "))[0].strip()
                if line.startswith("vsi-data ") and not SYNOPSIS.search(line):
                    commands.append((path.name, line))
    return commands


COMMANDS = example_commands()


def test_the_docs_hold_examples_of_the_main_commands():
    used = {shlex.split(line)[1] for _, line in COMMANDS}
    assert {"build", "stats", "inspect", "verify", "train-grpo", "predict", "eval", "export"} <= used


@pytest.mark.parametrize(("doc", "line"), COMMANDS, ids=[f"{doc}:{line[:60]}" for doc, line in COMMANDS])
def test_an_example_command_parses(doc, line):
    group = typer.main.get_command(app)
    name, *args = shlex.split(line)[1:]
    command = group.get_command(None, name)
    assert command is not None, f"{doc}: `{line}`: no command {name!r}"
    try:
        with command.make_context(name, args):
            pass
    except Exception as exc:  # typer's own click raises its UsageError family
        pytest.fail(f"{doc}: `{line}`: {exc}")
