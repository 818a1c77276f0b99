import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse

from lessons.content_files import Content, ContentError, Problem, read_content
from lessons.models import (
    Choice,
    FaqEntry,
    GlossaryTerm,
    LearnerProfile,
    Lesson,
    LessonRead,
    Node,
    NodeProgress,
    Question,
    RenderedMarkdown,
)
from lessons.rendering import (
    GlossaryEntry,
    LinkResolver,
    MarkdownRenderer,
    Rendered,
    render_markdown,
    renderer_digest,
)
from studio import roundtrip

CONTENT_ROOT = Path(__file__).resolve().parent / "content"
QUESTION_MARKDOWN = ("prompt", "explanation", "model_answer")


@dataclass
class SyncReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    rendered: int = 0
    """Markdown fragments rendered by this sync; the rest were found already rendered."""
    conflicts: list[str] = field(default_factory=list)
    """Items a file and the studio both changed: the studio's kept, the file's waiting in the studio."""

    def count(self, bucket: dict[str, int], kind: str) -> None:
        bucket[kind] = bucket.get(kind, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed)

    def __str__(self) -> str:
        conflicts = ""
        if self.conflicts:
            conflicts = (
                f" {len(self.conflicts)} changed both in its file and in the studio, so both versions are kept"
                f" (the studio's is live) until you choose in the studio's Conflicts page: {', '.join(self.conflicts)}."
            )
        if not self.changed:
            return "Content is up to date: nothing changed." + conflicts
        parts = []
        for verb, bucket in (("created", self.created), ("updated", self.updated), ("removed", self.removed)):
            parts += [f"{count} {kind} {verb}" for kind, count in sorted(bucket.items())]
        return "Content synced: " + ", ".join(parts) + "." + conflicts


def glossary_entries(terms: Iterable[GlossaryTerm]) -> list[GlossaryEntry]:
    return [
        GlossaryEntry(
            slug=t.slug,
            term=t.term,
            variants=(t.term, *t.aliases),
            definition=t.definition,
            match_case=t.match_case,
        )
        for t in terms
    ]


def link_targets(
    node_slugs: Iterable[str], lesson_keys: Iterable[tuple[str, str]], glossary_slugs: Iterable[str] = ()
) -> dict[str, str]:
    """The URL of every `node:slug`, `lesson:node/slug` and `glossary:slug` a lesson can link to."""
    targets = {f"node:{slug}": reverse("lessons:node", args=[slug]) for slug in node_slugs}
    for node, lesson in lesson_keys:
        targets[f"lesson:{node}/{lesson}"] = reverse("lessons:lesson", args=[node, lesson])
    glossary = reverse("lessons:glossary")
    targets.update({f"glossary:{slug}": f"{glossary}#{slug}" for slug in glossary_slugs})
    return targets


def link_resolver(
    node_slugs: Iterable[str], lesson_keys: Iterable[tuple[str, str]], glossary_slugs: Iterable[str] = ()
) -> LinkResolver:
    return link_targets(node_slugs, lesson_keys, glossary_slugs).get


def database_resolver() -> LinkResolver:
    """Resolves a lesson's links against the course as the database holds it now."""
    return link_resolver(
        Node.objects.values_list("slug", flat=True),
        Lesson.objects.values_list("node__slug", "slug"),
        GlossaryTerm.objects.values_list("slug", flat=True),
    )


def lesson_render(*, lesson: Lesson) -> list[str]:
    """Render the lesson's source into its stored HTML; return problems an author should fix."""
    rendered = render_markdown(
        lesson.source, glossary=glossary_entries(GlossaryTerm.objects.all()), resolver=database_resolver()
    )
    _apply_rendering(lesson, rendered)
    return [f"line {line}: {message}" for line, message in rendered.problems]


def _rendering_values(rendered: Rendered) -> dict[str, object]:
    return {
        "html": rendered.html,
        "toc": rendered.toc,
        "glossary_terms": rendered.glossary_terms,
        "word_count": rendered.word_count,
        "reading_minutes": rendered.reading_minutes,
    }


