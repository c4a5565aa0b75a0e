"""Rempart's layering, checked from the source (ast, nothing imported).

Data flows one way: media/signals -> index -> store -> sources -> scan -> cases/exchange ->
access -> api/web -> cli. These tests read every module of src/rempart, collect what each
imports (at the top, inside functions, and through `lazy_module("rempart....")`; imports under
`if TYPE_CHECKING:` are only for the type checker and do not count) and check that:
  (a) no two modules import each other, directly or round a longer circle;
  (b) no two top-level packages import each other, directly or round a longer circle;
  (c) each package imports only what its layer allows (the rule table below), and nothing
      imports the CLI but `rempart.__main__`.
Circles that are still being broken up (issue 17) are listed in KNOWN_*: the lists may only
shrink: a new circle fails, and so does a listed one that is gone (remove it from the list).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
ROOT = "rempart"

# Module circles still being broken up (issue 17): each entry is the set of modules of one
# strongly connected component. May only shrink.
KNOWN_MODULE_CYCLES: list[frozenset[str]] = []

# Package circles still being broken up (issue 17), as sets of top-level packages. May only
# shrink.
KNOWN_PACKAGE_CYCLES: list[frozenset[str]] = []

# Layer violations still being fixed (issue 17): (importing package, imported package).
# May only shrink.
KNOWN_LAYER_VIOLATIONS: set[tuple[str, str]] = set()

# the front-ends, and `server`, the module that composes the API and the web UI
FRONT_ENDS = {"api", "web", "server", "cli", "cli_api", "cli_cases", "cli_sync", "__main__"}
DOMAIN = {
    "media",
    "signals",
    "index",
    "faces",
    "store",
    "sources",
    "scan",
    "cases",
    "exchange",
    "access",
    "ops",
}

# What each top-level package (or module) of rempart may NOT import. One line, one rule.
FORBIDDEN: dict[str, set[str]] = {
    # the bottom: decoding media knows nothing of hashes, banks, cases or scans
    "media": DOMAIN - {"media"} | FRONT_ENDS,
    # signals are computed from decoded media only
    "signals": DOMAIN - {"media", "signals"} | FRONT_ENDS,
    # the near-duplicate indexes hold hashes, not rows
    "index": DOMAIN - {"media", "signals", "index"} | FRONT_ENDS,
    # face detection and template encryption sit below the store
    "faces": DOMAIN - {"media", "signals", "index", "faces"} | FRONT_ENDS,
    # the store keeps rows (banks, signals, indexes, templates); it never calls their users
    "store": {"sources", "scan", "cases", "exchange", "access"} | FRONT_ENDS,
    # sources list and open media; they do not scan or open cases
    "sources": {"scan", "cases", "exchange", "access"} | FRONT_ENDS,
    # scans hash, match and record; cases and lists are built on top of them
    "scan": {"cases", "exchange", "access"} | FRONT_ENDS,
    # cases (review, evidence, notices, withdrawal) are domain operations, no front-end's
    "cases": {"access"} | FRONT_ENDS,
    # lists, sharing and sync are domain operations too
    "exchange": {"access"} | FRONT_ENDS,
    # backups, restores and key care gather every layer's state, under the front-ends
    "ops": {"access"} | FRONT_ENDS,
    # what the API and the web UI both need (keys, tenancy, limits, services)
    "access": FRONT_ENDS,
    # the API never imports the web UI (only the composition module joins them)
    "api": FRONT_ENDS - {"api"},
    # the web UI never imports the API
    "web": FRONT_ENDS - {"web"},
    # settings and the policy are read by every layer: they import none
    "config": DOMAIN | FRONT_ENDS,
    # small shared modules every layer may import: they import none
    "errors": DOMAIN | FRONT_ENDS,
    "textsafe": DOMAIN | FRONT_ENDS,
    "lazy": DOMAIN | FRONT_ENDS,
    "keyfile": DOMAIN | FRONT_ENDS,
    "tokens": DOMAIN | FRONT_ENDS,
    # generated test media (ordinary photos, videos) depend on nothing of rempart's
    "samples": DOMAIN | FRONT_ENDS,
}
# The one module that may import both the API and the web UI: it composes the server.
COMPOSERS = {"rempart.server"}
# Nothing imports the CLI but the `python -m rempart` entry point and the CLI itself.
CLI = {"cli", "cli_api", "cli_cases", "cli_sync"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / ROOT).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """Every module name an import statement or lazy_module("...") names, with its line."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, int]] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(a.name, node.lineno) for a in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            where = ".".join(base + ([node.module] if node.module else []))
        else:
            where = node.module or ""
        # `from pkg import sub` imports the module pkg.sub (the test resolves it); `from mod
        # import name` imports mod
        self.found += [(f"{where}.{a.name}", node.lineno) for a in node.names]

    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name in ("lazy_module", "import_module") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                self.found.append((arg.value, node.lineno))
        self.generic_visit(node)


