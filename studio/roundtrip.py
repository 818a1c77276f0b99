"""The studio and the content files, kept from overwriting each other.

For every item the files hold, `sync_plan` compares three digests of the same fields: the file's now, the file's
when the site last took it in (`FileBase`), and the database's. A file that says what it said last time leaves the
item alone, so an unchanged file never undoes a studio edit. A file that changed is taken in when the studio left
the item alone since (or already says what the studio says). When both changed, neither is lost: the database
keeps the studio's, and a `ContentConflict` holds the file's until an instructor chooses in the studio.
"""

from dataclasses import dataclass, field

from django.db.models import Max
from django.utils import timezone

from lessons.content_files import Content
from lessons.models import FaqEntry, GlossaryTerm, Lesson, Node, Question
from studio import item_data
from studio.item_data import Data
from studio.models import ContentConflict, FileBase, ItemKind, Revision


@dataclass(frozen=True)
class FileItem:
    kind: str
    key: str
    data: Data
    path: str
    lesson_file_hash: str = ""

    @property
    def digest(self) -> str:
        return item_data.digest(self.data)


@dataclass
class SyncPlan:
    items: list[FileItem]
    held: set[tuple[str, str]] = field(default_factory=set)
    """Items the sync leaves as the database has them."""
    conflicts: list[FileItem] = field(default_factory=list)
    taken: list[FileItem] = field(default_factory=list)
    """Items whose file the sync writes to the database."""

    def holds(self, kind: str, key: str) -> bool:
        return (kind, key) in self.held


def file_items(content: Content) -> list[FileItem]:
    found = []
    for node in content.nodes:
        found.append(FileItem(ItemKind.NODE, node.slug, item_data.node_data_from_file(node), node.path))
        for lesson in node.lessons:
            data = item_data.lesson_data_from_file(node.slug, lesson)
            found.append(FileItem(ItemKind.LESSON, f"{node.slug}/{lesson.slug}", data, lesson.path, lesson.file_hash))
        for question in node.questions:
            data = item_data.question_data_from_file(node.slug, question)
            found.append(FileItem(ItemKind.QUESTION, question.qid, data, question.path))
    glossary_path = content.nodes[0].path.rsplit("/", 2)[0] + "/glossary.yaml" if content.nodes else "glossary.yaml"
    for term in content.glossary:
        found.append(FileItem(ItemKind.TERM, term.slug, item_data.term_data_from_file(term), glossary_path))
    faq_path = glossary_path.replace("glossary.yaml", "faq.yaml")
    for entry in content.faq:
        found.append(FileItem(ItemKind.FAQ, str(entry.order), item_data.faq_data_from_file(entry), faq_path))
    return found


def stored_data(kind: str, keys: set[str]) -> dict[str, Data]:
    """The database's fields of these items, by key."""
    if not keys:
        return {}
    if kind == ItemKind.LESSON:
        rows = Lesson.objects.select_related("node")
        return {
            f"{r.node.slug}/{r.slug}": item_data.lesson_data_from_row(r)
            for r in rows
            if f"{r.node.slug}/{r.slug}" in keys
        }
    if kind == ItemKind.QUESTION:
        rows = Question.objects.select_related("node").prefetch_related("choices").filter(qid__in=keys)
        return {r.qid: item_data.question_data_from_row(r) for r in rows}
    if kind == ItemKind.NODE:
        rows = Node.objects.prefetch_related("prerequisites").filter(slug__in=keys)
        return {r.slug: item_data.node_data_from_row(r) for r in rows}
    if kind == ItemKind.TERM:
        return {r.slug: item_data.term_data_from_row(r) for r in GlossaryTerm.objects.filter(slug__in=keys)}
    orders = [int(key) for key in keys]
    return {str(r.order): item_data.faq_data_from_row(r) for r in FaqEntry.objects.filter(order__in=orders)}