def _apply_rendering(lesson: Lesson, rendered: Rendered) -> None:
    for name, value in _rendering_values(rendered).items():
        setattr(lesson, name, value)


def _save_if_changed(obj: object, values: dict, report: SyncReport, kind: str) -> bool:
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    if obj.pk is None:
        obj.save()
        report.count(report.created, kind)
        return True
    if changed:
        obj.save()
        report.count(report.updated, kind)
        return True
    return False


class _RenderCache:
    """Renderings from earlier syncs, by the digest of renderer, context and source.

    `render` renders only a digest not seen before; `save` stores the new renderings and removes
    those this sync did not ask for, so the table holds what the content uses now and no more.
    """

    def __init__(self, report: SyncReport) -> None:
        self.report = report
        self.stored = dict(RenderedMarkdown.objects.values_list("digest", "rendered"))
        self.new: dict[str, dict] = {}
        self.used: set[str] = set()

    @staticmethod
    def digest(*parts: str) -> str:
        digest = hashlib.sha256(renderer_digest().encode())
        for part in parts:
            data = part.encode()
            digest.update(b"\0%d\0" % len(data))
            digest.update(data)
        return digest.hexdigest()

    def render(self, digest: str, render: Callable[[], Rendered]) -> Rendered:
        self.used.add(digest)
        found = self.stored.get(digest) or self.new.get(digest)
        if found is not None:
            return Rendered.from_json(found)
        rendered = render()
        self.report.rendered += 1
        self.new[digest] = rendered.to_json()
        return rendered

    def html(self, source: str) -> str:
        """A plain fragment's HTML: an answer, a prompt, a choice; empty for empty source."""
        if not source:
            return ""
        return self.render(self.digest("fragment", source), lambda: render_markdown(source)).html

    def save(self) -> None:
        RenderedMarkdown.objects.bulk_create(
            [RenderedMarkdown(digest=digest, rendered=rendered) for digest, rendered in self.new.items()],
            ignore_conflicts=True,
        )
        unused = sorted(set(self.stored) - self.used)
        for start in range(0, len(unused), 500):
            RenderedMarkdown.objects.filter(digest__in=unused[start : start + 500]).delete()


def _render_lessons(
    content: Content, existing: dict[tuple[str, str], Lesson], cache: _RenderCache, plan: roundtrip.SyncPlan
) -> dict[str, tuple[str, Rendered]]:
    """Render every lesson before anything is written, so a broken link stops the whole sync."""
    glossary = [
        GlossaryEntry(g.slug, g.term, (g.term, *g.aliases), g.definition, g.match_case) for g in content.glossary
    ]
    targets = link_targets(
        (n.slug for n in content.nodes),
        ((n.slug, lesson.slug) for n in content.nodes for lesson in n.lessons),
        (g.slug for g in content.glossary),
    )
    # A lesson renders the same while its source, line offset, glossary and link targets do.
    context = repr((sorted(targets.items()), [(g.slug, g.term, g.variants, g.match_case) for g in glossary]))
    renderer: MarkdownRenderer | None = None

    def render(source: str, line_offset: int) -> Rendered:
        nonlocal renderer
        renderer = renderer or MarkdownRenderer(glossary, targets.get)
        return renderer(source, line_offset=line_offset)

    problems, results = [], {}
    for node in content.nodes:
        for lesson_file in node.lessons:
            current = existing.get((node.slug, lesson_file.slug))
            held = plan.holds("lesson", f"{node.slug}/{lesson_file.slug}") and current is not None
            # A lesson the sync leaves as the studio has it is still rendered against the course as it is now.
            source = current.source if held else lesson_file.body
            offset = lesson_file.body_line - 1
            rendered = cache.render(
                cache.digest("lesson", context, str(offset), source), lambda s=source, o=offset: render(s, o)
            )
            problems += [Problem(lesson_file.path, line, message) for line, message in rendered.problems]
            results[lesson_file.path] = (source, rendered)
    if problems:
        raise ContentError(problems)
    return results


