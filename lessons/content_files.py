"""Read `lessons/content/` into plain objects, or say exactly what is wrong and where.

Nothing here touches the database: `lessons.services.content_sync` writes what
this module read, and only when it read everything without an error.
"""

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lessons.question_kinds import KINDS

# libyaml's parser when PyYAML was built with it: the same YAML and the same marks, parsed in C.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CHALLENGE_KEY = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")
LESSON_STATUSES = ("draft", "published")
RESERVED_LESSON_SLUGS = {"quiz"}


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ContentError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


@dataclass
class LessonFile:
    path: str
    slug: str
    title: str
    order: int
    status: str
    body: str
    body_line: int
    """Line of the file on which the Markdown body starts (1-based)."""
    file_hash: str


@dataclass
class ChoiceFile:
    text: str
    correct: bool
    feedback: str


@dataclass
class QuestionFile:
    path: str
    line: int
    qid: str
    kind: str
    prompt: str
    explanation: str
    difficulty: int
    tags: list[str]
    choices: list[ChoiceFile]
    answer: dict
    model_answer: str


@dataclass
class NodeFile:
    path: str
    slug: str
    title: str
    order: int
    prerequisites: list[str]
    prerequisite_lines: dict[str, int]
    summary: str
    objectives: list[str]
    challenge_key: str
    pass_mark: int = 80
    lessons: list[LessonFile] = field(default_factory=list)
    questions: list[QuestionFile] = field(default_factory=list)


@dataclass
class GlossaryFile:
    slug: str
    term: str
    aliases: list[str]
    definition: str
    match_case: bool


@dataclass
class FaqFile:
    order: int
    question: str
    answer: str


@dataclass
class Content:
    nodes: list[NodeFile]
    glossary: list[GlossaryFile]
    faq: list[FaqFile]


class _Reader:
    """Collects problems instead of stopping at the first one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def rel(self, path: Path) -> str:
        base = self.root.parent.parent
        return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)

    def problem(self, path: Path | str, line: int, message: str) -> None:
        self.problems.append(Problem(path if isinstance(path, str) else self.rel(path), line, message))

    def load_yaml(self, path: Path, text: str, first_line: int = 1) -> tuple[object, dict, yaml.Node | None]:
        """Parse YAML once, returning the data, for a mapping the line of each top-level key, and the node tree."""
        loader = YAML_LOADER(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            # An error at the end of the text (an unclosed bracket or quote) is marked on the line after the
            # last, and libyaml does so even without a final line break: name the last line either way.
            line = first_line + (min(mark.line, max(len(text.splitlines()) - 1, 0)) if mark else 0)
            self.problem(path, line, f"malformed YAML: {getattr(exc, 'problem', None) or exc}")
            return None, {}, None
        except ValueError as exc:  # a scalar that looks like a date or a number but is none, such as 2024-13-45
            self.problem(path, first_line, f"malformed YAML: {exc}")
            return None, {}, None
        finally:
            loader.dispose()
        lines = {}
        if isinstance(node, yaml.MappingNode):
            lines = {key.value: first_line + key.start_mark.line for key, _ in node.value}
        return data, lines, node

    def entries(self, path: Path, what: str, text: str | None = None) -> list[tuple[dict, int, dict]]:
        """The mappings of a YAML list file (or of `text`, as that file), each with its line and its keys' lines."""
        if text is None:
            if not path.exists():
                return []
            text = path.read_text(encoding="utf-8-sig")
        data, _, node = self.load_yaml(path, text)
        if data is None:
            return []
        if not isinstance(data, list):
            self.problem(path, 1, f"{path.name} must be a list of {what}")
            return []
        found = []
        for item, item_node in zip(data, node.value, strict=True):
            line = item_node.start_mark.line + 1
            if not isinstance(item, dict):
                self.problem(path, line, f"each entry of {path.name} must be a mapping")
                continue
            found.append((item, line, {key.value: key.start_mark.line + 1 for key, _ in item_node.value}))
        return found

    def require(self, path: Path, data: dict, lines: dict, key: str, kind: type, line: int = 1) -> object:
        if key not in data:
            self.problem(path, line, f"missing required key {key!r}")
            return None
        value = data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem(path, lines.get(key, line), f"{key!r} must be {kind.__name__}, not {type(value).__name__}")
            return None
        if kind is str and not value.strip():
            self.problem(path, lines.get(key, line), f"{key!r} must not be empty")
            return None
        return value

    def slug(self, path: Path, data: dict, lines: dict, line: int = 1) -> str | None:
        value = self.require(path, data, lines, "slug", str, line)
        if value is not None and not SLUG.match(value):
            self.problem(path, lines.get("slug", line), f"slug {value!r} must be lowercase words joined by hyphens")
            return None
        return value


