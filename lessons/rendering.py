"""Markdown to safe HTML for lessons and FAQ answers.

markdown-it parses with raw HTML switched off, Pygments highlights fenced code on
the server, and nh3 cleans the result against an allowlist, whoever wrote the
source. Rendering happens when content changes (sync or admin save), never per
request; the stored HTML is the same for every learner. Only `mark_locked_links`
runs per request, over that sanitized HTML, to show which linked stages are
locked for the learner reading it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import re
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import nh3
from django.utils.safestring import SafeString, mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

if TYPE_CHECKING:
    # markdown-it is imported where a parser is built: importing it costs each process that only
    # serves pages (and shows stored HTML) about 60 ms of its start.
    from markdown_it import MarkdownIt
    from markdown_it.rules_core import StateCore
    from markdown_it.token import Token

# Raise this when a change to the rendering is not in this file or in the version of a library below
# (a template filter it relies on, say): content sync then renders every fragment again.
RENDERER_VERSION = 2
RENDERING_LIBRARIES = ("markdown-it-py", "mdit-py-plugins", "Pygments", "nh3")

CALLOUTS = {"note": "Note", "warning": "Warning", "interview": "Interview tip"}
PROMPT_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
PROMPT_SLUG_MAX = 60
WORDS_PER_MINUTE = 200
WALKTHROUGH_FILE = re.compile(r"[\w.@+~-]+(?:/[\w.@+~-]+)*")
"""A walkthrough's file name: a relative path of letters, digits and `_.@+~-`, in folders split by single slashes."""
WALKTHROUGH_MIN_STEPS = 2
STEP_RANGE = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")

# What survives sanitizing. No hx-* or on* attribute, no script, style or iframe.
ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "div", "em", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol",
    "p", "pre", "s", "section", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "class", "data-term", "data-node"},
    "code": {"class"},
    "div": {"class"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
    "li": {"class", "data-lines"},
    "ol": {"start", "class"},
    "p": {"class"},
    "pre": {"class"},
    "section": {"class", "id"},
    "span": {"class", "data-line"},
    "td": {"style"},
    "th": {"style"},
}
URL_SCHEMES = {"http", "https", "mailto"}

LinkResolver = Callable[[str], str | None]
"""Maps `lesson:node/slug` or `node:slug` to a URL, or None when there is no such target."""


@dataclass(frozen=True)
class GlossaryEntry:
    slug: str
    term: str
    variants: tuple[str, ...]
    definition: str
    match_case: bool = False


@dataclass(frozen=True)
class PromptBlock:
    """A `::: prompt <slug>` container of a lesson: its slug, its 1-based line and its Markdown."""

    slug: str
    line: int
    text: str


@dataclass
class Rendered:
    html: str
    toc: list[dict] = field(default_factory=list)
    glossary_terms: list[str] = field(default_factory=list)
    word_count: int = 0
    broken_links: list[tuple[int, str]] = field(default_factory=list)
    """(line in the source, 1-based, target) for each internal link that points nowhere."""
    prompts: list[PromptBlock] = field(default_factory=list)
    """The discussion prompts, in order; one with a bad or repeated slug is in `prompt_problems` instead."""
    prompt_problems: list[tuple[int, str]] = field(default_factory=list)
    """(line in the source, 1-based, what is wrong) for each `::: prompt` whose slug is missing, bad or repeated."""
    walkthrough_problems: list[tuple[int, str]] = field(default_factory=list)
    """(line in the source, 1-based, what is wrong) for each `:::: walkthrough` or `::: step` that is malformed."""

    @property
    def reading_minutes(self) -> int:
        return max(1, round(self.word_count / WORDS_PER_MINUTE))

    @property
    def problems(self) -> list[tuple[int, str]]:
        """What an author must fix, by line: links that point nowhere, prompts nobody could answer and code
        walkthroughs that are malformed."""
        found = [(line, f"link to {target!r}, which does not exist") for line, target in self.broken_links]
        return sorted([*found, *self.prompt_problems, *self.walkthrough_problems], key=lambda problem: problem[0])

    def to_json(self) -> dict:
        return {
            "html": self.html,
            "toc": self.toc,
            "glossary_terms": self.glossary_terms,
            "word_count": self.word_count,
            "broken_links": [list(link) for link in self.broken_links],
            "prompts": [[p.slug, p.line, p.text] for p in self.prompts],
            "prompt_problems": [list(problem) for problem in self.prompt_problems],
            "walkthrough_problems": [list(problem) for problem in self.walkthrough_problems],
        }

    @classmethod
    def from_json(cls, data: dict) -> Rendered:
        return cls(
            html=data["html"],
            toc=data["toc"],
            glossary_terms=data["glossary_terms"],
            word_count=data["word_count"],
            broken_links=[(line, target) for line, target in data["broken_links"]],
            prompts=[PromptBlock(slug, line, text) for slug, line, text in data.get("prompts", [])],
            prompt_problems=[(line, problem) for line, problem in data.get("prompt_problems", [])],
            walkthrough_problems=[(line, problem) for line, problem in data.get("walkthrough_problems", [])],
        )


