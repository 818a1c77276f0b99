"""Plotly figures for quiz and interview pages, as HTML fragments (layout and sizing in mlopslab.figures)."""

import math
from dataclasses import dataclass

from django.utils import timezone

from lessons.models import Answer, Node, QuizAttempt
from mlopslab.figures import axis, figure_html

MAX_SESSION_TICKS = 8


@dataclass
class StageScore:
    title: str
    answered: int = 0
    correct: int = 0
    rated: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.correct / self.answered) if self.answered else 0


def interview_scorecard(attempt: QuizAttempt) -> list[StageScore]:
    """Per stage: graded questions answered and correct, and explain-it cards rated."""
    titles = dict(Node.objects.filter(slug__in=attempt.stages).values_list("slug", "title"))
    rows = {slug: StageScore(title=titles.get(slug, slug)) for slug in attempt.stages}
    for answer in Answer.objects.filter(attempt=attempt).select_related("question__node"):
        row = rows.setdefault(answer.question.node.slug, StageScore(title=answer.question.node.title))
        if answer.correct is None:
            row.rated += 1
        else:
            row.answered += 1
            row.correct += int(answer.correct)
    return list(rows.values())


def scorecard_html(rows: list[StageScore]) -> str:
    titles = [row.title for row in rows]
    data = [
        {"type": "bar", "name": "correct", "x": titles, "y": [row.correct for row in rows],
         "marker": {"color": "#1f7a4d"}},
        {"type": "bar", "name": "missed", "x": titles, "y": [row.answered - row.correct for row in rows],
         "marker": {"color": "#b3261e"}},
        {"type": "bar", "name": "cards rated", "x": titles, "y": [row.rated for row in rows],
         "marker": {"color": "#2952cc"}},
    ]  # fmt: skip
    return figure_html(data, "This session by stage", barmode="group", yaxis=axis("questions"))


def history_html(sessions: list[QuizAttempt]) -> str:
    """Score per session, one evenly spaced tick per session labelled with its local start time.

    A time axis would stretch a single session, or a few close together, down to milliseconds.
    """
    ordered = sorted(sessions, key=lambda a: a.started_at)
    numbers = list(range(1, len(ordered) + 1))
    starts = [timezone.localtime(a.started_at) for a in ordered]
    labels = [f"{start.day} {start:%b %H:%M}" for start in starts]
    every = math.ceil(len(ordered) / MAX_SESSION_TICKS)
    data = [
        {
            "type": "scatter",
            "x": numbers,
            "y": [a.percent for a in ordered],
            "mode": "lines+markers",
            "customdata": [[label, f"{a.correct}/{a.graded} graded"] for label, a in zip(labels, ordered, strict=True)],
            "hovertemplate": "%{customdata[0]}<br>%{y}% correct, %{customdata[1]}<extra></extra>",
            "name": "score",
        }
    ]
    return figure_html(
        data,
        "Your interview sessions",
        xaxis=axis(
            "session",
            tickmode="array",
            tickvals=numbers[::every],
            ticktext=labels[::every],
            range=[0.5, len(ordered) + 0.5],
        ),
        yaxis=axis("% correct", range=[0, 104]),
        showlegend=False,
    )
