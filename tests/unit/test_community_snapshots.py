"""Sharing from the sandbox into a post: what a learner can attach, the snapshot copied from it (their own objects
only, never a token, bounded in size, unchanged after), and its read-only card."""

import json
import random
import re

import pandas as pd
import pytest
from django.contrib.auth.models import User
from django.template.loader import render_to_string
from django.utils import timezone

from community.models import Post, Snapshot
from community.snapshots import MAX_DATA_BYTES, TOKEN_REMOVED, Attachable, attachable, snapshot_take
from mlopslab.refusals import Refused
from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import (
    Deployment,
    DriftReport,
    Experiment,
    ModelVersion,
    PredictionLog,
    RefusedRequest,
    RegisteredModel,
    Release,
    Run,
)
from sandbox.monitoring import drift
from sandbox.serving import services as serving_services

FIGURE = re.compile(r'<script id="([^"]+)" type="application/json">(.*?)</script>', re.S)
SPLIT = {"test_size": 0.2, "validation_size": 0.2, "cv_folds": 0}
CHARTS = {
    "labels": ["no", "yes"],
    "confusion": [[30, 4], [6, 10]],
    "roc": {"fpr": [0.0, 0.1, 0.4, 1.0], "tpr": [0.0, 0.6, 0.9, 1.0]},
    "importances": [["tenure", 0.41], ["monthly_charges", 0.22]],
}


def _run(owner: User, experiment: Experiment, name: str = "baseline", **fields: object) -> Run:
    values = {
        "experiment": experiment, "owner": owner, "dataset_version": experiment.dataset.versions.get(), "name": name,
        "algorithm": "logistic_regression", "params": {"C": 1.0, "max_iter": 200}, "seed": 1,
        "status": Run.Status.SUCCEEDED, "preparation": training.Preparation().as_dict(),
        "metrics": {"val_f1": 0.8123, "val_accuracy": 0.86}, "split": SPLIT, "charts": CHARTS,
        "tags": {"team": "blue"}, "finished_at": timezone.now(), **fields,
    }  # fmt: skip
    return Run.objects.create(**values)


@pytest.fixture
def sandbox(learner: User, settings: object, tmp_path: object) -> dict:
    """The learner's dataset, experiment with two runs compared, a deployment with a shadow that failed on a
    request, a real API token, and a finished drift report."""
    settings.MEDIA_ROOT = tmp_path
    churn = {"rows": 200, "noise": 0.1, "churn_rate": 0.3, "missing_rate": 0, "seed": 1}
    dataset = dataset_services.dataset_create_churn(owner=learner, name="churn", settings=churn)
    experiment = Experiment.objects.create(owner=learner, name="first tries", dataset=dataset)
    run = _run(learner, experiment)
    other = _run(learner, experiment, name="deeper", params={"C": 0.1, "max_iter": 500}, metrics={"val_f1": 0.77})
    Experiment.objects.filter(pk=experiment.pk).update(compared_run_ids=[run.pk, other.pk])
    model = RegisteredModel.objects.create(owner=learner, name="churn-model")
    stored = {"model_file": f"runs/{run.pk}/model.joblib", "model_sha256": "0" * 64, "signature": []}
    versions = [
        ModelVersion.objects.create(
            registered_model=model, owner=learner, number=number, run=run, dataset_version=run.dataset_version, **stored
        )
        for number in (1, 2)
    ]
    deployment = Deployment.objects.create(
        owner=learner, name="churn-api", registered_model=model, status=Deployment.Status.LIVE,
        stable_version=versions[0], candidate_version=versions[1], strategy="shadow",
    )  # fmt: skip
    release = Release.objects.create(
        deployment=deployment, owner=learner, number=1, status=Release.Status.LIVE, strategy="shadow",
        version=versions[1], stable_version=versions[0], candidate_version=versions[1], actor=learner,
    )  # fmt: skip
    token_row, token = serving_services.api_token_create(owner=learner, name="laptop")
    inputs = [{"tenure": 3, "contract": "monthly", "note": f"Authorization: Bearer {token}"}]
    common = {"deployment": deployment, "release": release, "request_id": "a" * 32, "row_count": 1, "inputs": inputs}
    PredictionLog.objects.create(
        **common, version=versions[0], role="stable", latency_ms=3.2, predictions=[{"prediction": "no"}]
    )
    failing = PredictionLog.objects.create(
        **common, version=versions[1], role="shadow", status=PredictionLog.Status.ERROR, latency_ms=1.5,
        error=f"ValueError: column 'tenure' has the wrong type (sent with {token})",
    )  # fmt: skip
    rng = random.Random(3)
    reference = pd.DataFrame({"tenure": [rng.gauss(20, 5) for _ in range(300)], "plan": ["a", "b", "c"] * 100})
    current = pd.DataFrame({"tenure": [rng.gauss(30, 5) for _ in range(200)], "plan": ["a", "b"] * 100})
    result = drift.dataset_drift(reference, current)
    report = DriftReport.objects.create(
        owner=learner, deployment=deployment, version=versions[0], reference=run.dataset_version,
        status=DriftReport.Status.DONE, window=200, reference_rows=300, current_rows=200, result=result.as_dict(),
        dataset_drift=result.dataset_drift, share_drifted=result.share_drifted, finished_at=timezone.now(),
    )  # fmt: skip
    return {
        "run": run, "other": other, "experiment": experiment, "deployment": deployment, "failing": failing,
        "token": token, "prefix": token_row.prefix, "report": report, "result": result,
    }  # fmt: skip