@functools.cache
def renderer_digest() -> str:
    """SHA-256 of what decides how Markdown renders: RENDERER_VERSION, this file and the libraries' versions.

    Stored renderings are found by a digest that includes this one, so a new renderer renders again.
    """
    digest = hashlib.sha256(f"renderer {RENDERER_VERSION}\n".encode())
    digest.update(Path(__file__).read_bytes())
    for name in RENDERING_LIBRARIES:
        digest.update(f"\n{name} {importlib.metadata.version(name)}".encode())
    return digest.hexdigest()


def _highlight(code: str, lang: str, attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang) if lang else None
    except ClassNotFound:
        lexer = None
    body = highlight(code, lexer, HtmlFormatter(nowrap=True)) if lexer else escape(code)
    label = escape(lang or "text")
    return f'<pre class="highlight" data-lang="{label}"><code class="language-{label}">{body}</code></pre>\n'


def _render_callout(self: object, tokens: list[Token], idx: int, options: object, env: dict) -> str:
    token = tokens[idx]
    if token.nesting == 1:
        kind = token.info.strip().split(maxsplit=1)[0]
        return f'<div class="callout callout--{kind}"><p class="callout__title">{CALLOUTS[kind]}</p>\n'
    return "</div>\n"


def _render_prompt(self: object, tokens: list[Token], idx: int, options: object, env: dict) -> str:
    token = tokens[idx]
    if token.nesting != 1:
        slug = tokens[_opening_of(tokens, idx)].meta.get("prompt_slug")
        link = (
            f'<p class="discussion-prompt__answer"><a href="#discuss-{slug}">Write your answer</a></p>\n'
            if slug
            else ""
        )
        return f"{link}</section>\n"
    # The slug was checked by `_collect_prompts`: a bad or repeated one gives no id (ids stay unique on the page).
    slug = token.meta.get("prompt_slug")
    anchor = f' id="prompt-{slug}"' if slug else ""
    return f'<section class="discussion-prompt"{anchor}>\n<h2>Discuss</h2>\n'


def _opening_of(tokens: list[Token], idx: int) -> int:
    """The index of the `container_prompt_open` that the closing token at `idx` closes."""
    depth = 0
    for index in range(idx, -1, -1):
        depth += {"container_prompt_close": 1, "container_prompt_open": -1}.get(tokens[index].type, 0)
        if depth == 0:
            return index
    return idx


def _prompt_problem(slug: str, seen: set[str]) -> str | None:
    if not slug:
        return "a discussion prompt needs a slug: ::: prompt <slug>"
    if len(slug) > PROMPT_SLUG_MAX or not PROMPT_SLUG.fullmatch(slug):
        return (
            f"discussion prompt slug {slug!r} must be lowercase letters, digits and single hyphens, "
            f"at most {PROMPT_SLUG_MAX} characters"
        )
    if slug in seen:
        return f"discussion prompt slug {slug!r} is used twice in this lesson"
    return None


