"""Reads of a learner's RAG versions, evaluations and gate verdicts, always scoped to their owner."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from lessons.models import FaqEntry, GlossaryTerm
from mlopslab.figures import axis, figure_html
from sandbox.llmops import rag
from sandbox.llmops.models import RagConfigVersion, RagEvaluation, RagPromotion
from sandbox.tracking.models import Run

CHART_METRICS = ("hit_rate_at_1", "hit_rate_at_3", "mrr", "answer_contains_fact")
SHOWN_PROMOTIONS = 20


def version_get_owned(*, owner: User, number: int) -> RagConfigVersion:
    """The learner's own version `number`, or 404: another learner's versions are not theirs to number."""
    return get_object_or_404(RagConfigVersion, owner=owner, number=number)


def content_loaded() -> bool:
    """Whether the course's glossary or FAQ has been synced on this site, so that there is anything to retrieve."""
    return GlossaryTerm.objects.exists() or FaqEntry.objects.exists()


@dataclass
class VersionRow:
    version: RagConfigVersion
    evaluation: RagEvaluation | None
    """The newest evaluation, whatever its status."""
    finished: RagEvaluation | None
    """The newest succeeded evaluation."""


def versions_table(*, owner: User) -> list[VersionRow]:
    evaluations = RagEvaluation.objects.select_related("run", "run__job", "run__experiment").order_by(
        "-created_at", "-pk"
    )
    versions = RagConfigVersion.objects.filter(owner=owner).prefetch_related(
        Prefetch("evaluations", queryset=evaluations, to_attr="all_evaluations")
    )
    rows = []
    for version in versions:
        newest = version.all_evaluations[0] if version.all_evaluations else None
        finished = next((e for e in version.all_evaluations if e.run.status == Run.Status.SUCCEEDED), None)
        rows.append(VersionRow(version, newest, finished))
    return rows


def any_active(rows: list[VersionRow]) -> bool:
    return any(row.evaluation and row.evaluation.run.status in (Run.Status.QUEUED, Run.Status.RUNNING) for row in rows)


def evaluations_of(version: RagConfigVersion) -> list[RagEvaluation]:
    return list(version.evaluations.select_related("run", "run__job", "run__dataset_version"))


def answers_of(evaluation: RagEvaluation) -> list:
    return list(evaluation.answers.all())


def promotions_owned(*, owner: User) -> list[RagPromotion]:
    return list(RagPromotion.objects.filter(owner=owner).select_related("candidate", "against")[:SHOWN_PROMOTIONS])


def config_of(version: RagConfigVersion) -> rag.RagConfig:
    return rag.RagConfig(**version.params())


def hit_rates_chart(rows: list[VersionRow]) -> str:
    """Grouped bars: each finished version's hit rates, MRR and fact share, all on a 0–1 scale."""
    finished = [row for row in rows if row.finished is not None]
    if not finished:
        return ""
    labels = [f"v{row.version.number}" for row in finished]
    data = [
        {
            "type": "bar",
            "name": name.replace("_", " "),
            "x": labels,
            "y": [row.finished.run.metrics.get(name) for row in finished],
        }
        for name in CHART_METRICS
    ]
    return figure_html(data, "Golden-set metrics by version", yaxis=axis("share", range=[0, 1.05]), barmode="group")
