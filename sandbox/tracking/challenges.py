"""Checks over a learner's experiments and runs, registered for the challenge keys of the map."""

from django.contrib.auth.models import User

from lessons.challenges import ChallengeStatus, register
from sandbox.datasets.models import DatasetVersion
from sandbox.tracking.models import Experiment, Run
from sandbox.tracking.selectors import replay_matches


def _has_text_column(version: DatasetVersion) -> bool:
    return any(column["dtype"] in ("object", "str", "string") for column in version.schema)


@register("prep.pipeline-run")
def pipeline_run(user: User) -> ChallengeStatus:
    runs = Run.objects.filter(owner=user, status=Run.Status.SUCCEEDED).select_related("dataset_version")
    full = [
        run
        for run in runs
        if run.preparation.get("impute") != "none"
        and run.preparation.get("scale")
        and _has_text_column(run.dataset_version)
    ]
    return ChallengeStatus(
        title="Train through a full preparation pipeline",
        steps=[
            (
                "Train a run on data with a text column, such as the synthetic churn table",
                any(_has_text_column(r.dataset_version) for r in runs),
            ),
            ("Use imputation, scaling and one-hot encoding in that run", bool(full)),
        ],
    )


@register("tracking.compare-runs")
def compare_runs(user: User) -> ChallengeStatus:
    best_distinct, compared = 0, False
    for experiment in Experiment.objects.filter(owner=user):
        configs = {
            (run.algorithm, repr(sorted(run.params.items())))
            for run in experiment.runs.filter(status=Run.Status.SUCCEEDED)
        }
        best_distinct = max(best_distinct, len(configs))
        compared = compared or (len(configs) >= 3 and len(experiment.compared_run_ids) >= 3)
    return ChallengeStatus(
        title="Train three runs and compare them",
        steps=[
            ("Train three runs with different parameters in one experiment", best_distinct >= 3),
            ("Compare at least three of them side by side", compared),
        ],
    )


@register("testing.f1-gate")
def f1_gate(user: User) -> ChallengeStatus:
    """F1 >= 0.95 on breast cancer's test split, having looked at the test split exactly once."""
    trained, single_look, passed = False, False, False
    for experiment in Experiment.objects.filter(owner=user, dataset__builtin="breast_cancer"):
        finished = experiment.runs.filter(status=Run.Status.SUCCEEDED)
        trained = trained or finished.exists()
        revealed = list(finished.filter(test_revealed_at__isnull=False))
        if len(revealed) == 1:
            single_look = True
            passed = passed or revealed[0].test_metrics.get("test_f1", 0) >= 0.95
    return ChallengeStatus(
        title="Pass an F1 gate honestly",
        steps=[
            ("Train runs on the breast cancer set and pick one by its validation metrics", trained),
            ("Reveal the test score of that one run only (one look per experiment)", single_look),
            ("Its test F1 is 0.95 or more", passed),
        ],
    )


@register("governance.replay-run")
def replay_run(user: User) -> ChallengeStatus:
    replays = Run.objects.filter(owner=user, replay_of__isnull=False, status=Run.Status.SUCCEEDED).select_related(
        "replay_of"
    )
    matched = any(replay_matches(run) for run in replays)
    return ChallengeStatus(
        title="Reproduce a run",
        steps=[
            ("Replay a finished run from its recorded data version, parameters and seed", replays.exists()),
            ("The replay's metrics match the original's exactly", matched),
        ],
    )
