"""Checks over a learner's experiments and runs, registered for the challenge keys of the map.

They run after every job and on every stage page, so each is a fixed number of indexed queries, however many
runs the learner has: none reads the runs themselves.
"""

from django.contrib.auth.models import User
from django.db.models import Exists, F, OuterRef, Subquery

from lessons.challenges import ChallengeStatus, register
from sandbox.datasets.models import Dataset, DatasetVersion
from sandbox.tracking.models import Experiment, Run


@register("prep.pipeline-run")
def pipeline_run(user: User) -> ChallengeStatus:
    # Read from the learner's few versions with text, each probing the index of its finished runs. The runs on a
    # learner's version are the learner's (an experiment trains on its owner's dataset): naming the owner too
    # would lead SQLite to read every run of the owner instead.
    text_versions = DatasetVersion.objects.filter(dataset__owner=user, has_text_column=True).exclude(
        dataset__source=Dataset.Source.CORPUS
    )
    finished = Run.objects.filter(dataset_version=OuterRef("pk"), status=Run.Status.SUCCEEDED)
    return ChallengeStatus(
        title="Train through a full preparation pipeline",
        steps=[
            (
                "Train a run on data with a text column, such as the synthetic churn table",
                text_versions.filter(Exists(finished)).exists(),
            ),
            (
                "Use imputation, scaling and one-hot encoding in that run",
                # `in`, not `=`: Django writes `= true` as the bare column, which SQLite cannot look up in an index.
                text_versions.filter(Exists(finished.filter(full_preparation__in=[True]))).exists(),
            ),
        ],
    )


def _next_configuration(after: str | None = None) -> Subquery:
    """The smallest configuration fingerprint of the outer experiment's finished runs past `after` (an
    annotation's name): one step of a loose index scan, so that counting three distinct configurations
    never reads more than three index entries per experiment."""
    finished = Run.objects.filter(experiment=OuterRef("pk"), status=Run.Status.SUCCEEDED)
    if after:
        finished = finished.filter(config_key__gt=OuterRef(after))
    return Subquery(finished.order_by("config_key").values("config_key")[:1])


@register("tracking.compare-runs")
def compare_runs(user: User) -> ChallengeStatus:
    experiments = (
        Experiment.objects.filter(owner=user)
        .annotate(first=_next_configuration())
        .annotate(second=_next_configuration("first"))
        .annotate(third=_next_configuration("second"))
        .filter(third__isnull=False)
    )
    three = list(experiments.values_list("compared_run_ids", flat=True))
    return ChallengeStatus(
        title="Train three runs and compare them",
        steps=[
            ("Train three runs with different parameters in one experiment", bool(three)),
            ("Compare at least three of them side by side", any(len(compared) >= 3 for compared in three)),
        ],
    )


@register("testing.f1-gate")
def f1_gate(user: User) -> ChallengeStatus:
    """F1 >= 0.95 on breast cancer's test split, having looked at the test split exactly once."""
    finished = Run.objects.filter(experiment=OuterRef("pk"), status=Run.Status.SUCCEEDED)
    # In the index's own order, so that the first two looks are two index entries.
    revealed = finished.filter(test_revealed_at__isnull=False).order_by("test_revealed_at", "pk").values("pk")
    experiments = Experiment.objects.filter(owner=user, dataset__builtin="breast_cancer").annotate(
        trained=Exists(finished), first_look=Subquery(revealed[:1]), second_look=Subquery(revealed[1:2])
    )
    trained, single_looks = False, []
    for experiment in experiments.values("trained", "first_look", "second_look"):
        trained = trained or experiment["trained"]
        if experiment["first_look"] is not None and experiment["second_look"] is None:
            single_looks.append(experiment["first_look"])
    scores = Run.objects.filter(pk__in=single_looks).values_list("test_metrics", flat=True) if single_looks else []
    return ChallengeStatus(
        title="Pass an F1 gate honestly",
        steps=[
            ("Train runs on the breast cancer set and pick one by its validation metrics", trained),
            ("Reveal the test score of that one run only (one look per experiment)", bool(single_looks)),
            ("Its test F1 is 0.95 or more", any(score.get("test_f1", 0) >= 0.95 for score in scores)),
        ],
    )


@register("governance.replay-run")
def replay_run(user: User) -> ChallengeStatus:
    replays = Run.objects.filter(owner=user, replay_of__isnull=False, status=Run.Status.SUCCEEDED)
    # Compared in the database (JSON equality), so no replay's metrics are read into Python.
    matched = replays.filter(
        replay_of__status=Run.Status.SUCCEEDED,
        metrics=F("replay_of__metrics"),
        test_metrics=F("replay_of__test_metrics"),
    )
    return ChallengeStatus(
        title="Reproduce a run",
        steps=[
            ("Replay a finished run from its recorded data version, parameters and seed", replays.exists()),
            ("The replay's metrics match the original's exactly", matched.exists()),
        ],
    )