def content_sync(*, root: Path = CONTENT_ROOT) -> SyncReport:
    """Load the content folder into the database in one transaction, changing only what differs.

    An item whose file is unchanged since the last sync keeps what the studio saved since; one changed both in its
    file and in the studio keeps the studio's and is reported as a conflict (see `studio.roundtrip`).
    Raises ContentError, having written nothing, when any file is invalid.
    """
    content = read_content(root)
    report = SyncReport()
    with transaction.atomic():
        plan = roundtrip.sync_plan(content)
        cache = _RenderCache(report)
        existing = {(lesson.node.slug, lesson.slug): lesson for lesson in Lesson.objects.select_related("node")}
        rendered = _render_lessons(content, existing, cache, plan)
        _sync_glossary(content, report, plan)
        _sync_faq(content, report, cache, plan)
        nodes = _sync_nodes(content, report, plan)
        _sync_lessons(content, nodes, existing, rendered, report, plan)
        _sync_questions(content, nodes, report, cache, plan)
        cache.save()
        roundtrip.sync_record(plan)
    report.conflicts = [f"{item.kind} {item.key} ({item.path})" for item in plan.conflicts]
    return report


def _sync_glossary(content: Content, report: SyncReport, plan: roundtrip.SyncPlan) -> None:
    current = {term.slug: term for term in GlossaryTerm.objects.all()}
    for entry in content.glossary:
        if plan.holds("term", entry.slug) and current.pop(entry.slug, None):
            continue
        values = {
            "term": entry.term,
            "aliases": entry.aliases,
            "definition": entry.definition,
            "match_case": entry.match_case,
        }
        _save_if_changed(current.pop(entry.slug, GlossaryTerm(slug=entry.slug)), values, report, "glossary terms")
    for term in current.values():
        term.delete()
        report.count(report.removed, "glossary terms")


def _sync_faq(content: Content, report: SyncReport, cache: _RenderCache, plan: roundtrip.SyncPlan) -> None:
    current = {entry.order: entry for entry in FaqEntry.objects.all()}
    for item in content.faq:
        if plan.holds("faq", str(item.order)) and (held := current.pop(item.order, None)):
            # Left as the studio has it, and rendered as everything else is.
            _save_if_changed(held, {"answer_html": cache.html(held.answer_source)}, report, "FAQ entries")
            continue
        html = cache.html(item.answer)
        values = {"question": item.question, "answer_source": item.answer, "answer_html": html}
        _save_if_changed(current.pop(item.order, FaqEntry(order=item.order)), values, report, "FAQ entries")
    for entry in current.values():
        entry.delete()
        report.count(report.removed, "FAQ entries")


def _sync_nodes(content: Content, report: SyncReport, plan: roundtrip.SyncPlan) -> dict[str, Node]:
    current = {node.slug: node for node in Node.objects.prefetch_related("prerequisites")}
    nodes = {}
    for node_file in content.nodes:
        values = {
            "title": node_file.title,
            "order": node_file.order,
            "summary": node_file.summary,
            "objectives": node_file.objectives,
            "challenge_key": node_file.challenge_key,
            "pass_mark": node_file.pass_mark,
            "source_path": node_file.path,
        }
        node = current.pop(node_file.slug, None) or Node(slug=node_file.slug)
        if node.pk is None or not plan.holds("node", node.slug):
            _save_if_changed(node, values, report, "nodes")
        nodes[node.slug] = node
    # Every removal before any addition: the graph in between is then part of the new one, which
    # the files were checked to keep free of cycles, so the guard against cycles never refuses it.
    changed = []
    for node_file in content.nodes:
        node = nodes[node_file.slug]
        if plan.holds("node", node.slug):
            continue
        wanted = {nodes[name].pk for name in node_file.prerequisites}
        stored = {p.pk for p in node.prerequisites.all()}
        if stored != wanted:
            node.prerequisites.remove(*(stored - wanted))
            changed.append((node, wanted - stored))
    for node, added in changed:
        node.prerequisites.add(*added)
        report.count(report.updated, "prerequisite lists")
    for node in current.values():
        if node.source_path:
            node.delete()
            report.count(report.removed, "nodes")
    return nodes


