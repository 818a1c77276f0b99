"""Scale-out with parts that share no disk: an S3-compatible object store (moto's server mode), Redis, PostgreSQL, one
web process under the README's production command and two Celery workers, each process with its own empty DATA_DIR
and STORAGE_URL pointing at the store. The sandbox's whole path runs through them over HTTP (scripts/scale_out.py,
which `make scale-out-demo` runs too), training lands on both workers, and afterwards no folder holds a file: every
dataset, profile, model file, bundle and drift upload is an object in the bucket. Then the store is stopped mid-way:
the jobs that need it fail with a reason naming the file, nothing is presented as done, and the site still answers.
"""

import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
UNDER_CI = os.environ.get("CI") == "true"

if importlib.util.find_spec("moto") is None and not UNDER_CI:
    pytest.skip(
        "moto is not installed: the scale-out test needs its S3 server (pip install -r requirements-dev.txt)",
        allow_module_level=True,
    )

sys.path.insert(0, str(ROOT / "scripts"))
import scale_out  # noqa: E402


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[scale_out.Database, str, Path, Path]]:
    admin = os.environ.get("SCALE_OUT_POSTGRES", scale_out.DEFAULT_POSTGRES)
    problem = scale_out.postgres_problem(admin)
    if problem:
        message = f"PostgreSQL at {admin} does not answer ({problem}); set SCALE_OUT_POSTGRES to a server"
        if UNDER_CI:
            pytest.fail(message)
        pytest.skip(message)
    database = scale_out.Database(admin)
    work = tmp_path_factory.mktemp("scale-out")
    template, static = scale_out.prepared_template(database, work)
    try:
        yield database, template, static, work
    finally:
        database.drop(template)


def _logs(site: scale_out.Topology) -> str:
    return "\n".join(f"--- {name}\n{path.read_text(errors='replace')[-3000:]}" for name, path in site.logs.items())


def test_the_whole_path_runs_on_two_workers_that_share_no_disk(prepared: tuple) -> None:
    database, template, static, work = prepared
    with scale_out.topology(work / "two", database, template, static, workers=2) as site:
        try:
            result = scale_out.whole_path(site, runs=4, say=lambda line: None)
        except Exception:
            print(_logs(site))
            raise
        # Training landed on both workers, and each run on exactly one.
        assert sorted(set(result.train_jobs.values())) == ["w1", "w2"], result.train_jobs
        # No process kept a file in its own folder (DEBUG off with SECRET_KEY set, PostgreSQL: nothing at all).
        assert site.folder_files() == {"web": [], "w1": [], "w2": []}
        keys = site.bucket_keys()
        owner = site.value("SELECT owner_id FROM sandbox_dataset WHERE id = %s", result.ids["dataset"])
        rows = site.sql("SELECT id, file FROM sandbox_datasetversion ORDER BY number")
        assert [file for _, file in rows] == [f"datasets/{owner}/{pk}.csv" for pk, _ in rows]
        versions = [file for _, file in rows]
        for path in versions:
            assert path in keys
            assert path.replace(".csv", ".profile-2.json") in keys
        # Each model file is the object the worker wrote, byte for byte as its recorded SHA-256 says.
        s3 = site.s3()
        for run, model_file, sha in site.sql("SELECT id, model_file, model_sha256 FROM sandbox_run"):
            assert model_file == f"runs/{run}/model.joblib"
            body = s3.get_object(Bucket=scale_out.BUCKET, Key=model_file)["Body"].read()
            assert hashlib.sha256(body).hexdigest() == sha
        bundle, bundle_sha = site.sql("SELECT bundle_file, bundle_sha256 FROM sandbox_release")[0]
        assert bundle.startswith("deployments/")
        assert bundle in keys
        body = s3.get_object(Bucket=scale_out.BUCKET, Key=bundle)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == bundle_sha
        # A second version released from the web and deployed by a worker: the web process, which had version 1
        # loaded, answers with version 2 once the deployment's revision changed, whichever host wrote the file.
        browser = result.browser
        deployment, model = result.ids["deployment"], result.ids["model"]
        other = site.value("SELECT id FROM sandbox_run WHERE id <> %s ORDER BY id LIMIT 1", result.ids["run"])
        _, two = scale_out.register(browser, other, model=model)
        answer = browser.submit(f"/sandbox/deployments/{deployment}/", f"/sandbox/deployments/{deployment}/release/",
                                version=two, alias="", strategy="single", reason="version 2")  # fmt: skip
        assert answer.status == 200, answer.text[:800]
        assert scale_out.release_settled(site, deployment)[0] == "live"
        _, answered = scale_out.predict_answer(browser, result.deployment, result.bearer)
        assert answered.headers["X-Model-Version"] == "2"
        upload = site.value("SELECT upload_file FROM sandbox_driftreport WHERE id = %s", result.drift_report)
        assert upload.startswith("monitoring/")
        assert upload in keys