def _post(author: User) -> Post:
    return Post.objects.create(kind=Post.Kind.QUESTION, author=author, title="Why?", body="b", body_html="<p>b</p>")


def _card(snapshot: Snapshot) -> str:
    return render_to_string("community/partials/snapshot.html", {"snapshot": snapshot})


@pytest.mark.django_db
def test_a_learner_can_attach_their_own_run_comparison_drift_report_and_failing_request(
    sandbox: dict, learner: User, other_learner: User
) -> None:
    listed = attachable(learner)
    assert all(isinstance(item, Attachable) for item in listed)
    refs = [item.ref for item in listed]
    assert refs == [
        f"run:{sandbox['other'].pk}",
        f"run:{sandbox['run'].pk}",
        f"comparison:{sandbox['experiment'].pk}",
        f"drift_report:{sandbox['report'].pk}",
        f"failing_request:{sandbox['failing'].pk}",
    ]
    labels = {item.ref: item.label for item in listed}
    assert labels[f"run:{sandbox['run'].pk}"].startswith("Run 'baseline' — val_f1 0.81, ")
    assert "'baseline', 'deeper'" in labels[f"comparison:{sandbox['experiment'].pk}"]
    assert "churn-api" in labels[f"failing_request:{sandbox['failing'].pk}"]
    assert sandbox["prefix"] not in json.dumps(labels)
    assert attachable(other_learner) == []


@pytest.mark.django_db
def test_a_run_snapshot_holds_what_its_card_shows_and_its_charts(sandbox: dict, learner: User) -> None:
    snapshot = snapshot_take(user=learner, ref=f"run:{sandbox['run'].pk}")
    assert snapshot.pk is None
    assert snapshot.kind == Snapshot.Kind.RUN
    assert snapshot.source_id == sandbox["run"].pk
    assert snapshot.title == "Run 'baseline'"
    data = snapshot.data
    assert data["params"] == [["C", "1.0"], ["max_iter", "200"]]
    assert data["metrics"] == [["val_accuracy", "0.8600"], ["val_f1", "0.8123"]]
    assert data["tags"] == [["team", "blue"]]
    assert data["dataset"] == "churn"
    assert data["dataset_version"].startswith("v1 (")
    titles = [chart["figure"]["layout"]["title"]["text"] for chart in data["charts"]]
    assert titles == ["Confusion matrix (validation)", "ROC curve (validation)", "Feature importance"]
    assert data["charts"][0]["figure"]["data"][0]["z"] == [[30, 4], [6, 10]]
    card = _card(snapshot)
    drawn = dict(FIGURE.findall(card))
    assert [json.loads(drawn[chart["id"]]) for chart in data["charts"]] == [chart["figure"] for chart in data["charts"]]
    assert card.count('class="plotly-graph-div"') == 3
    assert "sandbox" not in re.sub(r"<script.*?</script>", "", card, flags=re.S).replace("from the sandbox", "")


@pytest.mark.django_db
def test_a_sealed_test_score_is_not_copied_until_revealed(sandbox: dict, learner: User) -> None:
    run = sandbox["run"]
    Run.objects.filter(pk=run.pk).update(test_metrics={"test_f1": 0.6543})
    assert "test_f1" not in json.dumps(snapshot_take(user=learner, ref=f"run:{run.pk}").data)
    Run.objects.filter(pk=run.pk).update(test_revealed_at=timezone.now())
    assert snapshot_take(user=learner, ref=f"run:{run.pk}").data["test_metrics"] == [["test_f1", "0.6543"]]


