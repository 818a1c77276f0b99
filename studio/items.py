"""The table of what the studio edits: how each kind is found, written to the database and checked.

The fields of each kind and their file text are `studio.item_data`'s.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lessons import content_files
from lessons.content_files import Problem
from lessons.models import Choice, FaqEntry, GlossaryTerm, Lesson, Node, Question
from lessons.prerequisites import prerequisite_cycle
from lessons.rendering import render_markdown
from lessons.selectors import cycle_titles, prerequisite_graph
from lessons.services import CONTENT_ROOT, database_resolver, glossary_entries, lesson_render
from studio.item_data import (
    Data,
    faq_data_from_row,
    lesson_data_from_row,
    node_data_from_row,
    node_text,
    question_data_from_row,
    term_data_from_row,
    text_of,
)
from studio.models import ItemKind


def lesson_apply(data: Data, lesson: Lesson | None) -> Lesson:
    lesson = lesson or Lesson(node=Node.objects.get(slug=data["node"]), slug=data["slug"])
    lesson.title, lesson.order, lesson.status, lesson.source = (
        data["title"],
        data["order"],
        data["status"],
        data["body"],
    )
    lesson_render(lesson=lesson)
    lesson.save()
    return lesson


def _html(source: str) -> str:
    return render_markdown(source).html if source else ""


def question_apply(data: Data, question: Question | None) -> Question:
    question = question or Question(qid=data["id"], node=Node.objects.get(slug=data["node"]))
    if question.pk is None:
        last = Question.objects.filter(node=question.node).order_by("-order").values_list("order", flat=True).first()
        question.order = (last or 0) + 1
    question.kind, question.difficulty, question.tags = data["kind"], data["difficulty"], data["tags"]
    question.prompt, question.prompt_html = data["prompt"], _html(data["prompt"])
    question.explanation, question.explanation_html = data["explanation"], _html(data["explanation"])
    question.answer = data["answer"]
    question.model_answer, question.model_answer_html = data["model_answer"], _html(data["model_answer"])
    question.save()
    # In place by position, as content sync does, so that answers already given keep pointing at their choice.
    current = {choice.order: choice for choice in question.choices.all()}
    for order, item in enumerate(data["choices"], 1):
        choice = current.pop(order, None) or Choice(question=question, order=order)
        choice.text, choice.text_html = item["text"], _html(item["text"])
        choice.correct = item["correct"]
        choice.feedback, choice.feedback_html = item["feedback"], _html(item["feedback"])
        choice.save()
    for choice in current.values():
        choice.delete()
    return question


def node_apply(data: Data, node: Node | None) -> Node:
    node = node or Node(slug=data["slug"])
    node.title, node.order, node.summary = data["title"], data["order"], data["summary"]
    node.objectives, node.challenge_key, node.pass_mark = data["objectives"], data["challenge"], data["pass_mark"]
    node.save()
    wanted = set(Node.objects.filter(slug__in=data["prerequisites"]).values_list("pk", flat=True))
    stored = set(node.prerequisites.values_list("pk", flat=True))
    node.prerequisites.remove(*(stored - wanted))
    node.prerequisites.add(*(wanted - stored))
    return node


def term_apply(data: Data, term: GlossaryTerm | None) -> GlossaryTerm:
    term = term or GlossaryTerm(slug=data["slug"])
    term.term, term.aliases, term.definition = data["term"], data["aliases"], data["definition"]
    term.match_case = data["match_case"]
    term.save()
    # Every lesson links the glossary's terms where they first appear, so a term's change is every lesson's.
    lessons_rerender()
    return term


def lessons_rerender() -> None:
    """Render every lesson again against the glossary and stages as they are now."""
    glossary, resolver = glossary_entries(GlossaryTerm.objects.all()), database_resolver()
    for lesson in Lesson.objects.select_related("node"):
        rendered = render_markdown(lesson.source, glossary=glossary, resolver=resolver)
        if (rendered.html, rendered.glossary_terms) != (lesson.html, lesson.glossary_terms):
            lesson.html, lesson.glossary_terms = rendered.html, rendered.glossary_terms
            lesson.save(update_fields=["html", "glossary_terms", "updated_at"])


def faq_apply(data: Data, entry: FaqEntry | None) -> FaqEntry:
    entry = entry or FaqEntry(order=data["order"])
    entry.question, entry.answer_source, entry.answer_html = data["question"], data["answer"], _html(data["answer"])
    entry.save()
    return entry


# --- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemType:
    kind: str
    key: Callable[[Data], str]
    """The item's name in the files, which revisions and conflicts are kept under."""
    lookup: Callable[[str], object | None]
    from_row: Callable[[object], Data]
    path: Callable[[Data], str]
    """The content file that holds it, relative to the content folder."""
    apply: Callable[[Data, object | None], object]
    """Writes the data to the database (rendering its Markdown) and returns the row."""

    def text(self, data: Data) -> str:
        """The item as its content file writes it: a whole file, or one entry of a list file."""
        return text_of(self.kind, data)


