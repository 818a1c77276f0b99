"""A dataset's profile page is bounded by what it shows: bins and capped bars, never its rows.

And plotly.js is no page's blocking script: base.html names it in a meta tag and site.js loads it
only where a chart is drawn.
"""

import json
import re

import pandas as pd
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sandbox.datasets import selectors
from sandbox.datasets import services as dataset_services
from sandbox.datasets.models import Dataset, DatasetVersion
from sandbox.ml import datasets as ml
from sandbox.models import Experiment, Run

pytestmark = pytest.mark.django_db

LARGE_ROWS = 200_000
MAX_PAGE_BYTES = 300 * 1024
FIGURE = re.compile(r'<script type="application/json" id="figure-[^"]+">(.*?)</script>', re.S)
HEAD = re.compile(r"<head>(.*?)</head>", re.S)


@pytest.fixture(autouse=True)
def _media(settings: object, tmp_path: object) -> None:
    settings.MEDIA_ROOT = tmp_path
    cache.clear()


def _figures(html: str) -> dict[str, dict]:
    """The page's figures by title."""
    figures = [json.loads(block) for block in FIGURE.findall(html)]
    return {figure["layout"]["title"]["text"]: figure for figure in figures}


def _profile_url(dataset: Dataset, version: DatasetVersion) -> str:
    return reverse("sandbox:dataset_version", args=[dataset.pk, version.number])


def _upload(learner: User, frame: object, target: str, name: str = "upload") -> Dataset:
    raw = frame.to_csv(index=False).encode()
    return dataset_services.dataset_create_upload(owner=learner, name=name, raw=raw, target=target)


def test_a_200000_row_profile_is_small_carries_no_rows_and_its_bins_count_every_row(
    learner: User, learner_client: Client
) -> None:
    dataset = dataset_services.dataset_create_churn(
        owner=learner,
        name="big",
        settings={"rows": LARGE_ROWS, "noise": 0.1, "churn_rate": 0.2, "missing_rate": 0.02, "seed": 0},
    )
    version = dataset.versions.get()
    response = learner_client.get(_profile_url(dataset, version))
    assert response.status_code == 200
    html = response.content.decode()
    assert len(response.content) <= MAX_PAGE_BYTES

    figures = _figures(html)
    columns = {column.name: column for column in selectors.version_profile(version=version)[0]}
    assert set(figures) == {"churned: class balance", *(name for name in columns if name != "churned")}
    for title, figure in figures.items():
        (trace,) = figure["data"]
        # Bins or capped bars, never a value per row.
        assert trace["type"] == "bar", title
        assert len(trace["x"]) == len(trace["y"]) <= max(ml.MAX_BINS, ml.MAX_BARS + 1), title
        column = columns[title.removesuffix(": class balance")]
        assert sum(trace["y"]) + column.missing == LARGE_ROWS, title
    # The histograms are the server's bins: one bar per whole number of support calls, 30 for the charges.
    assert figures["support_calls"]["data"][0]["x"][:3] == [0, 1, 2]
    assert len(figures["monthly_charges"]["data"][0]["x"]) == ml.MAX_BINS
    assert "template" not in figures["monthly_charges"]["layout"]  # site.js applies the shared one


