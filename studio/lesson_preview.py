"""A lesson as its editor shows it while the instructor types: the HTML the lesson page would show, the problems a
save would be refused for, by line of the lesson's file, and its length.

One rendering does both jobs. `studio.items.check` renders the body to find broken links and would then be
rendered again for the HTML; here the front matter is read by the same reader (`content_files.read_text`) and the
body rendered once, by the renderer and sanitizer the lesson page's stored HTML comes from
(`render_markdown` with the glossary and the course's links), with the links' lines counted in the whole file as
`check` counts them. The tests hold the two to the same problems. Nothing is written.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.urls import reverse

from lessons import content_files
from lessons.content_files import Problem
from lessons.models import GlossaryTerm
from lessons.rendering import WORDS_PER_MINUTE, Rendered, render_markdown
from lessons.services import CONTENT_ROOT, database_resolver, glossary_entries
from studio import items
from studio.item_data import Data, lesson_front_matter
from studio.models import ItemKind

__all__ = ["WORDS_PER_MINUTE", "Preview", "body_offset", "lesson_preview"]


@dataclass
class Preview:
    html: str
    problems: list[Problem] = field(default_factory=list)
    word_count: int = 0
    reading_minutes: int = 1
    offset: int = 0
    """Lines of the file before the body: body line n is line `offset + n` of the file."""

    @property
    def problem_lines(self) -> set[int]:
        return {problem.line for problem in self.problems}


def body_offset(data: Data) -> int:
    """How many lines of the lesson's file come before its body: the front matter and its two dashed lines."""
    return len(lesson_front_matter(data).splitlines()) + 2


def _resolver(data: Data) -> Callable[[str], str | None]:
    """The course's links as the lesson page resolves them, and the lesson's own (a new lesson may link to itself,
    which `check` allows too)."""
    resolve = database_resolver()
    own = f"lesson:{data['node']}/{data['slug']}"

    def resolver(target: str) -> str | None:
        found = resolve(target)
        if found is None and target == own:
            return reverse("lessons:lesson", args=[data["node"], data["slug"]])
        return found

    return resolver


def lesson_preview(data: Data, *, root: Path = CONTENT_ROOT) -> Preview:
    """Render the lesson `data` describes and find what `items.check` would refuse, by line of its file."""
    item = items.TYPES[ItemKind.LESSON]
    text = item.text(data)
    path = root / item.path(data)
    _, problems = content_files.read_text(root, path, text)
    offset = body_offset(data)
    rendered: Rendered = render_markdown(
        data["body"],
        glossary=glossary_entries(GlossaryTerm.objects.all()),
        resolver=_resolver(data),
        line_offset=offset,
    )
    if not problems:
        # As check: the links are looked at once the file reads, named as sync names the file.
        name = str(Path(*path.parts[-2:]))
        problems = [Problem(name, line, message) for line, message in rendered.problems]
    return Preview(
        html=rendered.html,
        problems=problems,
        word_count=rendered.word_count,
        reading_minutes=rendered.reading_minutes,
        offset=offset,
    )