def _collect_prompts(state: StateCore) -> None:
    """Check each prompt's slug and keep its Markdown source (the lines inside its markers), by line."""
    prompts: list[PromptBlock] = state.env.setdefault("prompts", [])
    problems: list[tuple[int, str]] = state.env.setdefault("prompt_problems", [])
    lines = state.src.splitlines()
    seen: set[str] = set()
    for token in state.tokens:
        if token.type != "container_prompt_open":
            continue
        words = token.info.split()
        slug = words[1] if len(words) > 1 else ""
        first, last = token.map or (0, 0)
        line = first + 1 + state.env.get("line_offset", 0)
        problem = _prompt_problem(slug, seen)
        if problem is not None:
            problems.append((line, problem))
            continue
        seen.add(slug)
        token.meta["prompt_slug"] = slug
        text = textwrap.dedent("\n".join(lines[first + 1 : last])).strip()
        prompts.append(PromptBlock(slug, line, text))


# Stepped code walkthroughs: a `:::: walkthrough <file>` container holding one fenced code block (the whole file)
# and two or more `::: step <lines>` containers, each narrating some lines of it. The page gets the code with
# each line in a `span.walkthrough__line[data-line]`, then the steps as an ordered list, each item saying which
# lines it is about (`li[data-lines]`): readable as it is, and turned into a stepper by static/js/walkthrough.js.


def _line_count(code: str) -> int:
    """How many lines a fence's content has (markdown-it ends it with a line break unless it is empty)."""
    return len(code.removesuffix("\n").split("\n")) if code else 0


def _walkthrough_code(code: str, lang: str) -> str:
    """The file's code highlighted as other fenced code is, one `span` per line numbered from 1.

    Pygments closes and reopens its spans at each line break, so splitting its output there keeps every line's
    markup whole. `stripnl=False`: leading and trailing blank lines keep their numbers."""
    try:
        lexer = get_lexer_by_name(lang, stripnl=False) if lang else None
    except ClassNotFound:
        lexer = None
    body = highlight(code, lexer, HtmlFormatter(nowrap=True)) if lexer else escape(code)
    lines = body.removesuffix("\n").split("\n")[: _line_count(code)]
    spans = "".join(
        f'<span class="walkthrough__line" data-line="{number}">{line}\n</span>' for number, line in enumerate(lines, 1)
    )
    label = escape(lang or "text")
    return f'<pre class="highlight walkthrough__code"><code class="language-{label}">{spans}</code></pre>\n'


def _fence_rule(original: Callable) -> Callable:
    def fence(self: object, tokens: list[Token], idx: int, options: object, env: dict) -> str:
        token = tokens[idx]
        if not token.meta.get("walkthrough_code"):
            return original(tokens, idx, options, env)
        words = token.info.split(maxsplit=1)
        return _walkthrough_code(token.content, words[0] if words else "")

    return fence


def _lines_label(ranges: list[tuple[int, int]]) -> str:
    """'Line 12', 'Lines 5–9', 'Lines 5–9, 12'."""
    parts = [f"{first}–{last}" if last != first else str(first) for first, last in ranges]
    single = len(ranges) == 1 and ranges[0][0] == ranges[0][1]
    return ("Line " if single else "Lines ") + ", ".join(parts)


def _render_walkthrough(self: object, tokens: list[Token], idx: int, options: object, env: dict) -> str:
    token = tokens[idx]
    if token.meta.get("walkthrough_plain"):
        return ""
    if token.nesting != 1:
        return "</section>\n"
    name = token.meta.get("walkthrough_file", "")
    caption = f"Walkthrough of <code>{escape(name)}</code>" if name else "Walkthrough"
    return f'<section class="walkthrough">\n<p class="walkthrough__file">{caption}</p>\n'


