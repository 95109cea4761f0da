"""The layout rules the code keeps: a thin CLI, one path from cube to tokens, the simulator only
where simulated data is the point, and typed public functions."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "tessera"
ROOT = Path(__file__).parents[1]


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports count)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_cli_modules_stay_thin():
    long = {p.name: n for p in (SRC / "cli").glob("*.py") if (n := len(p.read_text().splitlines())) > 120}
    assert not long, f"cli modules over 120 lines (move the logic into the library): {long}"


def test_only_the_simulator_its_command_and_the_quickstart_import_the_simulator():
    allowed = {SRC / "cli" / "simulate_cmd.py"}
    users = [
        p.relative_to(SRC).as_posix()
        for p in _modules()
        if p.parent.name not in ("simulate", "quickstart")
        and p not in allowed
        and any(m == "tessera.simulate" or m.startswith("tessera.simulate.") for m in _imports(p))
    ]
    assert not users, f"modules importing tessera.simulate: {users}"


def _called(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        return getattr(node.func, "id", getattr(node.func, "attr", None))
    return None


def test_cube_windows_become_tokens_in_one_place():
    """``pixel_series`` is the one reshape → pool → sample path; nobody else pools orbits or
    samples dates from a cube window."""
    callers = [
        p.relative_to(SRC).as_posix()
        for p in _modules()
        if p.name != "sampling.py"
        and any(
            isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) in ("pool_s1", "sample_tokens")
            for n in ast.walk(ast.parse(p.read_text()))
        )
    ]
    assert not callers, f"pool_s1 / sample_tokens called outside model/sampling.py: {callers}"


def _untyped(path: Path) -> list[str]:
    found = []

    def visit(node: ast.AST, public: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, public and not child.name.startswith("_"))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                dunder = child.name.startswith("__") and child.name.endswith("__")
                if not public or (child.name.startswith("_") and not dunder):
                    continue
                a = child.args
                params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, (a.vararg, a.kwarg))]
                bare = [p.arg for p in params if p.annotation is None and p.arg not in ("self", "cls")]
                if bare or (child.returns is None and child.name != "__init__"):
                    found.append(f"{path.relative_to(SRC).as_posix()}:{child.lineno} {child.name}")

    visit(ast.parse(path.read_text()), True)
    return found


def test_public_functions_are_typed():
    untyped = [u for p in _modules() for u in _untyped(p)]
    assert not untyped, f"public functions without full annotations: {untyped}"


def test_the_formatter_is_obeyed_not_switched_off():
    marked = [
        p.relative_to(ROOT).as_posix()
        for d in ("src", "tests", "benchmarks")
        for p in (ROOT / d).rglob("*.py")
        if "fmt: " + "skip" in p.read_text() or "fmt: " + "off" in p.read_text()
    ]
    assert not marked, f"formatter switched off in: {marked}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module → the tessera modules it imports, at any depth (lazy and TYPE_CHECKING imports count:
    a knot hidden inside functions is still a knot)."""
    paths = {_module_name(p): p for p in _modules()}

    def resolve(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        out = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out |= {resolve(a.name) for a in node.names if a.name.startswith("tessera")}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                if base.startswith("tessera"):
                    out |= {f"{base}.{a.name}" if f"{base}.{a.name}" in paths else resolve(base) for a in node.names}
        graph[name] = {m for m in out if m and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while (w := stack.pop()) != v:
                comp.append(w)
            if comp:
                found.append(sorted([v, *comp]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle():
    assert not (knots := _cycles(_import_graph())), f"modules importing each other in a circle: {knots}"


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_config_modules_stay_torch_free():
    """The model's configs (v1 and the students) are read by torch-free code: no torch import."""
    imported = _imports(SRC / "model" / "config.py")
    assert not {m for m in imported if m == "torch" or m.startswith(("torch.", "tessera.model.student"))}
