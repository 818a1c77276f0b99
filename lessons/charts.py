"""Plotly figures for quiz and interview pages, as HTML fragments (plotly.js is loaded by the page)."""

from dataclasses import dataclass

import plotly.graph_objects as go

from lessons.models import Answer, Node, QuizAttempt

CONFIG = {"displaylogo": False, "responsive": True}


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


def _layout(figure: go.Figure, title: str, **axes: object) -> str:
    figure.update_layout(
        title=title, template="plotly_white", height=320, margin={"l": 50, "r": 20, "t": 50, "b": 40}, **axes
    )
    return figure.to_html(full_html=False, include_plotlyjs=False, config=CONFIG)


def scorecard_html(rows: list[StageScore]) -> str:
    titles = [row.title for row in rows]
    figure = go.Figure(
        [
            go.Bar(name="correct", x=titles, y=[row.correct for row in rows], marker_color="#1f7a4d"),
            go.Bar(name="missed", x=titles, y=[row.answered - row.correct for row in rows], marker_color="#b3261e"),
            go.Bar(name="cards rated", x=titles, y=[row.rated for row in rows], marker_color="#2952cc"),
        ]
    )
    return _layout(figure, "This session by stage", barmode="group", yaxis_title="questions")


def history_html(sessions: list[QuizAttempt]) -> str:
    ordered = sorted(sessions, key=lambda a: a.started_at)
    figure = go.Figure(
        go.Scatter(
            x=[a.started_at for a in ordered],
            y=[a.percent for a in ordered],
            mode="lines+markers",
            text=[f"{a.correct}/{a.graded} graded" for a in ordered],
            name="score",
        )
    )
    return _layout(figure, "Your interview sessions", yaxis_title="% correct", yaxis_range=[0, 100])