def _render_step(self: object, tokens: list[Token], idx: int, options: object, env: dict) -> str:
    """A step is an item of the walkthrough's list of steps; the first of a run of steps opens that list."""
    token = tokens[idx]
    if token.meta.get("walkthrough_plain"):
        return ""
    if token.nesting != 1:
        after = tokens[idx + 1] if idx + 1 < len(tokens) else None
        ends_list = not (after and after.type == "container_step_open" and after.level == token.level)
        return "</li>\n" + ("</ol>\n" if ends_list else "")
    before = tokens[idx - 1]
    starts_list = not (before.type == "container_step_close" and before.level == token.level)
    ranges = token.meta["step_lines"]
    spec = ",".join(f"{first}-{last}" if last != first else str(first) for first, last in ranges)
    return (
        ('<ol class="walkthrough__steps">\n' if starts_list else "")
        + f'<li class="walkthrough__step" data-lines="{spec}">\n'
        + f'<p class="walkthrough__lines">{_lines_label(ranges)}</p>\n'
    )


def _step_ranges(spec: str, number: int) -> tuple[list[tuple[int, int]], str | None]:
    """The (first, last) line ranges of `::: step <spec>`, or a problem with them."""
    if not spec.strip():
        return [], f"step {number} needs the lines it is about: ::: step 5-9, 12"
    ranges = []
    for part in spec.split(","):
        match = STEP_RANGE.fullmatch(part)
        if match is None:
            return [], (
                f"step {number}: {part.strip()!r} is not a line or a range of lines; "
                "write line numbers N or ranges N-M, separated by commas (::: step 5-9, 12)"
            )
        first, last = int(match[1]), int(match[2] or match[1])
        if first < 1:
            return [], f"step {number}: there is no line 0, lines are counted from 1"
        if last < first:
            return [], f"step {number}: the range {first}-{last} runs backwards, write {last}-{first}"
        ranges.append((first, last))
    return ranges, None


def _check_walkthroughs(state: StateCore) -> None:
    """Check each walkthrough and its steps, mark its code block and steps for rendering, and leave out of the
    page each step that cannot be shown (bad lines, no narration)."""
    problems: list[tuple[int, str]] = state.env.setdefault("walkthrough_problems", [])
    offset = state.env.get("line_offset", 0)
    tokens = state.tokens
    if not any(token.type in ("container_walkthrough_open", "container_step_open") for token in tokens):
        return

    def line(token: Token) -> int:
        return (token.map[0] if token.map else 0) + 1 + offset

    def close_of(index: int) -> int:
        opening = tokens[index]
        kind = opening.type.removesuffix("_open") + "_close"
        for later in range(index + 1, len(tokens)):
            if tokens[later].type == kind and tokens[later].level == opening.level:
                return later
        return len(tokens) - 1

    def children(index: int, end: int) -> list[int]:
        level = tokens[index].level + 1
        return [i for i in range(index + 1, end) if tokens[i].level == level and tokens[i].nesting >= 0]

    def plain(index: int) -> None:
        tokens[index].meta["walkthrough_plain"] = True
        tokens[close_of(index)].meta["walkthrough_plain"] = True

    claimed: set[int] = set()
    dropped: list[tuple[int, int]] = []
    outer_end, outer_line = -1, 0
    for index, token in enumerate(tokens):
        if token.type != "container_walkthrough_open":
            continue
        end = close_of(index)
        steps = [i for i in children(index, end) if tokens[i].type == "container_step_open"]
        claimed.update(steps)
        if index < outer_end:
            problems.append((line(token), f"a walkthrough cannot be inside another walkthrough (line {outer_line})"))
            plain(index)
            for step in steps:
                plain(step)
            continue
        outer_end, outer_line = end, line(token)
        problems += _check_walkthrough(tokens, index, end, children(index, end), line, close_of, dropped)
    for index, token in enumerate(tokens):
        if token.type == "container_step_open" and index not in claimed:
            problems.append((line(token), "::: step belongs directly inside a :::: walkthrough <file> block"))
            plain(index)
    for first, last in sorted(dropped, reverse=True):
        del tokens[first : last + 1]