def _string_list(reader: _Reader, path: Path, data: dict, lines: dict, key: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        reader.problem(path, lines.get(key, 1), f"{key!r} must be a list of strings")
        return []
    return value


def _read_lesson(reader: _Reader, path: Path, raw: bytes | None = None) -> LessonFile | None:
    raw = path.read_bytes() if raw is None else raw
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        reader.problem(path, 1, f"not UTF-8 ({exc.reason} at byte {exc.start})")
        return None
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        reader.problem(path, 1, "front matter must start the file with a line of three dashes (---)")
        return None
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        reader.problem(path, 1, "front matter is not closed by a line of three dashes (---)")
        return None
    data, key_lines, _ = reader.load_yaml(path, "\n".join(lines[1:end]), first_line=2)
    if data is None and not key_lines:
        if not any(p.path == reader.rel(path) for p in reader.problems):
            reader.problem(path, 2, "front matter is empty")
        return None
    if not isinstance(data, dict):
        reader.problem(path, 2, "front matter must be a mapping of keys to values")
        return None
    slug = reader.slug(path, data, key_lines)
    if slug in RESERVED_LESSON_SLUGS:
        reader.problem(path, key_lines.get("slug", 1), f"slug {slug!r} is reserved for the node's own pages")
        slug = None
    title = reader.require(path, data, key_lines, "title", str)
    order = reader.require(path, data, key_lines, "order", int)
    status = data.get("status", "draft")
    if status not in LESSON_STATUSES:
        reader.problem(path, key_lines.get("status", 1), f"status must be one of {', '.join(LESSON_STATUSES)}")
    if None in (slug, title, order) or status not in LESSON_STATUSES:
        return None
    body = "\n".join(lines[end + 1 :]).strip("\n") + "\n"
    body_line = end + 2
    while body_line <= len(lines) and not lines[body_line - 1].strip():
        body_line += 1
    return LessonFile(
        path=reader.rel(path),
        slug=slug,
        title=title,
        order=order,
        status=status,
        body=body,
        body_line=body_line,
        file_hash=hashlib.sha256(raw).hexdigest(),
    )


def _read_node(reader: _Reader, folder: Path, text: str | None = None) -> NodeFile | None:
    path = folder / "node.yaml"
    if text is None:
        if not path.exists():
            reader.problem(reader.rel(folder) + "/node.yaml", 1, "every node folder needs a node.yaml")
            return None
        text = path.read_text(encoding="utf-8-sig")
    data, lines, _ = reader.load_yaml(path, text)
    if data is None and not lines:
        return None
    if not isinstance(data, dict):
        reader.problem(path, 1, "node.yaml must be a mapping of keys to values")
        return None
    slug = reader.slug(path, data, lines)
    title = reader.require(path, data, lines, "title", str)
    order = reader.require(path, data, lines, "order", int)
    challenge = data.get("challenge", "")
    if challenge and (not isinstance(challenge, str) or not CHALLENGE_KEY.match(challenge)):
        reader.problem(path, lines.get("challenge", 1), f"challenge key {challenge!r} is not like 'data.two-versions'")
        challenge = ""
    summary = data.get("summary", "")
    if not isinstance(summary, str):
        reader.problem(path, lines.get("summary", 1), "'summary' must be text")
        summary = ""
    prerequisites = _string_list(reader, path, data, lines, "prerequisites")
    objectives = _string_list(reader, path, data, lines, "objectives")
    pass_mark = data.get("pass_mark", 80)
    if not isinstance(pass_mark, int) or isinstance(pass_mark, bool) or not 1 <= pass_mark <= 100:
        reader.problem(path, lines.get("pass_mark", 1), "pass_mark must be a whole percentage from 1 to 100")
        pass_mark = 80
    if None in (slug, title, order):
        return None
    return NodeFile(
        path=reader.rel(path),
        slug=slug,
        title=title,
        order=order,
        prerequisites=prerequisites,
        prerequisite_lines={name: lines.get("prerequisites", 1) for name in prerequisites},
        summary=summary.strip(),
        objectives=objectives,
        challenge_key=challenge,
        pass_mark=pass_mark,
    )


def _read_glossary(reader: _Reader, path: Path, text: str | None = None) -> list[GlossaryFile]:
    entries, seen = [], {}
    for item, line, lines in reader.entries(path, "terms", text):
        slug = reader.slug(path, item, lines, line)
        term = reader.require(path, item, lines, "term", str, line)
        definition = reader.require(path, item, lines, "definition", str, line)
        aliases = _string_list(reader, path, item, lines, "aliases")
        if None in (slug, term, definition):
            continue
        for name in (f"slug {slug}", *(f"phrase {v.lower()}" for v in (term, *aliases))):
            if name in seen:
                reader.problem(path, line, f"duplicate {name!r}, already used on line {seen[name]}")
            seen.setdefault(name, line)
        entries.append(GlossaryFile(slug, term, aliases, definition.strip(), bool(item.get("match_case", False))))
    return entries


def _read_faq(reader: _Reader, path: Path, text: str | None = None) -> list[FaqFile]:
    entries = []
    for order, (item, line, lines) in enumerate(reader.entries(path, "questions", text), 1):
        question = reader.require(path, item, lines, "question", str, line)
        answer = reader.require(path, item, lines, "answer", str, line)
        if question and answer:
            entries.append(FaqFile(order, question.strip(), answer))
    return entries


def _read_choices(reader: _Reader, path: Path, item: dict, lines: dict, line: int) -> list[ChoiceFile]:
    raw = item.get("choices")
    if not isinstance(raw, list) or len(raw) < 2:
        reader.problem(path, lines.get("choices", line), "a choice question needs a list of at least two choices")
        return []
    choices = []
    for choice in raw:
        if not isinstance(choice, dict) or not isinstance(choice.get("text"), str) or not choice["text"].strip():
            reader.problem(path, lines.get("choices", line), "each choice needs a non-empty 'text'")
            return []
        if not isinstance(choice.get("correct", False), bool):
            reader.problem(path, lines.get("choices", line), "a choice's 'correct' must be true or false")
            return []
        feedback = choice.get("feedback", "")
        choices.append(ChoiceFile(choice["text"].strip(), choice.get("correct", False), str(feedback or "").strip()))
    texts = [c.text for c in choices]
    if len(set(texts)) != len(texts):
        reader.problem(path, lines.get("choices", line), "two choices have the same text")
    return choices


def _read_questions(reader: _Reader, path: Path, seen: dict[str, str], text: str | None = None) -> list[QuestionFile]:
    questions = []
    for item, line, lines in reader.entries(path, "questions", text):
        qid = reader.require(path, item, lines, "id", str, line)
        if qid is not None and not SLUG.match(qid):
            reader.problem(path, lines["id"], f"id {qid!r} must be lowercase words joined by hyphens")
            qid = None
        if qid is not None:
            if qid in seen:
                reader.problem(path, lines["id"], f"duplicate question id {qid!r}, already used in {seen[qid]}")
            seen.setdefault(qid, f"{reader.rel(path)}:{line}")
        kind = item.get("kind")
        if kind not in KINDS:
            reader.problem(path, lines.get("kind", line), f"kind must be one of {', '.join(KINDS)}")
            continue
        spec = KINDS[kind]
        prompt = reader.require(path, item, lines, "prompt", str, line)
        explanation = reader.require(path, item, lines, "explanation", str, line)
        difficulty = item.get("difficulty", 2)
        if difficulty not in (1, 2, 3):
            reader.problem(path, lines.get("difficulty", line), "difficulty must be 1, 2 or 3")
        tags = _string_list(reader, path, item, lines, "tags")
        choices: list[ChoiceFile] = []
        model_answer = ""
        if spec.has_choices:
            choices = _read_choices(reader, path, item, lines, line)
            problem = spec.correct_choices(sum(c.correct for c in choices), len(choices)) if choices else None
            if problem:
                reader.problem(path, lines.get("choices", line), problem)
        if spec.has_model_answer:
            model_answer = reader.require(path, item, lines, "model_answer", str, line) or ""

        def report(key: str | None, message: str, lines: dict = lines, line: int = line) -> None:
            reader.problem(path, lines.get(key, line) if key else line, message)

        key = spec.read_key(item, report)
        if None in (qid, prompt, explanation, key) or (spec.has_model_answer and not model_answer):
            continue
        questions.append(
            QuestionFile(
                path=reader.rel(path),
                line=line,
                qid=qid,
                kind=kind,
                prompt=prompt.strip(),
                explanation=explanation.strip(),
                difficulty=difficulty if difficulty in (1, 2, 3) else 2,
                tags=tags,
                choices=choices,
                answer=key,
                model_answer=model_answer.strip(),
            )
        )
    return questions


def _check_graph(reader: _Reader, nodes: list[NodeFile]) -> None:
    by_slug = {node.slug: node for node in nodes}
    for node in nodes:
        for name in node.prerequisites:
            if name not in by_slug:
                reader.problem(node.path, node.prerequisite_lines[name], f"unknown prerequisite {name!r}")
    # Depth-first search for a cycle; report each cycle once, from its first node in order.
    state: dict[str, str] = {}

    def visit(slug: str, trail: list[str]) -> None:
        state[slug] = "active"
        for name in by_slug[slug].prerequisites:
            if name not in by_slug:
                continue
            if state.get(name) == "active":
                cycle = [*trail[trail.index(name) :], name]
                node = by_slug[slug]
                reader.problem(
                    node.path, node.prerequisite_lines[name], "prerequisites form a cycle: " + " -> ".join(cycle)
                )
            elif name not in state:
                visit(name, [*trail, name])
        state[slug] = "done"

    for node in nodes:
        if node.slug not in state:
            visit(node.slug, [node.slug])


def read_content(root: Path) -> Content:
    """Read and validate every content file under `root`; raise ContentError listing all problems."""
    reader = _Reader(root)
    if not root.is_dir():
        raise ContentError([Problem(str(root), 1, "content folder not found")])
    nodes: list[NodeFile] = []
    node_slugs: dict[str, str] = {}
    question_ids: dict[str, str] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        node = _read_node(reader, folder)
        if node is None:
            continue
        if node.slug in node_slugs:
            reader.problem(node.path, 1, f"duplicate node slug {node.slug!r}, already used by {node_slugs[node.slug]}")
            continue
        node_slugs[node.slug] = node.path
        lesson_slugs: dict[str, str] = {}
        for path in sorted(folder.glob("*.md")):
            lesson = _read_lesson(reader, path)
            if lesson is None:
                continue
            if lesson.slug in lesson_slugs:
                first = lesson_slugs[lesson.slug]
                reader.problem(lesson.path, 2, f"duplicate lesson slug {lesson.slug!r}, already used by {first}")
                continue
            lesson_slugs[lesson.slug] = lesson.path
            node.lessons.append(lesson)
        node.questions = _read_questions(reader, folder / "questions.yaml", question_ids)
        nodes.append(node)
    _check_graph(reader, nodes)
    glossary = _read_glossary(reader, root / "glossary.yaml")
    faq = _read_faq(reader, root / "faq.yaml")
    if reader.problems:
        raise ContentError(reader.problems)
    return Content(nodes=sorted(nodes, key=lambda n: n.order), glossary=glossary, faq=faq)


def read_text(root: Path, path: Path, text: str) -> tuple[list, list[Problem]]:
    """Read one content file's text as if it were the file at `path` under `root`, with the checks `read_content`
    makes of that file alone: what it holds (a lesson, a node, or the entries of a questions, glossary or FAQ
    file) and every problem, by the line of `text`. The studio checks an edit with this before saving it."""
    reader = _Reader(root)
    if path.suffix == ".md":
        found = _read_lesson(reader, path, text.encode())
        items = [found] if found else []
    elif path.name == "node.yaml":
        found = _read_node(reader, path.parent, text)
        items = [found] if found else []
    elif path.name == "questions.yaml":
        items = _read_questions(reader, path, {}, text)
    elif path.name == "glossary.yaml":
        items = _read_glossary(reader, path, text)
    elif path.name == "faq.yaml":
        items = _read_faq(reader, path, text)
    else:
        raise ValueError(f"{path.name} is not a content file")
    return items, reader.problems