def test_the_profile_is_stored_with_the_version_and_the_page_never_reads_the_rows(
    learner: User, learner_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = ml.make_churn(rows=300, seed=2)
    dataset = _upload(learner, frame, "churned")
    version = dataset.versions.get()
    cache.clear()  # as another web process, or this one after a restart, would find it

    def no_rows(version: DatasetVersion) -> None:
        raise AssertionError("the profile page read the version's rows")

    monkeypatch.setattr(selectors, "version_frame", no_rows)
    response = learner_client.get(_profile_url(dataset, version))
    assert response.status_code == 200
    assert b"tenure_months" in response.content
    monkeypatch.undo()

    # A version stored before profiles were: its first view profiles the rows and stores the profile.
    stored = f"{version.file.rsplit('.', 1)[0]}.profile-{selectors.PROFILE_FORMAT}.json"
    assert default_storage.exists(stored)
    default_storage.delete(stored)
    cache.clear()
    first = learner_client.get(_profile_url(dataset, version))
    assert first.status_code == 200
    assert default_storage.exists(stored)
    cache.clear()
    monkeypatch.setattr(selectors, "version_frame", no_rows)
    again = learner_client.get(_profile_url(dataset, version))
    assert _figures(again.content.decode()).keys() == _figures(first.content.decode()).keys()


def test_a_text_column_charts_its_most_common_values_and_one_bar_for_the_rest(
    learner: User, learner_client: Client
) -> None:
    frame = ml.make_churn(rows=400, seed=1, missing_rate=0)
    frame["city"] = [f"city {n % 50:02d}" for n in range(len(frame))]
    dataset = _upload(learner, frame, "churned")
    html = learner_client.get(_profile_url(dataset, dataset.versions.get())).content.decode()
    trace = _figures(html)["city"]["data"][0]
    assert len(trace["x"]) == ml.MAX_BARS + 1
    assert trace["x"][-1] == f"other ({50 - ml.MAX_BARS} values)"
    assert sum(trace["y"]) == 400
    # The table still lists the five most common values.
    assert html.count("city 0") >= 5


def test_a_column_of_hostile_numbers_still_profiles(learner: User, learner_client: Client) -> None:
    raw = b"x,y,label\n1e308,inf,a\n-1e308,1,b\n0,2,a\n5,-inf,b\n"
    dataset = dataset_services.dataset_create_upload(owner=learner, name="odd", raw=raw, target="label")
    response = learner_client.get(_profile_url(dataset, dataset.versions.get()))
    assert response.status_code == 200
    figures = _figures(response.content.decode())
    assert sum(figures["x"]["data"][0]["y"]) == 4
    assert sum(figures["y"]["data"][0]["y"]) == 2  # the infinities are in no bin
    blocks = "".join(FIGURE.findall(response.content.decode()))
    # JSON has neither; JSON.parse would refuse the block.
    assert "NaN" not in blocks
    assert "Infinity" not in blocks


def test_the_widest_upload_with_the_longest_names_and_values_still_has_a_small_profile(
    learner: User, learner_client: Client
) -> None:
    rows = 30
    columns = {}
    for n in range(ml.MAX_COLUMNS // 2):
        columns[f"{n:03d}".ljust(ml.MAX_NAME_CHARS, "n")] = [n * 1.000001 + r / 7 for r in range(rows)]
    for n in range(ml.MAX_COLUMNS // 2 - 1):
        columns[f"{n:03d}".ljust(ml.MAX_NAME_CHARS, "t")] = [f"{r % 15:02d}".ljust(1000, "v") for r in range(rows)]
    columns["target"] = [r % 2 for r in range(rows)]
    dataset = _upload(learner, pd.DataFrame(columns), "target")
    version = dataset.versions.get()
    assert version.columns == ml.MAX_COLUMNS
    response = learner_client.get(_profile_url(dataset, version))
    assert response.status_code == 200
    assert len(response.content) <= MAX_PAGE_BYTES
    assert "v" * 100 not in response.content.decode()  # values are cut to a few words
    assert len(_figures(response.content.decode())) == 40


def test_the_dataset_page_names_the_newest_runs_of_a_version_and_never_reads_their_charts(
    learner: User, learner_client: Client
) -> None:
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="iris")
    version = dataset.versions.get()
    experiment = Experiment.objects.create(owner=learner, name="e", dataset=dataset)
    Run.objects.bulk_create(
        Run(experiment=experiment, owner=learner, dataset_version=version, name=f"run-{n:02d}",
            algorithm="logistic_regression", seed=n, charts={"residuals": {"actual": [0.5] * 1000}})
        for n in range(selectors.SHOWN_RUNS + 5)
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        html = learner_client.get(reverse("sandbox:dataset", args=[dataset.pk])).content.decode()
    assert html.count('href="/sandbox/runs/') == selectors.SHOWN_RUNS
    assert "and 5 more" in html
    run_queries = [q["sql"] for q in queries.captured_queries if 'FROM "sandbox_run"' in q["sql"]]
    assert run_queries
    assert not [sql for sql in run_queries if '"charts"' in sql]


def test_another_learners_profile_is_not_found(learner: User, other_learner: User, client: Client) -> None:
    dataset = dataset_services.dataset_create_churn(
        owner=other_learner,
        name="theirs",
        settings={"rows": 200, "noise": 0.1, "churn_rate": 0.2, "missing_rate": 0, "seed": 0},
    )
    client.force_login(learner)
    assert client.get(_profile_url(dataset, dataset.versions.get())).status_code == 404


def test_no_page_loads_plotly_from_its_head_and_every_page_names_it_for_site_js(
    site_urls: list, learner_client: Client
) -> None:
    checked = 0
    for url in site_urls:
        response = learner_client.get(url.path)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        html = response.content.decode()
        if "<head>" not in html:
            continue  # an htmx fragment
        head = HEAD.search(html).group(1)
        scripts = re.findall(r"<script\b[^>]*>", head)
        assert not [s for s in scripts if "plotly" in s], url.path
        if "/static/js/site.js" not in head:
            continue  # Django's own admin pages
        # Every script in the head waits for the document, and site.js knows where plotly.js is.
        assert all(" defer" in s for s in scripts if "src=" in s), (url.path, scripts)
        assert '<meta name="plotly-src" content="/static/vendor/plotly-strict.min.js">' in head, url.path
        checked += 1
    assert checked >= 10


def test_a_page_with_a_chart_carries_its_data_block_and_the_plotly_addresses(
    learner: User, learner_client: Client
) -> None:
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="iris")
    html = learner_client.get(_profile_url(dataset, dataset.versions.get())).content.decode()
    assert FIGURE.search(html)
    assert 'class="plotly-graph-div" data-figure="figure-' in html
    head = HEAD.search(html).group(1)
    assert '<meta name="plotly-src" content="/static/vendor/plotly-strict.min.js">' in head
    assert '<meta name="plotly-template" content="/static/vendor/plotly-white-template.json">' in head
    assert re.search(r'<script src="/static/js/site\.js[^"]*" defer></script>', head)