def _check_walkthrough(
    tokens: list[Token],
    index: int,
    end: int,
    children: list[int],
    line: Callable[[Token], int],
    close_of: Callable[[int], int],
    dropped: list[tuple[int, int]],
) -> list[tuple[int, str]]:
    """The problems of the walkthrough opened at `index`; steps to leave out are added to `dropped`."""
    opening = tokens[index]
    problems = []
    name = opening.info.strip().removeprefix("walkthrough").strip()
    if not name:
        problems.append((line(opening), "a walkthrough needs the name of the file it shows: :::: walkthrough <file>"))
    elif not WALKTHROUGH_FILE.fullmatch(name):
        problems.append(
            (line(opening), f"walkthrough file name {name!r} must be one path without spaces, like pipelines/train.py")
        )
    opening.meta["walkthrough_file"] = name
    label = name or "the file"
    fences = [i for i in children if tokens[i].type == "fence"]
    steps = [i for i in children if tokens[i].type == "container_step_open"]
    count = None
    if not fences:
        problems.append(
            (line(opening), f"walkthrough of {label} has no code block: put the whole file in one fenced code block")
        )
    else:
        code = tokens[fences[0]]
        code.meta["walkthrough_code"] = True
        count = _line_count(code.content)
        if not code.info.strip():
            problems.append((line(code), f"the code block of {label} needs a language tag, like ```python"))
        if steps and fences[0] > steps[0]:
            problems.append((line(code), f"the code block of {label} must come before the walkthrough's steps"))
        for extra in fences[1:]:
            problems.append(
                (
                    line(tokens[extra]),
                    f"walkthrough of {label} has a second code block: it shows one file, in one code block "
                    "(a snippet belongs in a step's narration)",
                )
            )
    if len(steps) < WALKTHROUGH_MIN_STEPS:
        problems.append(
            (
                line(opening),
                f"walkthrough of {label} has {len(steps)} step{'' if len(steps) == 1 else 's'}, "
                f"it needs at least {WALKTHROUGH_MIN_STEPS}: ::: step <lines>",
            )
        )
    for number, step_index in enumerate(steps, 1):
        step = tokens[step_index]
        step_end = close_of(step_index)
        ranges, problem = _step_ranges(step.info.strip().removeprefix("step"), number)
        if problem is None and count is not None:
            furthest = max(last for _, last in ranges)
            if furthest > count:
                lines = f"{count} line{'' if count == 1 else 's'}"
                problem = f"step {number} highlights line {furthest}, but {label} has {lines}"
        if problem is None and step_end == step_index + 1:
            problem = f"step {number} has no narration: say in a few sentences what its lines do"
        if problem is None:
            step.meta["step_lines"] = ranges
        else:
            problems.append((line(step), problem))
            dropped.append((step_index, step_end))
    return problems


def _glossary_patterns(entries: Iterable[GlossaryEntry]) -> tuple[dict[str, str], re.Pattern | None, re.Pattern | None]:
    """One pattern for case-sensitive variants (acronyms, product names), one for the rest."""
    slug_by_variant: dict[str, str] = {}
    exact, loose = [], []
    for entry in entries:
        for variant in entry.variants:
            sensitive = entry.match_case or any(ch.isupper() for ch in variant[1:])
            key = variant if sensitive else variant.lower()
            slug_by_variant[key] = entry.slug
            (exact if sensitive else loose).append(variant)

    def compile_(variants: list[str], flags: int) -> re.Pattern | None:
        if not variants:
            return None
        alternation = "|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True))
        return re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])", flags)

    return slug_by_variant, compile_(exact, 0), compile_(loose, re.IGNORECASE)


