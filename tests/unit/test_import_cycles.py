"""The project's modules import each other without cycles, and `sandbox/ml` imports nothing of the site.

The source is read, not run: an import counts wherever it sits in a module, because a function-level import
is still a dependency and only hides the cycle until the function runs. The one exception is the body of a
function in a Celery task module (`tasks.py`): a task importing its service lazily is the documented pattern,
since the service enqueues the task. Migrations are left out; they import what they like and are frozen.

`from package import name` counts as a dependency on the submodule `package.name` when there is one, else on
`package`. The parent packages that every import also runs are not counted: otherwise each package whose
`__init__.py` re-exports from its submodules would form a cycle with every one of them.
"""

import ast
import itertools
from collections import deque
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mlopslab", "lessons", "sandbox")
# Pure code over DataFrames: a data scientist reads it alone, and it runs without the site.
ML_PACKAGE = "sandbox.ml"
ML_FORBIDDEN = ("django", "celery", "lessons", "mlopslab", "sandbox")


def _project_modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the project's packages outside migrations."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _import_nodes(tree: ast.Module, *, skip_function_bodies: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements at any depth: in classes, functions, `if TYPE_CHECKING:` and `try` blocks alike."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        if skip_function_bodies and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        pending.extend(ast.iter_child_nodes(node))


def _imported_names(module: str, path: Path) -> Iterator[tuple[str, tuple[str, ...], int]]:
    """(module imported from, names taken from it, line) for each import statement that counts."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in _import_nodes(tree, skip_function_bodies=path.name == "tasks.py"):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, (), node.lineno
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, *([node.module] if node.module else [])])
        yield base, tuple(alias.name for alias in node.names), node.lineno


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an imported dotted name loads, or None for anything outside the project."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _project_imports(module: str, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """(project module, line) for each project module that the module imports."""
    imports = []
    for base, names, line in _imported_names(module, modules[module]):
        submodules = [f"{base}.{name}" for name in names if f"{base}.{name}" in modules]
        # Names that are not submodules (functions, classes) come from the module itself.
        needs_base = not names or len(submodules) < len(names)
        for target in [*submodules, *([_resolve(base, modules)] if needs_base else [])]:
            if target is not None and target != module:
                imports.append((target, line))
    return imports


def _import_graph() -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    """The modules, and for each the project modules it imports with the line of its first import of each."""
    modules = _project_modules()
    graph: dict[str, dict[str, int]] = {}
    for module in modules:
        graph[module] = {}
        for target, line in _project_imports(module, modules):
            graph[module][target] = min(line, graph[module].get(target, line))
    return modules, graph


def _strongly_connected(graph: dict[str, dict[str, int]]) -> list[set[str]]:
    """Tarjan's algorithm: groups of modules that all reach each other, larger than one module."""
    order: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(module: str) -> None:
        order[module] = lowest[module] = len(order)
        stack.append(module)
        on_stack.add(module)
        for target in graph[module]:
            if target not in order:
                visit(target)
                lowest[module] = min(lowest[module], lowest[target])
            elif target in on_stack:
                lowest[module] = min(lowest[module], order[target])
        if lowest[module] == order[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return groups


def _shortest_path(graph: dict[str, dict[str, int]], start: str, end: str, within: set[str]) -> list[str]:
    came_from = {start: start}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        if module == end:
            break
        for target in sorted(graph[module]):
            if target in within and target not in came_from:
                came_from[target] = module
                queue.append(target)
    path = [end]
    while path[-1] != start:
        path.append(came_from[path[-1]])
    return path[::-1]


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One shortest cycle through each import inside a strongly connected group, so every import that closes
    a cycle is named; each cycle starts at its alphabetically first module."""
    cycles = set()
    for group in _strongly_connected(graph):
        for module in group:
            for target in graph[module]:
                if target in group:
                    cycle = [module, *_shortest_path(graph, target, module, group)[:-1]]
                    first = cycle.index(min(cycle))
                    cycles.add(tuple(cycle[first:] + cycle[:first]))
    return [[*cycle, cycle[0]] for cycle in sorted(cycles)]


def _describe(cycle: list[str], modules: dict[str, Path], graph: dict[str, dict[str, int]]) -> str:
    where = ", ".join(
        f"{modules[module].relative_to(ROOT)}:{graph[module][target]}" for module, target in itertools.pairwise(cycle)
    )
    return f"{' -> '.join(cycle)}\n    imported at {where}"


def test_project_modules_import_each_other_without_cycles() -> None:
    modules, graph = _import_graph()

    cycles = _cycles(graph)

    assert {"mlopslab.settings", "lessons.models", "sandbox.ml"} <= set(modules), "the module walk found too little"
    assert not cycles, "Import cycles between project modules:\n" + "\n".join(
        _describe(cycle, modules, graph) for cycle in cycles
    )


def test_sandbox_ml_imports_neither_the_site_nor_its_frameworks() -> None:
    modules = _project_modules()
    ml_modules = [module for module in modules if module == ML_PACKAGE or module.startswith(ML_PACKAGE + ".")]
    forbidden = []
    for module in ml_modules:
        for base, names, line in _imported_names(module, modules[module]):
            # `from a import b` is checked as `a.b`, so that `from sandbox import ml` passes.
            for name in [f"{base}.{name}" for name in names] or [base]:
                inside_ml = name == ML_PACKAGE or name.startswith(ML_PACKAGE + ".")
                if name.split(".")[0] in ML_FORBIDDEN and not inside_ml:
                    forbidden.append(f"{modules[module].relative_to(ROOT)}:{line} imports {name}")

    assert ml_modules, "sandbox/ml has no modules to check"
    assert not forbidden, "sandbox/ml must stay plain Python:\n" + "\n".join(sorted(set(forbidden)))