@pytest.mark.django_db
def test_the_snapshot_does_not_change_when_the_run_does_or_is_deleted(sandbox: dict, learner: User) -> None:
    run = _run(learner, sandbox["experiment"], name="short-lived")
    snapshot = snapshot_take(user=learner, ref=f"run:{run.pk}")
    snapshot.post = _post(learner)
    snapshot.save()
    before = json.dumps(snapshot.data, sort_keys=True)
    run.tags = {"team": "red"}
    run.note = "rewritten"
    run.name = "renamed"
    run.save()
    snapshot.refresh_from_db()
    assert json.dumps(snapshot.data, sort_keys=True) == before
    run.delete()
    snapshot.refresh_from_db()
    assert json.dumps(snapshot.data, sort_keys=True) == before
    assert "short-lived" in _card(snapshot)


@pytest.mark.django_db
def test_a_comparison_snapshot_holds_the_runs_side_by_side_and_its_charts(sandbox: dict, learner: User) -> None:
    snapshot = snapshot_take(user=learner, ref=f"comparison:{sandbox['experiment'].pk}")
    data = snapshot.data
    assert [run["name"] for run in data["runs"]] == ["baseline", "deeper"]
    rows = {row["name"]: row for row in data["rows"]}
    assert rows["C"]["values"] == ["1.0", "0.1"]
    assert rows["val_f1"]["values"] == ["0.8123", "0.7700"]
    assert rows["algorithm"]["same"] is True
    assert [chart["figure"]["data"][0]["type"] for chart in data["charts"]] == ["parcoords", "bar"]
    card = _card(snapshot)
    assert card.count('class="plotly-graph-div"') == 2
    assert "0.7700" in card


@pytest.mark.django_db
def test_a_drift_report_snapshot_holds_every_columns_test_and_the_verdict(sandbox: dict, learner: User) -> None:
    snapshot = snapshot_take(user=learner, ref=f"drift_report:{sandbox['report'].pk}")
    data = snapshot.data
    columns = {column["column"]: column for column in data["columns"]}
    assert set(columns) == {"tenure", "plan"}
    assert columns["tenure"]["drifted"] is True
    assert columns["tenure"]["measure"] == "p-value"
    assert columns["tenure"]["rule"] == "p < 0.05"
    assert data["dataset_drift"] is sandbox["result"].dataset_drift
    assert data["share_drifted"] == f"{round(sandbox['result'].share_drifted * 100)} %"
    assert data["reference"].startswith("churn v1, the data version 1 of churn-model")
    assert data["current"] == "the newest 200 requests"
    assert len(data["charts"]) == 2
    card = _card(snapshot)
    assert "Kolmogorov" in card
    assert "Per-column drift tests" in card


@pytest.mark.django_db
def test_a_failing_request_snapshot_never_carries_the_token(sandbox: dict, learner: User) -> None:
    snapshot = snapshot_take(user=learner, ref=f"failing_request:{sandbox['failing'].pk}")
    data = snapshot.data
    assert data["endpoint"] == "churn-api"
    assert data["version"] == 2
    assert data["role"] == "Shadow"
    assert '"tenure": 3' in data["request"]
    assert "wrong type" in data["response"]
    assert data["caller_answer"]["version"] == 1
    assert TOKEN_REMOVED in data["request"]
    stored = json.dumps(data) + snapshot.title
    assert sandbox["token"] not in stored
    assert sandbox["prefix"] not in stored
    card = _card(snapshot)
    assert sandbox["prefix"] not in card
    assert "mlt_" not in card


def test_a_request_the_endpoint_refused_is_shared_as_sent_and_answered(
    sandbox: dict, learner: User, other_learner: User
) -> None:
    body = '{"dataframe_split": {"columns": ["tenure"], "data": [["three"]]}}'
    refused = RefusedRequest.objects.create(
        deployment=sandbox["deployment"], version=sandbox["deployment"].stable_version, status=400,
        error_code="BAD_REQUEST", message="Incompatible input types for column tenure.", body=body,
        body_bytes=len(body), content_type="application/json",
    )  # fmt: skip
    ref = f"refused_request:{refused.pk}"
    assert ref in [item.ref for item in attachable(learner)]
    assert ref not in [item.ref for item in attachable(other_learner)]
    snapshot = snapshot_take(user=learner, ref=ref)
    assert snapshot.kind == Snapshot.Kind.FAILING_REQUEST
    assert snapshot.data["request"] == body
    assert json.loads(snapshot.data["response"])["message"] == "Incompatible input types for column tenure."
    card = _card(snapshot)
    assert "400 BAD_REQUEST" in card
    assert "Incompatible input types" in card
    with pytest.raises(Refused) as other:
        snapshot_take(user=other_learner, ref=ref)
    assert other.value.status == 404


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["run", "comparison", "drift_report", "failing_request"])
def test_another_learners_object_is_refused_as_not_found(sandbox: dict, other_learner: User, kind: str) -> None:
    pk = {
        "run": sandbox["run"].pk, "comparison": sandbox["experiment"].pk, "drift_report": sandbox["report"].pk,
        "failing_request": sandbox["failing"].pk,
    }[kind]  # fmt: skip
    with pytest.raises(Refused) as refused:
        snapshot_take(user=other_learner, ref=f"{kind}:{pk}")
    assert refused.value.status == 404


