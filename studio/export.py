"""What the studio changed, as the content files a team commits.

An item is changed when it was saved in the studio and the database no longer says what its file says. A lesson or
a stage is its whole file; a question, a glossary term or an FAQ entry is one entry of a list file, so only that
entry's lines are rewritten and the rest of the file (its comments, its hand formatting, the other entries) is kept
byte for byte. Every file is read back with the content reader before it is offered: an export that would not sync
back to the same fields is refused instead of written.
"""

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.conf import settings
from django.utils import timezone

from lessons.content_files import ContentError, read_content, read_text
from mlopslab.refusals import Refused
from studio import item_data, items
from studio.item_data import Data
from studio.models import ItemKind, Revision
from studio.roundtrip import file_items, stored_data

WHOLE_FILES = (ItemKind.LESSON, ItemKind.NODE)


def content_root() -> Path:
    """The content folder the site syncs from; settings.CONTENT_ROOT points a test or a checkout elsewhere."""
    from lessons.services import CONTENT_ROOT

    return Path(getattr(settings, "CONTENT_ROOT", CONTENT_ROOT))


def export_writes() -> bool:
    """Whether the studio may write into the content folder itself: in development only (DEBUG), as a checkout."""
    return bool(getattr(settings, "STUDIO_EXPORT_WRITES", settings.DEBUG))


@dataclass
class ChangedItem:
    kind: str
    key: str
    data: Data
    new: bool
    """No file holds the item yet."""
    title: str = ""


@dataclass
class ExportFile:
    path: str
    """Relative to the content folder."""
    text: str
    items: list[ChangedItem] = field(default_factory=list)
    new: bool = False


def _read_files(root: Path) -> dict[tuple[str, str], Data]:
    try:
        content = read_content(root)
    except ContentError as error:
        first = error.problems[0]
        raise Refused(
            f"The content folder has {len(error.problems)} problem(s) to fix before an export, first {first}.",
            status=409,
        ) from None
    return {(item.kind, item.key): item.data for item in file_items(content)}


def changed_items(root: Path | None = None) -> list[ChangedItem]:
    """Items saved in the studio whose database fields differ from their file's (or which no file holds yet)."""
    on_disk = _read_files(root or content_root())
    edited: dict[str, set[str]] = {}
    for kind, key in (
        Revision.objects.exclude(origin=Revision.Origin.FILE).values_list("kind", "key").distinct().order_by()
    ):
        edited.setdefault(kind, set()).add(key)
    changed = []
    for kind in ItemKind.values:
        for key, data in sorted(stored_data(kind, edited.get(kind, set())).items()):
            file_data = on_disk.get((kind, key))
            if file_data is None or item_data.digest(file_data) != item_data.digest(data):
                changed.append(ChangedItem(kind, key, data, new=file_data is None))
    return changed


# --- one entry of a list file -----------------------------------------------------------------


def _entry_matches(kind: str, key: str, entry: object, position: int) -> bool:
    if not isinstance(entry, dict):
        return False
    if kind == ItemKind.QUESTION:
        return entry.get("id") == key
    if kind == ItemKind.TERM:
        return entry.get("slug") == key
    return str(position) == key


def _is_filler(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("#")


def splice_entry(text: str, kind: str, key: str, entry_text: str) -> str:
    """`text` (a YAML list file) with the item's entry replaced by `entry_text`, or appended when it has none."""
    lines = text.splitlines(keepends=True)
    node = yaml.compose(text) if text.strip() else None
    entries = node.value if isinstance(node, yaml.SequenceNode) else []
    values = yaml.safe_load(text) if entries else []
    starts = [entry.start_mark.line for entry in entries]
    new_lines = entry_text.splitlines(keepends=True)
    for position, (entry, start) in enumerate(zip(values, starts, strict=True), 1):
        if not _entry_matches(kind, key, entry, position):
            continue
        end = starts[position] if position < len(starts) else len(lines)
        block = lines[start:end]
        content_end = max((i for i, line in enumerate(block) if not _is_filler(line)), default=-1)
        # Blank lines and comments after the entry belong to the layout of the file, not to the entry.
        return "".join(lines[:start] + new_lines + block[content_end + 1 :] + lines[end:])
    body = text if not text or text.endswith("\n") else text + "\n"
    separator = "\n" if entries else ""
    return body + separator + entry_text


def _entry_of(kind: str, data: Data) -> str:
    if kind == ItemKind.QUESTION:
        return item_data.entry_text(item_data.question_entry(data))
    return item_data.text_of(kind, data)


# --- the files --------------------------------------------------------------------------------


def export_files(root: Path | None = None) -> list[ExportFile]:
    """Each content file the studio's changes touch, with its whole new text, checked by reading it back."""
    root = root or content_root()
    files: dict[str, ExportFile] = {}
    for item in changed_items(root):
        path = items.TYPES[item.kind].path(item.data)
        found = files.get(path)
        if found is None:
            on_disk = root / path
            existing = on_disk.read_text(encoding="utf-8") if on_disk.exists() else ""
            found = files[path] = ExportFile(path, existing, new=not on_disk.exists())
        if item.kind in WHOLE_FILES:
            found.text = item_data.text_of(item.kind, item.data)
        else:
            found.text = splice_entry(found.text, item.kind, item.key, _entry_of(item.kind, item.data))
        found.items.append(item)
    for export in files.values():
        _read_back(root, export)
    return sorted(files.values(), key=lambda f: f.path)


def _read_back(root: Path, export: ExportFile) -> None:
    read, problems = read_text(root, root / export.path, export.text)
    if problems:
        raise Refused(f"Not exported: {export.path} would not read back: {problems[0]}", status=409)
    wanted = {(item.kind, item.key): item.data for item in export.items}
    kind, first = export.items[0].kind, export.items[0].data
    back = {}
    for entry in read:
        if kind == ItemKind.LESSON:
            back[(kind, f"{first['node']}/{entry.slug}")] = item_data.lesson_data_from_file(first["node"], entry)
        elif kind == ItemKind.NODE:
            back[(kind, entry.slug)] = item_data.node_data_from_file(entry)
        elif kind == ItemKind.QUESTION:
            # A questions file is one stage's: every question in it belongs to the same stage.
            back[(kind, entry.qid)] = item_data.question_data_from_file(first["node"], entry)
        elif kind == ItemKind.TERM:
            back[(kind, entry.slug)] = item_data.term_data_from_file(entry)
        else:
            back[(kind, str(entry.order))] = item_data.faq_data_from_file(entry)
    for name, data in wanted.items():
        if back.get(name) != data:
            raise Refused(f"Not exported: {export.path} would not read back as the studio has {name[1]}.", status=409)


def export_zip(files: list[ExportFile]) -> bytes:
    """The files under `lessons/content/`, as they go in the repository, in one zip."""
    buffer = io.BytesIO()
    stamp = timezone.localtime().timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for export in files:
            info = zipfile.ZipInfo(f"lessons/content/{export.path}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, export.text.encode("utf-8"))
    return buffer.getvalue()


def export_write(files: list[ExportFile], root: Path | None = None) -> list[str]:
    """Write the files into the content folder (development only); returns their paths."""
    if not export_writes():
        raise Refused("This site does not write into its content folder; download the files instead.", status=403)
    root = root or content_root()
    written = []
    for export in files:
        target = (root / export.path).resolve()
        if not target.is_relative_to(root.resolve()):
            raise Refused(f"Not exported: {export.path} is outside the content folder.", status=409)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".tmp")
        partial.write_text(export.text, encoding="utf-8")
        partial.replace(target)
        written.append(export.path)
    return written
