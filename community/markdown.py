"""Everything a learner writes in the community is Markdown rendered by the lessons' renderer: raw HTML off,
code highlighted, and the result cleaned by the same nh3 allowlist (no script, no event handlers, no
`javascript:` URLs, no `hx-*` attributes). Nothing a learner typed reaches a page any other way."""

from lessons.rendering import render_markdown


def render_post(source: str) -> str:
    return render_markdown(source).html if source.strip() else ""
