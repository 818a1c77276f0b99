"""Stepped code walkthroughs (`:::: walkthrough <file>` with `::: step <lines>` inside): how they render (the file's
lines numbered, the steps listed with their lines, all of it sanitized), every problem an author can make, by line,
and those problems stopping `sync_content`, the studio's check and its live preview as a broken link does."""

import re
from html import unescape
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from lessons.content_files import ContentError
from lessons.models import Lesson, Node
from lessons.rendering import RENDERER_VERSION, Rendered, render_markdown, sanitize
from lessons.services import CONTENT_ROOT, content_sync
from studio import items
from studio.lesson_preview import body_offset, lesson_preview
from tests.content_tree import write_content_tree
from tests.unit.test_code_contrast import AA, CSS, _rules, contrast

CODE = '''\
import pandas as pd


def load(path):
    """Read the table.

    Rows without a label are dropped."""
    frame = pd.read_csv(path)
    return frame.dropna(subset=["churned"])
'''


def _walkthrough(
    *steps: str, code: str = CODE, head: str = ":::: walkthrough pipelines/train.py", lang: str = "python"
) -> str:
    return (
        f"{head}\nRead it with the data at hand.\n\n```{lang}\n{code}```\n\n"
        + "".join(f"{step}\n\n" for step in steps)
        + "::::\n"
    )


GOOD = _walkthrough(
    "::: step 1\n**Import pandas.** One library reads the table.\n:::",
    "::: step 4-7, 9\nThe function, its docstring and what it returns.\n:::",
    "::: step 8\nRead the CSV file.\n:::",
)


def _lines(html: str) -> dict[int, str]:
    """The text of each numbered line of the walkthrough's code, tags taken out."""
    found = re.findall(r'<span class="walkthrough__line" data-line="(\d+)">(.*?)\n</span>', html, re.DOTALL)
    return {int(number): unescape(re.sub(r"<[^>]+>", "", text)) for number, text in found}


# --- rendering -------------------------------------------------------------------------------


def test_the_code_is_numbered_line_by_line_and_highlighted_as_other_code() -> None:
    rendered = render_markdown(GOOD)
    assert rendered.problems == []
    html = rendered.html
    assert html.count('<section class="walkthrough">') == 1
    assert '<p class="walkthrough__file">Walkthrough of <code>pipelines/train.py</code></p>' in html
    assert "<p>Read it with the data at hand.</p>" in html
    assert '<pre class="highlight walkthrough__code"><code class="language-python">' in html
    lines = _lines(html)
    assert list(lines) == list(range(1, 10))
    assert list(lines.values()) == CODE.splitlines()
    # Pygments' token classes, as in any fenced code; the docstring's lines with text each keep theirs.
    assert '<span class="kn">import</span>' in html
    assert html.count('<span class="sd">') == 2
    # Every line's markup is whole: as many spans open as close inside each line.
    for number, text in re.findall(r'data-line="(\d+)">(.*?)\n</span>', html, re.DOTALL):
        assert text.count("<span") == text.count("</span>"), number


def test_leading_and_trailing_blank_lines_keep_their_numbers() -> None:
    code = "\nx = 1\n\n"
    html = render_markdown(_walkthrough("::: step 2\nSet x.\n:::", "::: step 3\nA blank line.\n:::", code=code)).html
    assert _lines(html) == {1: "", 2: "x = 1", 3: ""}


def test_the_steps_are_a_list_saying_which_lines_each_is_about() -> None:
    html = render_markdown(GOOD).html
    steps = re.findall(
        r'<li class="walkthrough__step" data-lines="([^"]+)">\n<p class="walkthrough__lines">([^<]+)</p>', html
    )
    assert steps == [("1", "Line 1"), ("4-7,9", "Lines 4–7, 9"), ("8", "Line 8")]
    assert html.count('<ol class="walkthrough__steps">') == 1
    assert "<p><strong>Import pandas.</strong> One library reads the table.</p>" in html
    # The code comes first, then the list, inside the section.
    assert html.index("walkthrough__code") < html.index("walkthrough__steps") < html.index("</section>")
    # No stepper in the stored HTML: the buttons and the "Step 1 / 3" are made by static/js/walkthrough.js.
    assert "<button" not in html
    assert "Step 1" not in html


def test_text_between_steps_closes_the_list_and_opens_another() -> None:
    source = _walkthrough("::: step 1\nOne.\n:::", "An aside.", "::: step 2\nTwo.\n:::")
    html = render_markdown(source).html
    assert re.search(r"</li>\n</ol>\n<p>An aside.</p>\n<ol class=\"walkthrough__steps\">\n<li", html)
    assert html.count("<ol") == html.count("</ol>") == 2