def test_a_store_stopped_mid_way_fails_the_jobs_with_the_reason_and_presents_nothing_as_done(prepared: tuple) -> None:
    database, template, static, work = prepared
    with scale_out.topology(work / "outage", database, template, static, workers=1) as site:
        try:
            _outage(site)
        except Exception:
            print(_logs(site))
            raise


def _outage(site: scale_out.Topology) -> None:
    browser = scale_out.sign_up(site)
    dataset = scale_out.upload_dataset(browser)
    version = site.value("SELECT id FROM sandbox_datasetversion WHERE dataset_id = %s", dataset)
    experiment = scale_out.new_experiment(browser, dataset)
    # A logistic regression (the form's first algorithm) is enough here: nothing is compared across workers.
    first, second = (scale_out.queue_run(browser, experiment, version, seed, algorithm={}) for seed in (0, 1))
    assert set(scale_out.runs_finished(site, [first, second]).values()) == {"succeeded"}
    model, one = scale_out.register(browser, first, name="churn")
    _, two = scale_out.register(browser, second, model=model)
    deployment = scale_out.deploy(browser, model, one, "churn-live")
    assert scale_out.release_settled(site, deployment)[0] == "live"
    bearer = scale_out.token(browser, deployment)
    assert len(scale_out.predict(browser, "churn-live", bearer)) == 25
    versions_before = site.value("SELECT count(*) FROM sandbox_datasetversion")

    site.stop_store()

    # A training run needs its data version from the store: the run and its job fail with the file named.
    third = scale_out.queue_run(browser, experiment, version, seed=2, algorithm={})
    assert scale_out.runs_finished(site, [third]) == {third: "failed"}
    run_error, model_file, sha, job_status, job_error = site.sql(
        "SELECT r.error, r.model_file, r.model_sha256, j.status, j.error FROM sandbox_run r "
        "JOIN sandbox_job j ON j.id = r.job_id WHERE r.id = %s", third,
    )[0]  # fmt: skip
    assert job_status == "failed"
    assert job_error.startswith("The object store did not answer while reading datasets/"), job_error
    assert "nothing was saved" in job_error
    assert run_error == job_error
    assert (model_file, sha) == ("", "")
    # A release of version 2 cannot store its bundle: it fails, and version 1 keeps serving.
    answer = browser.submit(f"/sandbox/deployments/{deployment}/", f"/sandbox/deployments/{deployment}/release/",
                            version=two, alias="", strategy="single", reason="ship v2 during the outage")  # fmt: skip
    assert answer.status == 200, answer.text[:800]
    status, error = scale_out.release_settled(site, deployment)
    assert status == "failed"
    assert "The object store did not answer" in error, error
    failed_bundle = site.value("SELECT bundle_file FROM sandbox_release WHERE deployment_id = %s AND number = 2",
                               deployment)  # fmt: skip
    assert failed_bundle == ""
    live = site.sql("SELECT d.status, r.number, r.status FROM sandbox_deployment d "
                    "JOIN sandbox_release r ON r.id = d.current_release_id WHERE d.id = %s", deployment)  # fmt: skip
    assert live == [("live", 1, "live")]
    # The web process loaded version 1 before the outage and still answers with it.
    assert len(scale_out.predict(browser, "churn-live", bearer)) == 25
    # A new data version cannot be stored: the form says why (503) and no version row is left behind.
    refused = scale_out.add_version(browser, dataset)
    assert refused.status == 503
    assert "The object store did not answer while writing datasets/" in refused.text
    assert site.value("SELECT count(*) FROM sandbox_datasetversion") == versions_before
    # The site itself still answers.
    assert browser.get("/healthz").status == 200
    assert browser.get("/sandbox/").status == 200
    assert browser.get(f"/sandbox/runs/{third}/").status == 200