def _node_folder(slug: str) -> str:
    node = Node.objects.filter(slug=slug).only("source_path", "order").first()
    if node and node.source_path:
        return Path(node.source_path).parent.name
    return f"{node.order if node else 99:02d}-{slug}"


def _lesson_lookup(key: str) -> Lesson | None:
    node, _, slug = key.partition("/")
    return Lesson.objects.select_related("node").filter(node__slug=node, slug=slug).first()


def _lesson_path(data: Data) -> str:
    lesson = _lesson_lookup(f"{data['node']}/{data['slug']}")
    if lesson and lesson.source_path:
        return str(Path(*Path(lesson.source_path).parts[-2:]))
    return f"{_node_folder(data['node'])}/{data['order']:02d}-{data['slug']}.md"


TYPES: dict[str, ItemType] = {
    ItemKind.LESSON: ItemType(
        ItemKind.LESSON,
        key=lambda data: f"{data['node']}/{data['slug']}",
        lookup=_lesson_lookup,
        from_row=lesson_data_from_row,
        path=_lesson_path,
        apply=lesson_apply,
    ),
    ItemKind.QUESTION: ItemType(
        ItemKind.QUESTION,
        key=lambda data: data["id"],
        lookup=lambda key: Question.objects.select_related("node").prefetch_related("choices").filter(qid=key).first(),
        from_row=question_data_from_row,
        path=lambda data: f"{_node_folder(data['node'])}/questions.yaml",
        apply=question_apply,
    ),
    ItemKind.NODE: ItemType(
        ItemKind.NODE,
        key=lambda data: data["slug"],
        lookup=lambda key: Node.objects.prefetch_related("prerequisites").filter(slug=key).first(),
        from_row=node_data_from_row,
        path=lambda data: f"{_node_folder(data['slug'])}/node.yaml",
        apply=node_apply,
    ),
    ItemKind.TERM: ItemType(
        ItemKind.TERM,
        key=lambda data: data["slug"],
        lookup=lambda key: GlossaryTerm.objects.filter(slug=key).first(),
        from_row=term_data_from_row,
        path=lambda data: "glossary.yaml",
        apply=term_apply,
    ),
    ItemKind.FAQ: ItemType(
        ItemKind.FAQ,
        key=lambda data: str(data["order"]),
        lookup=lambda key: FaqEntry.objects.filter(order=int(key)).first() if key.isdigit() else None,
        from_row=faq_data_from_row,
        path=lambda data: "faq.yaml",
        apply=faq_apply,
    ),
}


# --- checking an edit the way sync checks the files -------------------------------------------


def check(kind: str, data: Data, *, root: Path = CONTENT_ROOT) -> list[Problem]:
    """Every problem `sync_content` would report of this item as its file, by line of `TYPES[kind].text(data)`,
    and the problems only the whole course shows: links to lessons, stages or terms that do not exist, and
    prerequisites that are unknown or close a cycle."""
    item = TYPES[kind]
    text = item.text(data)
    path = root / item.path(data)
    found, problems = content_files.read_text(root, path, text)
    if problems:
        return problems
    name = str(Path(*path.parts[-2:])) if kind in (ItemKind.LESSON, ItemKind.QUESTION, ItemKind.NODE) else path.name
    if kind == ItemKind.LESSON:
        lesson = found[0]
        rendered = render_markdown(
            lesson.body,
            glossary=glossary_entries(GlossaryTerm.objects.all()),
            resolver=_resolver_with(data),
            line_offset=lesson.body_line - 1,
        )
        problems += [Problem(name, line, message) for line, message in rendered.problems]
    if kind == ItemKind.NODE:
        problems += _node_problems(name, data)
    return problems


def _resolver_with(data: Data) -> Callable[[str], str | None]:
    """The course's links, and this lesson's own (new lessons may link to themselves)."""
    resolve = database_resolver()
    own = f"lesson:{data['node']}/{data['slug']}"
    return lambda target: resolve(target) or ("#" if target == own else None)


def _node_problems(name: str, data: Data) -> list[Problem]:
    line = 1 + next((i for i, row in enumerate(node_text(data).splitlines()) if row.startswith("prerequisites")), 0)
    slugs = dict(Node.objects.values_list("slug", "pk"))
    problems = [
        Problem(name, line, f"unknown prerequisite {slug!r}") for slug in data["prerequisites"] if slug not in slugs
    ]
    if data["slug"] in data["prerequisites"]:
        problems.append(Problem(name, line, "a stage cannot require itself"))
    if problems:
        return problems
    me = slugs.get(data["slug"], 0)
    graph = prerequisite_graph(without_node=me or None)
    graph[me] = [slugs[slug] for slug in data["prerequisites"]]
    cycle = prerequisite_cycle(graph)
    if cycle is not None:
        return [Problem(name, line, f"prerequisites would form a cycle: {cycle_titles(cycle)}")]
    return []
