"""A cohort's progress and scores as CSV: one row per learner, a state and a best quiz percent per stage."""

import csv
import io

from cohorts.selectors import CohortReport


def cohort_csv(report: CohortReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    stages = report.heatmap.stages
    header = ["username", "joined"]
    header += [f"{node.order}. {node.title} state" for node in stages]
    header += [f"{node.order}. {node.title} best quiz %" for node in stages]
    header += ["last activity", "stuck reason"]
    writer.writerow(header)
    for learner in report.learners:
        writer.writerow(
            [
                _safe(learner.row.username),
                learner.row.joined_at.isoformat(timespec="seconds"),
                *[cell.label for cell in learner.row.cells],
                *["" if percent is None else percent for percent in learner.best_percent],
                learner.last_activity.isoformat(timespec="seconds"),
                "; ".join(learner.stuck),
            ]
        )
    return out.getvalue()


def _safe(text: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet; a username is the only free text here.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