def sync_plan(content: Content) -> SyncPlan:
    """Decide, for every item the files hold, whether the sync takes the file, leaves the item, or keeps both."""
    plan = SyncPlan(items=file_items(content))
    bases = {(b.kind, b.key): b.file_hash for b in FileBase.objects.all()}
    edited = {
        (row["kind"], row["key"])
        for row in Revision.objects.exclude(origin=Revision.Origin.FILE).values("kind", "key").distinct()
    }
    lesson_hashes = dict(
        ((slug_node, slug), file_hash)
        for slug_node, slug, file_hash in Lesson.objects.values_list("node__slug", "slug", "file_hash")
    )
    changed: list[FileItem] = []
    for item in plan.items:
        base = bases.get((item.kind, item.key))
        if base == item.digest:
            plan.held.add((item.kind, item.key))
        elif base is None and (item.kind, item.key) not in edited:
            node, _, slug = item.key.partition("/")
            if item.kind == ItemKind.LESSON and lesson_hashes.get((node, slug)) == item.lesson_file_hash:
                # From before the studio: an unchanged lesson file kept what the admin saved since.
                plan.held.add((item.kind, item.key))
            else:
                plan.taken.append(item)
        else:
            changed.append(item)
    by_kind: dict[str, set[str]] = {}
    for item in changed:
        by_kind.setdefault(item.kind, set()).add(item.key)
    stored = {(kind, key): data for kind, keys in by_kind.items() for key, data in stored_data(kind, keys).items()}
    for item in changed:
        data = stored.get((item.kind, item.key))
        base = bases.get((item.kind, item.key))
        if data is None or item_data.digest(data) in (item.digest, base):
            plan.taken.append(item)
        else:
            plan.held.add((item.kind, item.key))
            plan.conflicts.append(item)
    return plan


def sync_record(plan: SyncPlan) -> None:
    """After the sync wrote what it took: remember the files, keep a revision of each item a file changed,
    and keep (or refresh) a conflict for each item both changed."""
    taken = {(item.kind, item.key): item for item in plan.taken}
    conflicts = {(item.kind, item.key): item for item in plan.conflicts}
    FileBase.objects.bulk_create(
        [FileBase(kind=item.kind, key=item.key, file_hash=item.digest) for item in plan.taken],
        update_conflicts=True,
        unique_fields=["kind", "key"],
        update_fields=["file_hash", "updated_at"],
    )
    newest = {
        (row["kind"], row["key"]): row["number"]
        for row in Revision.objects.values("kind", "key").annotate(number=Max("number"))
    }
    known = {
        (r.kind, r.key): r.data
        for r in Revision.objects.filter(number__in=set(newest.values())).only("kind", "key", "number", "data")
        if newest.get((r.kind, r.key)) == r.number
    }
    loaded = [
        Revision(
            kind=item.kind,
            key=item.key,
            number=newest.get(key, 0) + 1,
            data=item.data,
            text=item_data.text_of(item.kind, item.data),
            origin=Revision.Origin.FILE,
            message=f"Loaded from {item.path}",
        )
        for key, item in taken.items()
        if known.get(key) != item.data
    ]
    Revision.objects.bulk_create(loaded)
    open_conflicts = {(c.kind, c.key): c for c in ContentConflict.objects.filter(resolved_at__isnull=True)}
    for key, conflict in open_conflicts.items():
        if key in taken:  # the file now says what the studio says, or the studio let go
            conflict.resolution, conflict.resolved_at = ContentConflict.Resolution.FILE, timezone.now()
            conflict.save(update_fields=["resolution", "resolved_at"])
    for key, item in conflicts.items():
        conflict = open_conflicts.get(key)
        if conflict is not None and conflict.file_hash == item.digest:
            continue
        conflict = conflict or ContentConflict(kind=item.kind, key=item.key)
        conflict.path, conflict.file_data, conflict.file_hash = item.path, item.data, item.digest
        conflict.file_text = item_data.text_of(item.kind, item.data)
        conflict.save()
