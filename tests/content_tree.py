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


QUESTIONS = """\
- id: first-single
  kind: single
  prompt: Which test suits a numerical feature?
  choices:
    - text: KS
      correct: true
    - text: Chi-square
      feedback: Chi-square compares category counts.
    - text: Cronbach
  explanation: KS compares two empirical distribution functions.
- id: first-multiple
  kind: multiple
  prompt: Which are drift kinds?
  choices:
    - text: Data drift
      correct: true
    - text: Concept drift
      correct: true
    - text: Disk drift
      feedback: Not a thing.
  explanation: Data and concept drift are the two classic kinds.
- id: first-true-false
  kind: true_false
  prompt: MLflow recommends stages over aliases.
  answer: false
  explanation: Stages are deprecated since MLflow 2.9.
- id: first-ordering
  kind: ordering
  prompt: Put these in order.
  items: [Deploy, Train, Collect]
  answer: [Collect, Train, Deploy]
  explanation: Data first, then a model, then serving.
- id: first-numeric
  kind: numeric
  prompt: What is 0.1 + 0.15?
  answer: 0.25
  tolerance: 0.005
  explanation: Add them.
- id: first-explain
  kind: explain
  prompt: Explain drift.
  model_answer: Inputs or relationships change after training.
  explanation: Listen for the two kinds.
"""


def write_questions(content: Path, node_folder: str = "01-first", text: str = QUESTIONS) -> Path:
    path = content / node_folder / "questions.yaml"
    path.write_text(text)
    return path