class _GlossaryLinker:
    def __init__(self, entries: Iterable[GlossaryEntry]) -> None:
        self.slug_by_variant, self.exact, self.loose = _glossary_patterns(entries)

    def first_match(self, text: str, skip: set[str]) -> tuple[re.Match, str] | None:
        best = None
        for pattern in (self.exact, self.loose):
            if pattern is None:
                continue
            for match in pattern.finditer(text):
                found = match.group(0)
                slug = self.slug_by_variant.get(found) or self.slug_by_variant.get(found.lower())
                if slug and slug not in skip:
                    if best is None or match.start() < best[0].start():
                        best = (match, slug)
                    break
        return best

    def __call__(self, state: StateCore) -> None:
        linked: list[str] = state.env.setdefault("glossary_terms", [])
        in_heading = False
        for token in state.tokens:
            if token.type == "heading_open":
                in_heading = True
            elif token.type == "heading_close":
                in_heading = False
            elif token.type == "inline" and not in_heading and token.children:
                token.children = self._link_children(token.children, linked, state)

    def _link_children(self, children: list[Token], linked: list[str], state: StateCore) -> list[Token]:
        result: list[Token] = []
        link_depth = 0
        for child in children:
            if child.type == "link_open":
                link_depth += 1
            elif child.type == "link_close":
                link_depth -= 1
            if child.type != "text" or link_depth:
                result.append(child)
                continue
            text = child.content
            while text:
                found = self.first_match(text, set(linked))
                if found is None:
                    break
                match, slug = found
                linked.append(slug)
                if match.start():
                    result.append(_text_token(state, text[: match.start()]))
                opening = _token("link_open", "a", 1)
                opening.attrs = {"href": f"/glossary/#{slug}", "class": "term", "data-term": slug}
                result += [opening, _text_token(state, match.group(0)), _token("link_close", "a", -1)]
                text = text[match.end() :]
            if text:
                result.append(_text_token(state, text))
        return result


def _token(kind: str, tag: str, nesting: int) -> Token:
    from markdown_it.token import Token

    return Token(kind, tag, nesting)


def _text_token(state: StateCore, content: str) -> Token:
    token = _token("text", "", 0)
    token.content = content
    return token


LINK_PREFIXES = ("lesson:", "node:", "glossary:")
"""Links a lesson makes by name: to a stage, a lesson (`lesson:node/slug`) or a glossary term."""


def _resolve_links(resolver: LinkResolver | None) -> Callable[[StateCore], None]:
    def rule(state: StateCore) -> None:
        broken: list[tuple[int, str]] = state.env.setdefault("broken_links", [])
        for token in state.tokens:
            if token.type != "inline" or not token.children:
                continue
            for child in token.children:
                if child.type != "link_open":
                    continue
                href = str(child.attrs.get("href", ""))
                if not href.startswith(LINK_PREFIXES):
                    continue
                url = resolver(href) if resolver else None
                if url is None:
                    broken.append((_line_of(state, token, href), href))
                    url = "#"
                elif not href.startswith("glossary:"):
                    child.attrs["data-node"] = _node_of(href)
                child.attrs["href"] = url

    return rule


def _node_of(target: str) -> str:
    """The slug of the stage a `node:` or `lesson:` link leads into."""
    return target.partition(":")[2].partition("/")[0]


# Matches only what `_resolve_links` wrote and nh3 kept: a slug-valued data-node, and no nested link.
_STAGE_LINK = re.compile(r'<a\b[^>]*?\sdata-node="([a-z0-9-]+)"[^>]*>(.*?)</a>', re.DOTALL)


def mark_locked_links(html: str, notes: dict[str, str]) -> SafeString:
    """Turn each link into a stage that is locked for this learner into its text, a lock and `notes[slug]`.

    `html` must be the sanitized output of `render_markdown`; the notes are escaped here.
    """

    def replace(match: re.Match) -> str:
        note = notes.get(match.group(1))
        if note is None:
            return match.group(0)
        return (
            f'<span class="locked-link" data-node="{match.group(1)}">{match.group(2)} '
            f'<span class="locked-link__lock" aria-hidden="true">🔒</span> '
            f'<span class="locked-link__why">({escape(note)})</span></span>'
        )

    return mark_safe(_STAGE_LINK.sub(replace, html) if notes else html)


def _line_of(state: StateCore, token: Token, needle: str) -> int:
    """The 1-based line of `needle` within the block that `token` came from."""
    first, last = token.map or (0, 0)
    lines = state.src.splitlines()
    for number in range(first, max(last, first + 1)):
        if number < len(lines) and needle in lines[number]:
            first = number
            break
    return first + 1 + state.env.get("line_offset", 0)


def _collect_toc(tokens: list[Token]) -> list[dict]:
    toc = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag in ("h2", "h3"):
            toc.append({"level": int(token.tag[1]), "id": token.attrs.get("id", ""), "text": tokens[index + 1].content})
    return toc


