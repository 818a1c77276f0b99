"""A small, valid content folder for tests that need nodes and lessons but not the whole course."""

from pathlib import Path

LESSON = """---
slug: {slug}
title: {title}
order: {order}
status: published
---
Body of {title}, about data drift.

## A section

See [the other](lesson:{link}).
"""


def write_content_tree(root: Path) -> Path:
    """A two-node content folder that loads cleanly."""
    content = root / "lessons" / "content"
    for order, slug, prereqs in ((1, "first", "[]"), (2, "second", "[first]")):
        folder = content / f"0{order}-{slug}"
        folder.mkdir(parents=True)
        (folder / "node.yaml").write_text(
            f"slug: {slug}\ntitle: The {slug} node\norder: {order}\nprerequisites: {prereqs}\n"
            f"challenge: test.{slug}\nsummary: About {slug}.\nobjectives:\n  - Learn {slug}.\n"
        )
        (folder / "01-intro.md").write_text(
            LESSON.format(slug="intro", title=f"{slug} intro", order=1, link="first/intro")
        )
    (content / "glossary.yaml").write_text(
        "- term: Data drift\n  slug: data-drift\n  aliases: [covariate shift]\n  definition: Inputs change.\n"
    )
    (content / "faq.yaml").write_text("- question: Is it free?\n  answer: |\n    Yes, **free**.\n")
    return content
