"""Typer's coercion of a command's values, without importing Pydantic when no value needs it.

Why: Typer 0.29 converts every parameter's value through a Pydantic `TypeAdapter` that it
builds when the command runs, even for a value that is None or already the string a `str`
option asks for; importing Pydantic for that costs about 0.1 s, a third of what
`rempart bank list` or `rempart review list` take to start (issue 19: under 0.5 s,
bench/cli_startup_bench.py). `defer_coercion()` wraps the function Typer's parameters call
to build their coercion (`typer.core.build_runtime_param`): the wrapper answers the two
cases that need no conversion exactly as Typer does, and hands every other value to the
coercion Typer builds (Pydantic, its messages and exit codes unchanged):

- None: () for a parameter taking many values, None otherwise (Typer's `RuntimeParam.coerce`);
- a `str` for a parameter annotated `str` (no parser, no file): the same string (Typer's
  adapter runs `str(value)`, then Pydantic's `str` validation, on it).

If Typer's internals are not what this expects (another version), nothing is wrapped and
Typer works as it always did; tests/cli/test_coercion.py checks that the wrapper is
installed with the pinned Typer and that answers and errors equal Typer's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_WRAPPED = "_rempart_deferred"


class DeferredCoercion:
    """One parameter's coercion: Typer's own, built on the first value that needs it."""

    def __init__(self, descriptor: Any, build: Callable[[Any], Any]) -> None:
        self.descriptor = descriptor
        self._build = build
        self._built: Any = None
        self.plain_str = (
            descriptor.annotation is str
            and descriptor.file_annotation is None
            and getattr(descriptor.parameter_info, "parser", None) is None
        )

    @property
    def built(self) -> bool:
        return self._built is not None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        many = bool(param.multiple) or param.nargs == -1
        if value is None:
            return () if many else None
        if self.plain_str and not many and type(value) is str:
            return value
        if self._built is None:
            self._built = self._build(self.descriptor)
        return self._built.coerce(value, param=param, ctx=ctx)


def defer_coercion() -> bool:
    """Wrap Typer's `build_runtime_param` (once); False when Typer has no such hook."""
    try:
        import typer.core as typer_core
    except ImportError:  # pragma: no cover - typer is a dependency
        return False
    build = getattr(typer_core, "build_runtime_param", None)
    parameter = getattr(typer_core, "_TyperParameter", None)
    if build is None or parameter is None or not hasattr(parameter, "get_runtime_param"):
        return False
    if getattr(build, _WRAPPED, False):
        return True

    def deferred(descriptor: Any) -> DeferredCoercion:
        return DeferredCoercion(descriptor, build)

    setattr(deferred, _WRAPPED, True)
    deferred.__wrapped__ = build  # type: ignore[attr-defined]
    # (setattr: Typer's stub types the hook as returning its RuntimeParam)
    setattr(typer_core, "build_runtime_param", deferred)  # noqa: B010
    return True