def test_a_snippet_inside_a_step_is_ordinary_code_and_not_a_second_file() -> None:
    source = _walkthrough("::: step 1\nLike this:\n\n```python\nimport numpy as np\n```\n:::", "::: step 2\nTwo.\n:::")
    rendered = render_markdown(source)
    assert rendered.problems == []
    assert rendered.html.count("walkthrough__code") == 1
    assert '<pre class="highlight"><code class="language-python"><span class="kn">import</span>' in rendered.html


def test_narration_and_code_are_sanitized() -> None:
    source = _walkthrough(
        "::: step 1\nHi <script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))\n:::",
        '::: step 2\n<button onclick="alert(4)">b</button> <span hx-get="/x">y</span>\n:::',
        code='print("<script>alert(5)</script>")\nx = "<b onmouseover=alert(6)>"\n',
    )
    html = render_markdown(source).html
    assert "<script" not in html
    assert "<button" not in html
    assert "<img" not in html
    assert 'href="javascript' not in html
    assert not re.search(r"<[^>]*\s(on\w+|hx-[\w-]+)=", html)
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in html


def test_the_sanitizer_keeps_the_walkthroughs_attributes_and_nothing_more() -> None:
    dirty = (
        '<section class="walkthrough" onclick="x()"><pre class="walkthrough__code"><code>'
        '<span class="walkthrough__line" data-line="1" onmouseover="x()" style="color:red" hx-get="/a">a\n</span>'
        '</code></pre><ol class="walkthrough__steps" data-x="1"><li class="walkthrough__step" data-lines="1"'
        ' onfocus="x()" hidden>step</li></ol><button>b</button><script>x()</script></section>'
    )
    clean = sanitize(dirty)
    assert '<span class="walkthrough__line" data-line="1">a\n</span>' in clean
    assert '<li class="walkthrough__step" data-lines="1">step</li>' in clean
    assert '<ol class="walkthrough__steps">' in clean
    for gone in ("onclick", "onmouseover", "onfocus", "style", "hx-get", "hidden", "data-x", "<button", "<script"):
        assert gone not in clean, gone


def test_a_file_name_is_escaped_in_the_caption() -> None:
    html = render_markdown(_walkthrough("::: step 1\nA.\n:::", head=':::: walkthrough a"<b>.py')).html
    assert "<b>" not in html
    assert 'Walkthrough of <code>a"&lt;b&gt;.py</code>' in html


# --- problems, by line -----------------------------------------------------------------------

STEPS = ("::: step 1\nOne.\n:::", "::: step 2\nTwo.\n:::")


def _problems(source: str, offset: int = 0) -> list[tuple[int, str]]:
    rendered = render_markdown(source, line_offset=offset)
    assert rendered.problems == sorted(rendered.walkthrough_problems)
    return rendered.walkthrough_problems


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            _walkthrough(*STEPS, head=":::: walkthrough"),
            [(1, "a walkthrough needs the name of the file it shows: :::: walkthrough <file>")],
        ),
        (
            _walkthrough(*STEPS, head=":::: walkthrough my train.py"),
            [(1, "walkthrough file name 'my train.py' must be one path without spaces, like pipelines/train.py")],
        ),
        (
            ":::: walkthrough train.py\nNo code.\n\n" + "\n\n".join(STEPS) + "\n::::\n",
            [(1, "walkthrough of train.py has no code block: put the whole file in one fenced code block")],
        ),
        (
            _walkthrough(*STEPS, lang=""),
            [(4, "the code block of pipelines/train.py needs a language tag, like ```python")],
        ),
        (
            ":::: walkthrough t.py\n```python\nx = 1\ny = 2\n```\n\n```python\nz = 3\n```\n\n"
            + "\n\n".join(STEPS)
            + "\n::::\n",
            [
                (
                    7,
                    "walkthrough of t.py has a second code block: it shows one file, in one code block "
                    "(a snippet belongs in a step's narration)",
                )
            ],
        ),
        (
            ":::: walkthrough t.py\n" + "\n\n".join(STEPS) + "\n\n```python\nx = 1\ny = 2\n```\n::::\n",
            [(10, "the code block of t.py must come before the walkthrough's steps")],
        ),
        (
            _walkthrough("::: step 1\nOne.\n:::"),
            [(1, "walkthrough of pipelines/train.py has 1 step, it needs at least 2: ::: step <lines>")],
        ),
        (
            _walkthrough(),
            [(1, "walkthrough of pipelines/train.py has 0 steps, it needs at least 2: ::: step <lines>")],
        ),
        (
            _walkthrough(*STEPS, "::: step\nNo lines.\n:::"),
            [(24, "step 3 needs the lines it is about: ::: step 5-9, 12")],
        ),
        (
            _walkthrough(*STEPS, "::: step 5-x\nBad.\n:::"),
            [
                (
                    24,
                    "step 3: '5-x' is not a line or a range of lines; write line numbers N or ranges N-M, "
                    "separated by commas (::: step 5-9, 12)",
                )
            ],
        ),
        (
            _walkthrough(*STEPS, "::: step 4–6\nAn en dash.\n:::"),
            [
                (
                    24,
                    "step 3: '4–6' is not a line or a range of lines; write line numbers N or ranges N-M, "
                    "separated by commas (::: step 5-9, 12)",
                )
            ],
        ),
        (
            _walkthrough(*STEPS, "::: step 0-2\nZero.\n:::"),
            [(24, "step 3: there is no line 0, lines are counted from 1")],
        ),
        (
            _walkthrough(*STEPS, "::: step 9-5\nBackwards.\n:::"),
            [(24, "step 3: the range 9-5 runs backwards, write 5-9")],
        ),
        (
            _walkthrough(*STEPS, "::: step 8, 40\nToo far.\n:::"),
            [(24, "step 3 highlights line 40, but pipelines/train.py has 9 lines")],
        ),
        (
            _walkthrough(*STEPS, "::: step 8\n:::"),
            [(24, "step 3 has no narration: say in a few sentences what its lines do")],
        ),
        (
            "Text.\n\n::: step 2\nAlone.\n:::\n",
            [(3, "::: step belongs directly inside a :::: walkthrough <file> block")],
        ),
        (
            _walkthrough("::: step 1\nOne.\n\n::: step 2\nInside a step.\n:::\n:::", "::: step 2\nTwo.\n:::"),
            [(19, "::: step belongs directly inside a :::: walkthrough <file> block")],
        ),
        (
            _walkthrough(*STEPS, "::::: walkthrough inner.py\n```python\nx = 1\n```\n:::::"),
            [(24, "a walkthrough cannot be inside another walkthrough (line 1)")],
        ),
    ],
)
def test_each_problem_is_named_by_its_line(source: str, expected: list[tuple[int, str]]) -> None:
    for line, _ in expected:
        # The line named is the marker or the fence it is about.
        assert source.splitlines()[line - 1].startswith(("::", "```")), (line, source.splitlines()[line - 1])
    assert _problems(source) == expected


