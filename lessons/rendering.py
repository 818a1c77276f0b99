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
RENDERER_VERSION = 1
RENDERING_LIBRARIES = ("markdown-it-py", "mdit-py-plugins", "Pygments", "nh3")

CALLOUTS = {"note": "Note", "warning": "Warning", "interview": "Interview tip"}
PROMPT_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
PROMPT_SLUG_MAX = 60
WORDS_PER_MINUTE = 200

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
    "ol": {"start"},
    "p": {"class"},
    "pre": {"class"},
    "section": {"class", "id"},
    "span": {"class"},
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

    @property
    def reading_minutes(self) -> int:
        return max(1, round(self.word_count / WORDS_PER_MINUTE))

    @property
    def problems(self) -> list[tuple[int, str]]:
        """What an author must fix, by line: links that point nowhere and prompts nobody could answer."""
        found = [(line, f"link to {target!r}, which does not exist") for line, target in self.broken_links]
        return sorted([*found, *self.prompt_problems], key=lambda problem: problem[0])

    def to_json(self) -> dict:
        return {
            "html": self.html,
            "toc": self.toc,
            "glossary_terms": self.glossary_terms,
            "word_count": self.word_count,
            "broken_links": [list(link) for link in self.broken_links],
            "prompts": [[p.slug, p.line, p.text] for p in self.prompts],
            "prompt_problems": [list(problem) for problem in self.prompt_problems],
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