def _graph() -> dict[str, dict[str, int]]:
    """module -> {imported rempart module: first line}; `from pkg import name` counts as
    importing pkg.name when that is a module, else pkg (a name is resolved to the longest
    module it starts with)."""
    modules = _modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        edges: dict[str, int] = {}
        for target, line in visitor.found:
            if target != ROOT and not target.startswith(ROOT + "."):
                continue
            while target not in modules and "." in target:
                target = target.rpartition(".")[0]
            if target in modules and target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def _top(module: str) -> str:
    """The top-level package (or module) of rempart a module belongs to ('' for rempart)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _package_graph(graph: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """top-level package -> {top-level package it imports: 0} (rempart itself left out)."""
    packages: dict[str, dict[str, int]] = defaultdict(dict)
    for module, edges in graph.items():
        src = _top(module)
        for target in edges:
            dst = _top(target)
            if src and dst and dst != src:
                packages[src][dst] = 0
        if src:
            packages.setdefault(src, {})
    return dict(packages)


def _describe(cycle: frozenset[str], graph: dict[str, dict[str, int]]) -> str:
    """The imports that make a circle, one a line, with the line of the first."""
    lines = []
    for a in sorted(cycle):
        for b in sorted(set(graph[a]) & cycle):
            line = graph[a][b]
            lines.append(f"  {a} -> {b}" + (f" (line {line})" if line else ""))
    return "\n".join(lines)


def _ratchet(
    found: list[frozenset[str]],
    known: list[frozenset[str]],
    name: str,
    graph: dict[str, dict[str, int]],
) -> None:
    """No circle outside the known list `name`, and none listed there that is gone."""
    message = [
        f"import circle {sorted(c)}:\n{_describe(c, graph)}" for c in found if c not in known
    ]
    message += [
        f"listed circle {sorted(c)} is gone or changed: update {name}"
        for c in known
        if c not in found
    ]
    assert not message, "\n".join(message)


def test_the_graph_is_read() -> None:
    """The reader finds the modules and the imports it must (else the other tests prove nothing)."""
    graph = _graph()
    assert len(graph) > 100
    # `from rempart.store import changefeed`: the submodule, not the package
    assert "rempart.store.changefeed" in graph["rempart.store.repository"]
    assert "rempart.store" not in graph["rempart.store.repository"]
    # `from rempart.store.models import Bank, ...`: the module
    assert "rempart.store.models" in graph["rempart.store.repository"]
    # imports inside functions count (`rempart hash-page` imports the page's writer when run)
    assert "rempart.web.hashpage" in graph["rempart.cli.commands.hash"]
    # a lazy_module("...") import counts
    assert any(
        "rempart.store.audit" in edges for m, edges in graph.items() if m.startswith("rempart.cli")
    )


def test_the_reader_sees_every_kind_of_import() -> None:
    source = """
from typing import TYPE_CHECKING
import rempart.store.db
from . import sibling
from ..cases import review
if TYPE_CHECKING:
    from rempart.api import app
else:
    import rempart.web
def f():
    from rempart.exchange.sharing import share_bank