def test_lines_are_counted_in_the_whole_file_and_problems_sorted_with_the_others() -> None:
    source = "See [gone](lesson:x/y).\n\n" + _walkthrough("::: step 40\nFar.\n:::", "::: step 1\nOne.\n:::")
    rendered = render_markdown(source, resolver=lambda target: None, line_offset=6)
    step = source.splitlines().index("::: step 40") + 1
    assert rendered.problems == [
        (7, "link to 'lesson:x/y', which does not exist"),
        (6 + step, "step 1 highlights line 40, but pipelines/train.py has 9 lines"),
    ]


def test_a_walkthrough_with_problems_still_shows_its_code_and_its_good_steps() -> None:
    source = _walkthrough(
        "::: step 1\nGood one.\n:::", "::: step 50\nToo far.\n:::", "::: step 3\n:::", "::: step 2\nGood two.\n:::"
    )
    rendered = render_markdown(source)
    assert [line for line, _ in rendered.problems] == [20, 24]
    assert len(_lines(rendered.html)) == 9
    assert re.findall(r'data-lines="([^"]+)"', rendered.html) == ["1", "2"]
    assert "Good one." in rendered.html
    assert "Good two." in rendered.html
    assert "Too far." not in rendered.html


def test_a_stray_or_nested_block_shows_its_text_without_a_stepper() -> None:
    html = render_markdown("::: step 2\nAlone.\n:::\n").html
    assert html == "<p>Alone.</p>\n"
    nested = render_markdown(_walkthrough(*STEPS, "::::: walkthrough inner.py\n```python\nx = 1\n```\n:::::")).html
    assert nested.count("<section") == 1
    assert "inner.py" not in nested


def test_problems_survive_the_stored_rendering() -> None:
    rendered = render_markdown(_walkthrough("::: step 40\nFar.\n:::"), line_offset=3)
    assert len(rendered.walkthrough_problems) == 2
    again = Rendered.from_json(rendered.to_json())
    assert again == rendered
    assert again.problems == rendered.problems


def test_the_renderer_version_moved_so_that_sync_renders_every_lesson_again() -> None:
    assert RENDERER_VERSION >= 2


def test_every_walkthrough_in_the_course_is_sound_and_every_stage_has_one() -> None:
    from lessons.content_files import read_content

    found = {}
    for node in read_content(CONTENT_ROOT).nodes:
        found[node.slug] = 0
        for lesson in node.lessons:
            rendered = render_markdown(lesson.body, line_offset=lesson.body_line - 1)
            assert rendered.walkthrough_problems == [], lesson.path
            found[node.slug] += rendered.html.count('<section class="walkthrough">')
    assert len(found) == 11, found
    assert [slug for slug, count in found.items() if count == 0] == [], found


