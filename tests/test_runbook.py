"""Every `credit-dw` command the runbook shows is one the command line takes, and the read-only ones
run against a warehouse.

A renamed option or command breaks this test, not the engineer following the runbook at night.
Each example (in a ```sh block or an inline `code` span) is parsed by the real typer/click command
tree with its arguments and options; the read-only examples (`status`, `sql`, `db url`) are run.
The commands that take a night's minutes (`run`, `backfill`, `backup`) are run by their own tests
(test_nightly, test_cli_status, test_backup); here their arguments are checked.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from credit_dw.cli import app

RUNBOOK = Path(__file__).resolve().parents[1] / "docs" / "runbook.md"

#: Examples run for real: they only read the warehouse.
READ_ONLY = (("status",), ("sql",), ("db", "url"))


def _examples() -> list[tuple[int, list[str]]]:
    """(line number, arguments after `credit-dw`) of every runbook example with concrete values."""
    found = []
    in_shell = False
    for number, line in enumerate(RUNBOOK.read_text(encoding="utf-8").splitlines(), start=1):
        if line.lstrip().startswith("```"):
            in_shell = not in_shell and line.strip() in ("```sh", "```bash")
            continue
        if in_shell:
            candidates = [re.split(r"\s+#\s", line.strip(), maxsplit=1)[0]]
        else:
            candidates = re.findall(r"`([^`]+)`", line)
        for text in candidates:
            for command in re.findall(r"(?:^|\$\(|;\s*|&&\s*|do\s+)credit-dw\s+([^|;)]*)", text.strip()):
                if any(mark in command for mark in ("…", "<", " D ", " D")) or command.rstrip().endswith(" D"):
                    continue  # a placeholder, not a command to run as written
                try:
                    args = shlex.split(command)
                except ValueError:
                    continue  # an inline span cut mid-quote
                # In prose, `credit-dw run` names a command; an example there gives options or a
                # quoted argument.
                example = in_shell or "--" in command or '"' in command
                if args and not args[0].startswith("-") and example:
                    found.append((number, args))
    return found


def _parse(args: list[str]) -> tuple[list[str], object]:
    """Parse `credit-dw <args>` with the real command tree (typer's own click); returns the command
    path and the context. A bad option or argument raises the command line's own usage error."""
    command = typer.main.get_command(app)
    context = command.make_context("credit-dw", list(args))
    path = []
    while hasattr(command, "resolve_command"):  # a group
        rest = [*context._protected_args, *context.args]
        if not rest:
            break
        name, command, rest = command.resolve_command(context, rest)
        path.append(name)
        context = command.make_context(name, rest, parent=context)
    return path, context


EXAMPLES = _examples()


def test_the_runbook_shows_the_commands_a_night_needs():
    shown = {tuple(_parse(args)[0]) for _, args in EXAMPLES}
    assert {("run",), ("status",), ("backfill",), ("sql",), ("report", "quality"), ("export", "release"),
            ("backup", "run"), ("db", "start")} <= shown, sorted(shown)


@pytest.mark.parametrize(("line", "args"), EXAMPLES, ids=[f"runbook.md:{n}" for n, _ in EXAMPLES])
def test_each_runbook_example_is_a_command_the_cli_takes(line, args):
    try:
        _parse(args)
    except Exception as err:  # typer's click UsageError, BadParameter, NoSuchOption, ...
        message = err.format_message() if hasattr(err, "format_message") else repr(err)
        pytest.fail(f"docs/runbook.md line {line}: credit-dw {shlex.join(args)}: {message}")


def test_the_read_only_examples_run_against_the_warehouse(warehouse_url):
    runner = CliRunner()
    ran = 0
    for line, args in EXAMPLES:
        path = tuple(_parse(args)[0])
        if path not in READ_ONLY:
            continue
        result = runner.invoke(app, args)
        # status: 1 when a feed needs a rerun, 2 when the ledger has no night (docs/runbook.md).
        assert result.exception is None or isinstance(result.exception, SystemExit), (line, result.output)
        assert result.exit_code in (0, 1, 2) and result.output.strip(), (line, result.output)  # runbook: exit codes
        assert "Traceback" not in result.output, (line, result.output)
        ran += 1
    assert ran >= 5
