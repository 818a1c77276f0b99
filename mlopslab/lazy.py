"""Modules the web process imports only when a request needs them.

scikit-learn, pandas, SciPy and plotly take about 150 MB and a second to import. The map, the
lessons, the glossary and the quizzes need none of them, so the web-facing modules of the sandbox
name the modules that pull them in through `lazy_module`: the name is bound at import, and the
module is imported the first time an attribute of it is read, by a request that draws a chart,
reads a dataset or checks a run's settings. Workers import them at start anyway (they train).
"""

from importlib import import_module
from types import ModuleType


class LazyModule:
    """Stands for the module `name`, importing it (under Python's import lock) on first attribute read."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> object:
        return getattr(self.module, attribute)

    @property
    def module(self) -> ModuleType:
        # Kept once imported: import_module's own lookup costs a few microseconds on every attribute read,
        # which the prediction endpoint makes several of per request.
        module = self._module
        if module is None:
            module = self._module = import_module(self._name)
        return module

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy_module(name: str) -> LazyModule:
    return LazyModule(name)