# --- the highlight's colours -----------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_highlighted_line_keeps_every_code_colour_at_aa(scheme: str) -> None:
    site = _rules((CSS / "site.css").read_text())[scheme]
    backgrounds = [d["background"] for s, d in site if s == ".walkthrough__line.is-current" and "background" in d]
    assert backgrounds, f"site.css gives a highlighted line no background in the {scheme} scheme"
    code = next(d for s, d in site if s == ".prose pre")
    highlight = backgrounds[-1]
    failing = [f"text {code['color']}"] if contrast(code["color"], highlight) < AA else []
    checked = 0
    for selector, declarations in _rules((CSS / "pygments.css").read_text())[scheme]:
        colour = declarations.get("color")
        if not selector.startswith(".highlight .") or colour in (None, "inherit"):
            continue
        if declarations.get("background-color", "transparent") != "transparent":
            continue  # drawn on its own background
        checked += 1
        if contrast(colour, highlight) < AA:
            failing.append(f"{selector} {colour}: {contrast(colour, highlight):.2f}")
    assert checked > 40
    assert not failing, f"on {highlight} in the {scheme} scheme: {failing}"
    assert highlight != code["background"], "a highlighted line must look different"


# --- sync and the studio ---------------------------------------------------------------------

BAD_LESSON = "---\nslug: walk\ntitle: Walk\norder: 2\nstatus: published\n---\nIntro.\n\n" + _walkthrough(
    "::: step 1\nOne.\n:::", "::: step 12\nToo far.\n:::"
)


@pytest.mark.django_db
def test_sync_refuses_a_bad_walkthrough_by_file_and_line_and_writes_nothing(tmp_path: Path) -> None:
    content = write_content_tree(tmp_path)
    path = content / "01-first" / "02-walk.md"
    path.write_text(BAD_LESSON)
    with pytest.raises(ContentError) as error:
        content_sync(root=content)
    assert [str(p) for p in error.value.problems] == [
        "lessons/content/01-first/02-walk.md:28: step 2 highlights line 12, but pipelines/train.py has 9 lines"
    ]
    assert BAD_LESSON.splitlines()[27] == "::: step 12"
    assert not Node.objects.exists()
    path.write_text(BAD_LESSON.replace("::: step 12", "::: step 9"))
    content_sync(root=content)
    html = Lesson.objects.get(slug="walk").html
    assert re.findall(r'data-lines="([^"]+)"', html) == ["1", "9"]


@pytest.fixture
def author(django_user_model: type, instructors: Group, course: Path) -> Client:
    user: User = django_user_model.objects.create_user("teacher")
    user.groups.add(instructors)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_studio_check_preview_and_save_name_the_problem_by_the_files_line(author: Client) -> None:
    data = {**items.TYPES["lesson"].from_row(Lesson.objects.get(slug="intro", node__slug="first"))}
    body = "Intro.\n\n" + _walkthrough("::: step 1\nOne.\n:::", "::: step 12\nToo far.\n:::")
    data["body"] = body
    line = body_offset(data) + body.splitlines().index("::: step 12") + 1
    expected = [(line, "step 2 highlights line 12, but pipelines/train.py has 9 lines")]
    assert [(p.line, p.message) for p in items.check("lesson", data)] == expected
    assert [(p.line, p.message) for p in lesson_preview(data).problems] == expected
    posted = {"node": "first", "slug": "intro", "title": data["title"], "order": data["order"], "body": body}
    fragment = author.post(reverse("studio:lesson_preview"), posted, HTTP_HX_REQUEST="true").content.decode()
    assert f'data-line="{line}">line {line}:</a> step 2 highlights line 12' in fragment
    assert 'data-lines="1"' in fragment  # the preview still shows the block, with its good step
    edit = reverse("studio:lesson_edit", kwargs={"node_slug": "first", "lesson_slug": "intro"})
    before = Lesson.objects.get(slug="intro", node__slug="first").source
    response = author.post(edit, {**posted, "message": "", "base_number": 0})
    assert response.status_code == 422
    assert Lesson.objects.get(slug="intro", node__slug="first").source == before


@pytest.mark.django_db
def test_the_lesson_page_and_the_editor_load_the_walkthrough_script(author: Client) -> None:
    script = '<script src="/static/js/walkthrough.js" defer></script>'
    assert script in author.get(reverse("lessons:lesson", args=["first", "intro"])).content.decode()
    assert script in author.get(reverse("studio:lesson_edit", args=["first", "intro"])).content.decode()
    assert script in author.get(reverse("studio:lesson_learner_view", args=["first", "intro"])).content.decode()
