"""Saving an item from the studio keeps a revision; any two revisions diff as their file text; an old one restores
as a new one. Two instructors editing the same item never lose each other's work: a save names the revision it
began from, and one that began from an older revision than the newest is refused with the diff against it."""

import difflib
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from lessons.content_files import Problem
from mlopslab.refusals import Refused
from studio import items
from studio.item_data import Data
from studio.models import Revision


class Invalid(Refused):
    """The edit fails a check the content files would fail too; `problems` name each by line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("Not saved: " + "; ".join(f"line {p.line}: {p.message}" for p in problems), status=422)
        self.problems = problems


class StaleEdit(Refused):
    """Someone saved the item after this edit began; `newer` is their revision, `rows` the diff to the edit."""

    def __init__(self, newer: Revision, text: str) -> None:
        who = newer.author.username if newer.author else "the content files"
        super().__init__(
            f"Not saved: {who} saved revision {newer.number} of this item while you were editing. "
            "Your text is kept below beside theirs; copy what you need into the newer revision.",
            status=409,
        )
        self.newer = newer
        self.text = text
        self.rows = diff_rows(newer.text, text)


@dataclass(frozen=True)
class DiffRow:
    """One line of a side-by-side diff: `tag` is equal, replace, delete or insert."""

    tag: str
    left_number: int | None
    left: str
    right_number: int | None
    right: str


def diff_rows(left: str, right: str) -> list[DiffRow]:
    a, b = left.splitlines(), right.splitlines()
    rows = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        for offset in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + offset, j1 + offset
            rows.append(
                DiffRow(
                    tag,
                    i + 1 if i < i2 else None,
                    a[i] if i < i2 else "",
                    j + 1 if j < j2 else None,
                    b[j] if j < j2 else "",
                )
            )
    return rows


def latest_revision(*, kind: str, key: str) -> Revision | None:
    return Revision.objects.filter(kind=kind, key=key).select_related("author").order_by("-number").first()


def item_save(
    *,
    kind: str,
    data: Data,
    author: User | None,
    message: str = "",
    base_number: int | None,
    origin: str = Revision.Origin.STUDIO,
) -> Revision:
    """Check the item as its file would be checked, write it and keep a revision.

    `base_number` is the revision the edit began from (0 for an item with none yet), or None to create a new
    item, which is refused if one by that name exists. Raises Invalid or StaleEdit having changed nothing; an
    edit that changes nothing returns the newest revision as it is.
    """
    item = items.TYPES[kind]
    key = item.key(data)
    problems = items.check(kind, data)
    if problems:
        raise Invalid(problems)
    text = item.text(data)
    try:
        with transaction.atomic():
            newest = (
                Revision.objects.select_for_update(of=("self",))
                .select_related("author")
                .filter(kind=kind, key=key)
                .order_by("-number")
                .first()
            )
            row = item.lookup(key)
            if base_number is None and (row is not None or newest is not None):
                raise Refused(f"Not saved: there is already a {kind} named {key!r}.", status=409)
            if base_number is not None and row is None:
                raise Refused(f"Not saved: there is no {kind} named {key!r} any more.", status=404)
            number = newest.number if newest else 0
            if base_number is not None and base_number != number:
                raise StaleEdit(newest, text)
            if newest is not None and newest.data == data:
                return newest
            if newest is None and row is not None:
                # An item from before the studio kept revisions: its state before this edit is revision 1.
                before = item.from_row(row)
                number = 1
                Revision.objects.create(
                    kind=kind, key=key, number=number, data=before, text=item.text(before),
                    origin=Revision.Origin.FILE, message="As it was before its first edit in the studio",
                )  # fmt: skip
            item.apply(data, row)
            return Revision.objects.create(
                kind=kind, key=key, number=number + 1, data=data, text=text, origin=origin, author=author,
                message=message[:200],
            )  # fmt: skip
    except IntegrityError:
        # Another save took the same number between our read and our write.
        raise StaleEdit(latest_revision(kind=kind, key=key), text) from None


def item_restore(*, kind: str, key: str, number: int, author: User, base_number: int) -> Revision:
    """Save an older revision's fields as a new revision, checked as any edit is."""
    old = Revision.objects.filter(kind=kind, key=key, number=number).first()
    if old is None:
        raise Refused(f"There is no revision {number} of this {kind}.", status=404)
    return item_save(
        kind=kind, data=old.data, author=author, message=f"Restored revision {number}", base_number=base_number,
        origin=Revision.Origin.RESTORE,
    )  # fmt: skip