repository = lazy_module("rempart.store.repository")
"""
    visitor = _Imports("rempart.scan.pipeline", is_package=False)
    visitor.visit(ast.parse(source))
    names = [name for name, _ in visitor.found]
    assert names == [
        "typing.TYPE_CHECKING",
        "rempart.store.db",
        "rempart.scan.sibling",
        "rempart.cases.review",
        "rempart.web",
        "rempart.exchange.sharing.share_bank",
        "rempart.store.repository",
    ]


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert _cycles(graph) == [frozenset({"a", "b", "c"})]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_layering_check_finds_violations() -> None:
    graph = {
        "rempart.store.x": {"rempart.scan.y": 3, "rempart.index.z": 4},
        "rempart.api.a": {"rempart.web.b": 5, "rempart.access.c": 6},
        "rempart.server": {"rempart.api.a": 7, "rempart.web.b": 8},
        "rempart.cases.c": {"rempart.cli.app": 9},
        "rempart.__main__": {"rempart.cli": 1},
    }
    assert _violations(graph) == {
        ("store", "scan"): ["rempart.store.x:3 imports rempart.scan.y"],
        ("api", "web"): ["rempart.api.a:5 imports rempart.web.b"],
        ("cases", "cli"): ["rempart.cases.c:9 imports rempart.cli.app"],
    }


def test_no_import_circle_between_modules() -> None:
    graph = _graph()
    found = _cycles({m: set(e) for m, e in graph.items()})
    _ratchet(found, KNOWN_MODULE_CYCLES, "KNOWN_MODULE_CYCLES", graph)


def test_no_import_circle_between_packages() -> None:
    packages = _package_graph(_graph())
    found = _cycles({p: set(e) for p, e in packages.items()})
    _ratchet(found, KNOWN_PACKAGE_CYCLES, "KNOWN_PACKAGE_CYCLES", packages)


def _violations(graph: dict[str, dict[str, int]]) -> dict[tuple[str, str], list[str]]:
    """(package, package it must not import) -> the imports that do it."""
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, edges in graph.items():
        if module in COMPOSERS:
            continue
        src = _top(module)
        for target, line in edges.items():
            dst = _top(target)
            if dst == src or not dst:
                continue
            bad = dst in FORBIDDEN.get(src, set())
            if dst in CLI and module != "rempart.__main__" and src not in CLI:
                bad = True
            if bad:
                out[(src, dst)].append(f"{module}:{line} imports {target}")
    return dict(out)


def test_layering() -> None:
    violations = _violations(_graph())
    new = {k: v for k, v in violations.items() if k not in KNOWN_LAYER_VIOLATIONS}
    gone = KNOWN_LAYER_VIOLATIONS - set(violations)
    message = [
        f"{a} must not import {b}:\n  " + "\n  ".join(v) for (a, b), v in sorted(new.items())
    ]
    message += [
        f"listed violation {a} -> {b} is gone: remove it from KNOWN_LAYER_VIOLATIONS"
        for a, b in sorted(gone)
    ]
    assert not message, "\n".join(message)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_rule_table_names_real_packages(package: str) -> None:
    """Every package the rule table names exists (a renamed one would silently pass)."""
    tops = {_top(m) for m in _modules()}
    assert package in tops
    assert FORBIDDEN[package] <= tops | {"cli_api", "cli_cases", "cli_sync"}
    assert COMPOSERS <= set(_modules())


# --- signal types: declared once, in signals/types.py (issue 15) ----------------------------

SIGNAL_TYPES_MODULE = SRC / ROOT / "signals" / "types.py"
# Modules that still declare their own list of signal types. May only shrink.
KNOWN_TYPE_LISTS: set[str] = set()


def _signal_type_names() -> set[str]:
    """Every name and alias registered in signals/types.py, read from its source."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(SIGNAL_TYPES_MODULE.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "SignalType":
            if node.args and isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
            for kw in node.keywords:
                if kw.arg == "aliases" and isinstance(kw.value, ast.Tuple):
                    names |= {str(e.value) for e in kw.value.elts if isinstance(e, ast.Constant)}
    return names


def _type_lists(tree: ast.Module, names: set[str]) -> list[int]:
    """Lines of module- or class-level assignments of a literal tuple, list, set, frozenset
    or dict (its keys) of two or more strings that are all signal-type names."""
    found: list[int] = []
    bodies = [tree.body] + [n.body for n in tree.body if isinstance(n, ast.ClassDef)]
    for node in (n for body in bodies for n in body):
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        value = node.value
        if isinstance(value, ast.Call) and getattr(value.func, "id", None) in (
            "frozenset",
            "set",
            "tuple",
            "list",
        ):
            value = value.args[0] if value.args else value
        if isinstance(value, ast.Dict):
            elts: list[ast.expr | None] = list(value.keys)
        elif isinstance(value, ast.Tuple | ast.List | ast.Set):
            elts = list(value.elts)
        else:
            continue
        strings = [e.value for e in elts if isinstance(e, ast.Constant)]
        if len(strings) >= 2 and len(strings) == len(elts) and set(strings) <= names:
            found.append(node.lineno)
    return found


def test_signal_types_are_declared_once() -> None:
    """No module but signals/types.py declares a list of signal types: they read its
    REGISTRY (exchanged, indexed, identifying, names in each list format...)."""
    names = _signal_type_names()
    assert {"pdq", "md5", "sha256", "vpdq", "ImagePDQ", "video_md5"} <= names
    found = {}
    for path in sorted((SRC / ROOT).rglob("*.py")):
        if path != SIGNAL_TYPES_MODULE:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if lines := _type_lists(tree, names):
                found[str(path.relative_to(SRC))] = lines
    new = {k: v for k, v in found.items() if k not in KNOWN_TYPE_LISTS}
    assert not new, f"lists of signal types outside signals/types.py (read REGISTRY): {new}"
    assert not KNOWN_TYPE_LISTS - set(found), "a listed module is fixed: remove it"
    planted = ast.parse('EXCHANGED = ("pdq", "md5")\nclass K:\n    T = {"sha256": 64, "vpdq": 64}')
    assert _type_lists(planted, names) == [1, 3]
