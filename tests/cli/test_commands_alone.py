"""The `rempart` command as a package (issue 17): each command module imports alone (in a
fresh interpreter, without any other command module), its commands are module-level
functions that run on their own with a context, and a RempartError raised by any command is
reported once, by the app: its message on stderr as `error: ...` and its exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rempart.cli import COMMAND_MODULES, main
from rempart.cli.core import CliContext, _Commands, report_error, use_context
from rempart.config import load_settings
from rempart.errors import NotFound, RempartError

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(
    p.stem for p in (ROOT / "src/rempart/cli/commands").glob("*.py") if p.stem != "__init__"
)


def test_every_command_module_is_listed() -> None:
    assert sorted(COMMAND_MODULES) == MODULES


@pytest.mark.parametrize("name", MODULES)
def test_command_module_imports_alone(name: str) -> None:
    code = (
        "import sys\n"
        f"import rempart.cli.commands.{name}\n"
        "others = sorted(m for m in sys.modules if m.startswith('rempart.cli.commands.')\n"
        f"                and m != 'rempart.cli.commands.{name}')\n"
        "assert not others, others\n"
        "assert 'sqlalchemy' not in sys.modules\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr


def test_the_package_app_is_the_typer_app_after_a_command_module() -> None:
    code = (
        "import typer\nimport rempart.cli.commands.bank\nfrom rempart.cli import app\n"
        "assert isinstance(app, typer.Typer), app\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, cwd=ROOT)


def test_a_command_runs_alone_with_a_context(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rempart.cli.commands.bank import bank_create, bank_list

    run = CliContext(load_settings(db=str(tmp_path / "r.db"), home=tmp_path / "home"))
    use_context(run)
    try:
        bank_create("alone", threshold=20, description="one")
        bank_list(fmt="json")
    finally:
        run.close()
    banks = json.loads(capsys.readouterr().out)
    assert [(b["name"], b["pdq_threshold"]) for b in banks] == [("alone", 20)]
    assert (tmp_path / "home").exists()


def test_main_reports_a_domain_error_with_its_message_and_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """StoreError (no such case), raised by the domain and caught by no command: one line on
    stderr, exit code 1, no traceback."""
    argv = [
        "rempart",
        "--db",
        str(tmp_path / "r.db"),
        "--home",
        str(tmp_path / "home"),
        "case",
        "show",
        "NO-SUCH",
    ]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 1
    captured = capsys.readouterr()
    assert "error:" in captured.err and "NO-SUCH" in captured.err
    assert "Traceback" not in captured.err + captured.out


class _Gone(NotFound):
    exit_code = 4


def test_the_handler_uses_the_errors_exit_code_and_escapes_its_message() -> None:
    app = typer.Typer(cls=_Commands)

    @app.command("gone")
    def gone() -> None:
        raise _Gone("case \x1b[31mX\x1b[0m is gone")

    @app.command("other")
    def other() -> None:  # two commands, so `gone` stays a subcommand
        pass

    result = CliRunner().invoke(app, ["gone"])
    assert result.exit_code == 4
    assert "error:" in result.output and "case" in result.output and "gone" in result.output
    assert "\x1b[31m" not in result.output  # textsafe: no terminal control from the message
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_report_error_returns_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert report_error(RempartError("plain")) == 1
    assert report_error(_Gone("gone")) == 4
    assert "error: plain" in capsys.readouterr().err
