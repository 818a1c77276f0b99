import os
import subprocess
import sys
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from lessons.rendering import GlossaryEntry, render_markdown, sanitize

DRIFT = GlossaryEntry("data-drift", "Data drift", ("Data drift", "covariate shift"), "Inputs change.")
PSI = GlossaryEntry("psi", "Population Stability Index", ("Population Stability Index", "PSI"), "A drift index.")
EVIDENTLY = GlossaryEntry("evidently", "Evidently", ("Evidently",), "A drift library.", match_case=True)


class _Elements(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _assert_inert(html: str) -> None:
    for tag, attrs in _Elements(html).tags:
        assert tag not in {"script", "style", "iframe", "img", "object", "form", "input"}
        for name, value in attrs.items():
            assert not name.startswith(("on", "hx-", "data-hx")), (tag, name)
            if name == "href":
                assert not (value or "").strip().lower().startswith(("javascript:", "data:", "vbscript:")), value


def test_markdown_with_script_handlers_and_hx_attributes_renders_inert() -> None:
    source = (
        "<script>alert(1)</script>\n\n"
        '<img src=x onerror="alert(1)">\n\n'
        '<div hx-get="/sandbox/jobs/" hx-trigger="load">x</div>\n\n'
        "[click](javascript:alert(1)) and [data](data:text/html;base64,PHNjcmlwdD4=)\n"
    )
    html = render_markdown(source).html
    _assert_inert(html)
    assert "&lt;script&gt;" in html


def test_the_sanitizer_strips_dangerous_html_that_reaches_it() -> None:
    html = sanitize(
        '<p onclick="x()">hi<script>alert(1)</script></p><a href="javascript:alert(1)" hx-post="/x">a</a>'
        '<span class="k" hx-on:click="x()">k</span><iframe src="/"></iframe><a href="/glossary/#x">ok</a>'
    )
    _assert_inert(html)
    assert "alert(1)" not in html
    assert '<span class="k">k</span>' in html
    assert 'href="/glossary/#x"' in html


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>\"'=/ :;&#()[]!`*_-\nabcdehijlnoprstvxy0123456789")), max_size=300))
def test_no_markdown_at_all_produces_live_html(source: str) -> None:
    _assert_inert(render_markdown(source).html)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<script>",
                "</script>",
                "<a ",
                "<img ",
                "onerror=",
                "onclick=",
                "hx-get=",
                "href=",
                "javascript:",
                '"',
                "'",
                ">",
                "<p>",
                "x",
                " ",
                "<svg/onload=",
                "<style>",
                "data:",
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_the_sanitizer_leaves_nothing_live_in_hostile_html(html: str) -> None:
    _assert_inert(sanitize(html))


def test_fenced_code_is_highlighted_on_the_server() -> None:
    html = render_markdown("```python\nimport mlflow\n```\n").html
    assert '<pre class="highlight"' in html
    assert 'class="language-python"' in html
    assert '<span class="kn">import</span>' in html


def test_callouts_render_with_their_titles() -> None:
    html = render_markdown("::: interview\nSay what you measured.\n:::\n\n::: warning\nCareful.\n:::\n").html
    assert '<div class="callout callout--interview"><p class="callout__title">Interview tip</p>' in html
    assert '<div class="callout callout--warning"><p class="callout__title">Warning</p>' in html


def test_headings_get_anchors_and_a_table_of_contents() -> None:
    rendered = render_markdown("Intro.\n\n## Why drift matters\n\nText.\n\n### The KS test\n\nMore.\n")
    assert '<h2 id="why-drift-matters">' in rendered.html
    assert rendered.toc == [
        {"level": 2, "id": "why-drift-matters", "text": "Why drift matters"},
        {"level": 3, "id": "the-ks-test", "text": "The KS test"},
    ]


def test_tables_render() -> None:
    html = render_markdown("| Test | Kind |\n|---|---:|\n| KS | numeric |\n").html
    assert "<table>" in html
    assert '<td style="text-align:right">numeric</td>' in html


def test_the_first_use_of_a_term_links_to_its_definition_once() -> None:
    source = "## Data drift\n\nWatch for data drift. Data drift again, and PSI with `PSI` in code.\n\nAnd PSI.\n"
    rendered = render_markdown(source, glossary=[DRIFT, PSI])
    html = rendered.html
    assert html.count('data-term="data-drift"') == 1
    assert '<a href="/glossary/#data-drift" class="term" data-term="data-drift"' in html
    assert "Watch for <a" in html
    assert html.count('data-term="psi"') == 1
    assert "<code>PSI</code>" in html
    assert rendered.glossary_terms == ["data-drift", "psi"]


def test_terms_are_not_linked_inside_headings_links_or_words() -> None:
    html = render_markdown("## Data drift\n\n[data drift](https://example.org) and PSIs.\n", glossary=[DRIFT, PSI]).html
    assert "data-term" not in html


def test_acronyms_and_product_names_match_only_in_their_own_case() -> None:
    html = render_markdown("Evidently, psi is not PSI; evidently so.\n", glossary=[PSI, EVIDENTLY]).html
    assert html.count('data-term="psi"') == 1
    assert ">PSI</a>" in html
    assert ">Evidently</a>" in html
    assert "evidently so" in html


def test_internal_links_resolve_and_broken_ones_are_reported_by_line() -> None:
    urls = {"lesson:registry/aliases": "/map/registry/aliases/", "node:deployment": "/map/deployment/"}
    source = (
        "First line.\n\nSee [aliases](lesson:registry/aliases)\n"
        "and [deploy](node:deployment)\nand [gone](lesson:x/y).\n"
    )
    rendered = render_markdown(source, resolver=urls.get, line_offset=10)
    assert 'href="/map/registry/aliases/"' in rendered.html
    assert 'href="/map/deployment/"' in rendered.html
    assert rendered.broken_links == [(15, "lesson:x/y")]


def test_words_are_counted_and_reading_time_rounded() -> None:
    rendered = render_markdown("word " * 450)
    assert rendered.word_count == 450
    assert rendered.reading_minutes == 2


def test_a_process_that_serves_pages_does_not_import_the_markdown_parser() -> None:
    # Pages show HTML rendered when content changed; only a sync or an admin save needs markdown-it.
    code = (
        "import sys, django; django.setup(); import mlopslab.urls, lessons.views, lessons.admin; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'markdown_it', 'mdit_py_plugins'}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mlopslab.settings"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
    assert render_markdown("*still renders*").html == "<p><em>still renders</em></p>\n"
