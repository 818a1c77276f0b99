"""Dependencies point one way: the sandbox's capabilities downwards, `lessons` never into `sandbox`.

Monitoring may use serving, serving the registry, the registry tracking, tracking datasets, and all of
them jobs; never the other way. A capability that reaches up would make the lower one unusable alone.
"""

from tests.unit.test_import_cycles import ROOT, _import_graph

# Lowest first: each capability may import those before it, never those after.
CAPABILITIES = [
    "sandbox.jobs",
    "sandbox.datasets",
    "sandbox.tracking",
    "sandbox.registry",
    "sandbox.serving",
    "sandbox.llmops",
]
# The RAG sandbox sits on tracking, datasets and jobs only: a branch beside the registry, not above serving.
LLMOPS_USES = {"sandbox.jobs", "sandbox.datasets", "sandbox.tracking"}


def _capability(module: str) -> str | None:
    return next((c for c in CAPABILITIES if module == c or module.startswith(c + ".")), None)


def test_capabilities_depend_only_downwards() -> None:
    modules, graph = _import_graph()
    upward = []
    for module, targets in graph.items():
        own = _capability(module)
        if own is None:
            continue
        for target, line in targets.items():
            theirs = _capability(target)
            if theirs is not None and CAPABILITIES.index(theirs) > CAPABILITIES.index(own):
                upward.append(f"{modules[module].relative_to(ROOT)}:{line} ({own}) imports {target}")
    assert all(any(m.startswith(c) for m in modules) for c in CAPABILITIES), "a capability package is missing"
    assert not upward, "A capability imports one above it:\n" + "\n".join(sorted(upward))


def test_lessons_never_import_the_sandbox() -> None:
    modules, graph = _import_graph()
    reaching = [
        f"{modules[module].relative_to(ROOT)}:{line} imports {target}"
        for module, targets in graph.items()
        if module == "lessons" or module.startswith("lessons.")
        for target, line in targets.items()
        if target == "sandbox" or target.startswith("sandbox.")
    ]
    assert not reaching, "lessons asks the challenge registry instead of importing sandbox:\n" + "\n".join(reaching)


def test_llmops_uses_only_tracking_datasets_and_jobs() -> None:
    modules, graph = _import_graph()
    wrong = [
        f"{modules[module].relative_to(ROOT)}:{line} imports {target}"
        for module, targets in graph.items()
        if _capability(module) == "sandbox.llmops"
        for target, line in targets.items()
        if _capability(target) not in (None, "sandbox.llmops", *LLMOPS_USES)
    ]
    assert any(m.startswith("sandbox.llmops.") for m in modules), "the llmops package is missing"
    assert not wrong, "sandbox.llmops reaches past tracking:\n" + "\n".join(wrong)