@pytest.mark.django_db
@pytest.mark.parametrize("ref", ["", "run", "run:", "run:x", "job:1", "run:-1", "run:١", "run:1:2"])
def test_a_ref_that_names_nothing_is_refused(learner: User, ref: str) -> None:
    with pytest.raises(Refused) as refused:
        snapshot_take(user=learner, ref=ref)
    assert refused.value.status == 400


@pytest.mark.django_db
def test_an_unfinished_run_is_not_shared(sandbox: dict, learner: User) -> None:
    run = _run(learner, sandbox["experiment"], name="busy", status=Run.Status.RUNNING, finished_at=None)
    with pytest.raises(Refused) as refused:
        snapshot_take(user=learner, ref=f"run:{run.pk}")
    assert refused.value.status == 409
    assert f"run:{run.pk}" not in [item.ref for item in attachable(learner)]


@pytest.mark.django_db
def test_the_card_escapes_what_the_learner_wrote(sandbox: dict, learner: User) -> None:
    payload = '<script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)" hx-get="/x">'
    run = _run(
        learner, sandbox["experiment"], name=payload, tags={payload: payload}, note=payload,
        params={"C": payload, "max_iter": 200},
    )  # fmt: skip
    Experiment.objects.filter(pk=sandbox["experiment"].pk).update(compared_run_ids=[sandbox["run"].pk, run.pk])
    for ref in (f"run:{run.pk}", f"comparison:{sandbox['experiment'].pk}"):
        card = _card(snapshot_take(user=learner, ref=ref))
        outside_data = re.sub(r'<script id="[^"]+" type="application/json">.*?</script>', "", card, flags=re.S)
        assert "<script" not in outside_data
        assert "<img" not in card
        assert "<a " not in card
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card
        for block in FIGURE.findall(card):
            assert "<" not in block[1]


@pytest.mark.django_db
def test_a_big_run_makes_a_small_snapshot(sandbox: dict, learner: User) -> None:
    rng = random.Random(1)
    actual = [rng.random() for _ in range(40_000)]
    labels = [f"class {n}" for n in range(60)]
    run = _run(
        learner, sandbox["experiment"], name="big" * 33, algorithm="random_forest",
        params={f"param_{n}": "x" * 300 for n in range(400)},
        metrics={f"val_metric_{n}": rng.random() for n in range(400)},
        tags={f"tag_{n}": "y" * 200 for n in range(400)}, note="z" * 50_000,
        charts={
            "labels": labels, "confusion": [[rng.randrange(1000) for _ in labels] for _ in labels],
            "roc": {"fpr": sorted(actual), "tpr": sorted(actual)}, "residuals": {"actual": actual, "predicted": actual},
            "importances": [[f"feature_{n}", rng.random()] for n in range(2000)],
        },
    )  # fmt: skip
    snapshot = snapshot_take(user=learner, ref=f"run:{run.pk}")
    size = len(json.dumps(snapshot.data).encode())
    assert size <= MAX_DATA_BYTES
    assert size < 200 * 1024
    assert len(snapshot.data["params"]) == 50
    assert snapshot.data["charts"]
    assert len(_card(snapshot).encode()) < 250 * 1024


@pytest.mark.django_db
def test_the_list_is_capped_per_kind_and_empty_for_a_visitor(sandbox: dict, learner: User) -> None:
    from django.contrib.auth.models import AnonymousUser

    from community.snapshots import PER_KIND

    run = sandbox["run"]
    fields = {f: getattr(run, f) for f in ("experiment", "owner", "dataset_version", "algorithm", "params", "seed")}
    Run.objects.bulk_create(Run(**fields, name=f"r{n}", status=Run.Status.SUCCEEDED) for n in range(PER_KIND + 5))
    runs = [item for item in attachable(learner) if item.kind == Snapshot.Kind.RUN]
    assert len(runs) == PER_KIND
    assert runs[0].label.startswith(f"Run 'r{PER_KIND + 4}'")
    assert attachable(AnonymousUser()) == []


def test_a_bearer_word_in_prose_is_kept_and_a_bearer_credential_is_not() -> None:
    from community.snapshots import _scrub

    assert _scrub("the bearer of bad news") == "the bearer of bad news"
    assert _scrub("Authorization: Bearer abcdefghijklmnopqrstuvwx") == f"Authorization: Bearer {TOKEN_REMOVED}"