def _sync_lessons(
    content: Content,
    nodes: dict[str, Node],
    existing: dict[tuple[str, str], Lesson],
    rendered: dict[str, tuple[str, Rendered]],
    report: SyncReport,
    plan: roundtrip.SyncPlan,
) -> None:
    for node_file in content.nodes:
        for lesson_file in node_file.lessons:
            lesson = existing.pop((node_file.slug, lesson_file.slug), None)
            source, result = rendered[lesson_file.path]
            if lesson is not None and plan.holds("lesson", f"{node_file.slug}/{lesson_file.slug}"):
                _save_if_changed(lesson, _rendering_values(result), report, "lessons")
                continue
            lesson = lesson or Lesson(node=nodes[node_file.slug], slug=lesson_file.slug)
            values = {
                "title": lesson_file.title,
                "order": lesson_file.order,
                "status": lesson_file.status,
                "source": source,
                **_rendering_values(result),
                "source_path": lesson_file.path,
                "file_hash": lesson_file.file_hash,
            }
            _save_if_changed(lesson, values, report, "lessons")
    for lesson in existing.values():
        if lesson.source_path:
            lesson.delete()
            report.count(report.removed, "lessons")


def _sync_questions(
    content: Content, nodes: dict[str, Node], report: SyncReport, cache: _RenderCache, plan: roundtrip.SyncPlan
) -> None:
    current = {q.qid: q for q in Question.objects.prefetch_related("choices")}
    for node_file in content.nodes:
        for order, item in enumerate(node_file.questions, 1):
            question = current.pop(item.qid, None)
            if question is not None and plan.holds("question", item.qid):
                # Left as the studio has it, and rendered as everything else is.
                values = {f"{name}_html": cache.html(getattr(question, name)) for name in QUESTION_MARKDOWN}
                _save_if_changed(question, values, report, "questions")
                for choice in question.choices.all():
                    values = {f"{name}_html": cache.html(getattr(choice, name)) for name in ("text", "feedback")}
                    _save_if_changed(choice, values, report, "choices")
                continue
            question = question or Question(qid=item.qid)
            values = {
                "node_id": nodes[node_file.slug].pk,
                "kind": item.kind,
                "order": order,
                "difficulty": item.difficulty,
                "tags": item.tags,
                "prompt": item.prompt,
                "prompt_html": cache.html(item.prompt),
                "explanation": item.explanation,
                "explanation_html": cache.html(item.explanation),
                "answer": item.answer,
                "model_answer": item.model_answer,
                "model_answer_html": cache.html(item.model_answer),
                "source_path": item.path,
            }
            _save_if_changed(question, values, report, "questions")
            _sync_choices(question, item.choices, report, cache)
    for question in current.values():
        if question.source_path:
            question.delete()
            report.count(report.removed, "questions")


def _sync_choices(question: Question, choices: list, report: SyncReport, cache: _RenderCache) -> None:
    # Updated in place by position, so answers already given keep pointing at their choice.
    current = {choice.order: choice for choice in question.choices.all()}
    for order, item in enumerate(choices, 1):
        choice = current.pop(order, None) or Choice(question=question, order=order)
        values = {
            "text": item.text,
            "text_html": cache.html(item.text),
            "correct": item.correct,
            "feedback": item.feedback,
            "feedback_html": cache.html(item.feedback),
        }
        _save_if_changed(choice, values, report, "choices")
    for choice in current.values():
        choice.delete()
        report.count(report.removed, "choices")


def lesson_mark_read(*, user: User, lesson: Lesson) -> None:
    """Record that the learner read the lesson, and that they have started its node. Idempotent."""
    with transaction.atomic():
        LessonRead.objects.get_or_create(user=user, lesson=lesson)
        NodeProgress.objects.get_or_create(user=user, node=lesson.node)


def profile_free_roam_set(*, user: User, on: bool) -> LearnerProfile:
    """Switch free roam on or off for the learner, creating their profile on first use."""
    profile, _ = LearnerProfile.objects.update_or_create(user=user, defaults={"free_roam": on})
    return profile
