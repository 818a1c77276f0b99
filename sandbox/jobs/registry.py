"""What each kind of job runs, filled at app start by the capability that owns the kind.

`sandbox.jobs` knows no kind of its own work: training registers its runners from
`sandbox.tracking.runners`, the first-model demo from `sandbox.jobs.runners`, and later
capabilities the same way. A runner takes the claimed job and a progress callback and
returns the result to keep on the row; it raises `JobError` with a sentence a learner can
act on, and any other exception is reported as unexpected. `on_fail`, when given, ends
whatever the job was working on (its runs, say) when the job ends in failure by any route.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ProgressCallback = Callable[[int, str], None]
Runner = Callable[[Any, ProgressCallback], dict]
FailHook = Callable[[int, str], None]


class JobError(Exception):
    """A failure whose message is written for the learner."""


@dataclass(frozen=True)
class JobKind:
    key: str
    label: str
    run: Runner
    on_fail: FailHook | None = None


_kinds: dict[str, JobKind] = {}


def register_runner(key: str, *, label: str, on_fail: FailHook | None = None) -> Callable[[Runner], Runner]:
    def decorate(run: Runner) -> Runner:
        existing = _kinds.get(key)
        if existing is not None and existing.run is not run:
            raise ValueError(f"job kind {key!r} already has a runner")
        _kinds[key] = JobKind(key=key, label=label, run=run, on_fail=on_fail)
        return run

    return decorate


def job_kind(key: str) -> JobKind | None:
    return _kinds.get(key)
