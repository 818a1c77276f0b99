"""The registry behind each node's sandbox challenge.

`lessons` never imports `sandbox`: the sandbox registers a check for a challenge
key (see sandbox/challenges.py), and lessons asks the registry. A node whose key
has no check yet completes on its quiz alone.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.contrib.auth.models import User


@dataclass(frozen=True)
class ChallengeStatus:
    title: str
    steps: list[tuple[str, bool]] = field(default_factory=list)
    """Each requirement in words, and whether the learner has met it."""

    @property
    def met(self) -> bool:
        return all(done for _, done in self.steps)

    def all_met(self) -> "ChallengeStatus":
        """The same challenge with every step shown as met, for a learner who met it once already."""
        return ChallengeStatus(title=self.title, steps=[(step, True) for step, _ in self.steps])


ChallengeCheck = Callable[[User], ChallengeStatus]
_checks: dict[str, ChallengeCheck] = {}


def register(key: str) -> Callable[[ChallengeCheck], ChallengeCheck]:
    def decorate(check: ChallengeCheck) -> ChallengeCheck:
        if key in _checks and _checks[key] is not check:
            raise ValueError(f"challenge {key!r} already has a check")
        _checks[key] = check
        return check

    return decorate


def unregister(key: str) -> None:
    """Forget the check for `key`; a key with no check is left as it is."""
    _checks.pop(key, None)


@contextmanager
def registered(key: str, check: ChallengeCheck) -> Iterator[ChallengeCheck]:
    """Register `check` for `key` while the block runs, and remove it afterwards, as a test needs."""
    register(key)(check)
    try:
        yield check
    finally:
        unregister(key)


def challenge_keys() -> list[str]:
    """Every challenge key a check is registered for, in order."""
    return sorted(_checks)


def challenge_status(key: str, user: User) -> ChallengeStatus | None:
    """The learner's standing on the challenge, or None when no check is registered for the key."""
    check = _checks.get(key)
    return check(user) if check else None
