"""rempart.cli.coercion: Typer's coercion built only for values that need it (issue 19:
importing Pydantic for a None or a plain string cost a third of a listing's start-up). The
wrapper is installed with the pinned Typer, and a command gets the same values, types,
output, error messages and exit codes with it as with Typer's own coercion."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Literal

import pytest
import typer
import typer.core
from typer.testing import CliRunner

from rempart.cli import coercion, core


class Colour(enum.Enum):
    red = "red"
    blue = "blue"


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def run(
        name: str,
        label: Annotated[str | None, typer.Option()] = None,
        fmt: Annotated[str, typer.Option("--format")] = "table",
        count: Annotated[int, typer.Option(min=0, max=9)] = 3,
        ratio: Annotated[float | None, typer.Option()] = None,
        where: Annotated[Path | None, typer.Option()] = None,
        tag: Annotated[list[str] | None, typer.Option()] = None,
        flag: Annotated[bool, typer.Option("--flag/--no-flag")] = False,
        colour: Annotated[Colour, typer.Option()] = Colour.red,
        mode: Annotated[Literal["a", "b"], typer.Option()] = "a",
    ) -> None:
        values = (name, label, fmt, count, ratio, where, tag, flag, colour, mode)
        typer.echo(repr([(type(v).__name__, v) for v in values]))

    return app


CASES = [
    ["x"],
    ["ünïcode 한국어", "--label", "", "--format", "json"],
    ["x", "--label", "[bold]y", "--count", "9", "--ratio", "0.5", "--where", "a/b"],
    ["x", "--tag", "a", "--tag", "b", "--flag", "--colour", "blue", "--mode", "b"],
    ["x", "--count", "10"],  # out of range
    ["x", "--count", "abc"],  # not a number
    ["x", "--ratio", "nan-ish"],
    ["x", "--colour", "green"],
    ["x", "--mode", "c"],
    [],  # missing argument
]


def test_the_wrapper_is_installed_with_the_pinned_typer() -> None:
    assert core.app is not None  # importing the frame installs it
    assert coercion.defer_coercion() is True
    assert getattr(vars(typer.core)["build_runtime_param"], "_rempart_deferred", False)


def test_commands_get_what_typers_own_coercion_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    assert coercion.defer_coercion()
    runner = CliRunner()
    deferred = [runner.invoke(_app(), args) for args in CASES]
    original = vars(typer.core)["build_runtime_param"].__wrapped__
    monkeypatch.setattr(typer.core, "build_runtime_param", original)
    typers = [runner.invoke(_app(), args) for args in CASES]
    for args, a, b in zip(CASES, deferred, typers, strict=True):
        assert (a.exit_code, a.output) == (b.exit_code, b.output), args
    assert deferred[0].exit_code == 0 and "('str', 'x')" in deferred[0].output
    assert "('NoneType', None)" in deferred[0].output
    assert "('PosixPath', PosixPath('a/b'))" in deferred[2].output
    assert [d.exit_code for d in deferred[4:]] == [2] * 6


def test_only_values_needing_conversion_build_typers_coercion() -> None:
    built: list[object] = []

    def build(descriptor: object) -> object:
        built.append(descriptor)
        raise AssertionError("built")

    class Descriptor:
        annotation = str
        file_annotation = None
        parameter_info = typer.models.OptionInfo()

    class Param:
        multiple = False
        nargs = 1

    one = coercion.DeferredCoercion(Descriptor(), build)
    assert one.coerce(None, Param(), None) is None
    assert one.coerce("plain", Param(), None) == "plain"
    many = Param()
    many.multiple = True
    assert one.coerce(None, many, None) == ()
    assert not built and not one.built
    with pytest.raises(AssertionError, match="built"):
        one.coerce(b"bytes", Param(), None)  # anything else: Typer's own
    assert len(built) == 1