def _count_words(tokens: list[Token]) -> int:
    words = 0
    for token in tokens:
        if token.type == "inline" or token.type in ("fence", "code_block"):
            words += len(token.content.split())
    return words


def _parser(glossary: Iterable[GlossaryEntry], resolver: LinkResolver | None) -> MarkdownIt:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.anchors import anchors_plugin
    from mdit_py_plugins.container import container_plugin

    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight, "typographer": False}).enable(
        ["table", "strikethrough"]
    )
    anchors_plugin(md, min_level=2, max_level=3)
    for kind in CALLOUTS:
        container_plugin(md, kind, render=_render_callout)
    container_plugin(md, "prompt", render=_render_prompt)
    container_plugin(md, "walkthrough", render=_render_walkthrough)
    container_plugin(md, "step", render=_render_step)
    md.add_render_rule("fence", _fence_rule(md.renderer.rules["fence"]))
    # Before the other rules: a step it leaves out of the page is not linked, glossed or searched for prompts.
    md.core.ruler.push("walkthroughs", _check_walkthroughs)
    md.core.ruler.push("discussion_prompts", _collect_prompts)
    md.core.ruler.push("internal_links", _resolve_links(resolver))
    md.core.ruler.push("glossary", _GlossaryLinker(glossary))
    return md


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        filter_style_properties={"text-align"},
        link_rel="noopener noreferrer",
    )


class MarkdownRenderer:
    """Renders many sources that share a glossary and a link resolver with one parser.

    Building the parser costs more than rendering most fragments, so content sync builds one for
    all lessons, and plain fragments (answers, prompts, choices) share one for the whole process.
    """

    def __init__(self, glossary: Iterable[GlossaryEntry] = (), resolver: LinkResolver | None = None) -> None:
        self._md = _parser(glossary, resolver)

    def __call__(self, source: str, *, line_offset: int = 0) -> Rendered:
        md = self._md
        env: dict = {"line_offset": line_offset}
        tokens = md.parse(source, env)
        html = md.renderer.render(tokens, md.options, env)
        return Rendered(
            html=sanitize(html),
            toc=_collect_toc(tokens),
            glossary_terms=list(env.get("glossary_terms", [])),
            word_count=_count_words(tokens),
            broken_links=list(env.get("broken_links", [])),
            prompts=list(env.get("prompts", [])),
            prompt_problems=list(env.get("prompt_problems", [])),
            walkthrough_problems=list(env.get("walkthrough_problems", [])),
        )

    def prompts(self, source: str, *, line_offset: int = 0) -> tuple[list[PromptBlock], list[tuple[int, str]]]:
        """The source's discussion prompts and the problems with their slugs, parsed without rendering."""
        env: dict = {"line_offset": line_offset}
        self._md.parse(source, env)
        return list(env.get("prompts", [])), list(env.get("prompt_problems", []))


@functools.cache
def _plain_renderer() -> MarkdownRenderer:
    return MarkdownRenderer()


def render_markdown(
    source: str,
    *,
    glossary: Iterable[GlossaryEntry] = (),
    resolver: LinkResolver | None = None,
    line_offset: int = 0,
) -> Rendered:
    """Render Markdown to sanitized HTML, with its table of contents and glossary links.

    `line_offset` is added to reported line numbers, so that a lesson body's
    broken links are named by their line in the whole file.
    """
    glossary = tuple(glossary)
    renderer = MarkdownRenderer(glossary, resolver) if glossary or resolver else _plain_renderer()
    return renderer(source, line_offset=line_offset)


PROMPT_MARKER = re.compile(r"^[ \t>]*:{3,}[ \t]*prompt\b", re.MULTILINE)


def discussion_prompts(source: str) -> list[PromptBlock]:
    """The `::: prompt <slug>` blocks of a lesson's Markdown, in order, each slug once (a bad one left out).

    Most lessons carry none: a look for the marker spares them the parse."""
    if not PROMPT_MARKER.search(source):
        return []
    return _plain_renderer().prompts(source)[0]
