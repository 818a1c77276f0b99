"""The experiment page's runs table: filters a new learner writes, sorting, columns, and the pages around it."""

import html
import importlib
import json
import re
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import Dataset, DatasetVersion, Experiment, Run
from sandbox.tracking import models as tracking_models
from sandbox.tracking import selectors, views
from sandbox.tracking import services as tracking

pytestmark = pytest.mark.django_db
SMALL_CHURN = {"rows": 200, "noise": 0.05, "churn_rate": 0.3, "missing_rate": 0.02, "seed": 1}
NINE_METRICS = [
    "val_accuracy", "val_precision", "val_recall", "val_f1", "val_roc_auc", "val_log_loss",
    "cv_f1_mean", "cv_f1_std", "val_balanced_accuracy",
]  # fmt: skip
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def churn(learner: User, settings: object, tmp_path: object) -> Dataset:
    settings.MEDIA_ROOT = tmp_path / "media"
    return dataset_services.dataset_create_churn(owner=learner, name="churn", settings=SMALL_CHURN)


@pytest.fixture
def experiment(churn: Dataset) -> Experiment:
    return Experiment.objects.create(owner=churn.owner, name="baseline", dataset=churn)


def _run(experiment: Experiment, name: str, algorithm: str = "decision_tree", **fields: object) -> Run:
    fields.setdefault("status", Run.Status.SUCCEEDED)
    return Run.objects.create(
        experiment=experiment, owner=experiment.owner, dataset_version=experiment.dataset.versions.get(),
        name=name, algorithm=algorithm, seed=1, **fields,
    )  # fmt: skip


@pytest.fixture
def mixed(experiment: Experiment) -> Experiment:
    """Two algorithms, a text param, a param stored as text that reads as a number, and a tag."""
    _run(experiment, "logreg", "logistic_regression", params={"C": 0.5, "max_iter": 1000}, metrics={"val_f1": 0.7})
    _run(
        experiment, "tree-gini", params={"max_depth": 5, "criterion": "gini", "max_features": "5"},
        metrics={"val_f1": 0.8}, tags={"team": "retention"},
    )  # fmt: skip
    _run(
        experiment, "tree-entropy", params={"max_depth": 8, "criterion": "entropy", "max_features": "5.0"},
        metrics={"val_f1": 0.9}, test_metrics={"test_f1": 0.85},
    )  # fmt: skip
    return experiment


def _names(experiment: Experiment, text: str) -> set[str]:
    return {run.name for run in selectors.runs_table(experiment=experiment, filter_text=text).runs}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("params.algorithm = logistic_regression", {"logreg"}),
        ("params.algorithm != logistic_regression", {"tree-gini", "tree-entropy"}),
        ("params.algorithm = 'decision_tree' and params.max_depth > 6", {"tree-entropy"}),
        ("params.criterion = gini", {"tree-gini"}),
        ("params.criterion != gini", {"tree-entropy"}),
        # Text stays text: "5" is the value logged, "5.0" another one, whatever they read as.
        ("params.max_features = 5", {"tree-gini"}),
        ("params.max_features = 5.0", {"tree-entropy"}),
        ("params.max_depth = 5.0", {"tree-gini"}),
        # A key some runs lack matches the runs that have it, and is not an unknown key.
        ("params.C < 1", {"logreg"}),
        ("tags.team = retention", {"tree-gini"}),
    ],
)
def test_params_match_as_a_learner_writes_them(mixed: Experiment, text: str, names: set) -> None:
    assert _names(mixed, text) == names


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("params.criterion > gini", "params.criterion is text, so it can only be compared with = or !=, not >."),
        ("params.max_features >= 5", "params.max_features is text, so it can only be compared with = or !=, not >=."),
        ("tags.team < z", "tags.team is text, so it can only be compared with = or !=, not <."),
        ("params.max_depth = deep", "params.max_depth is a number, so compare it with a number, not 'deep'."),
        (
            "params.max_dept = 5",
            "No run in this experiment has a parameter called 'max_dept'; the parameters are "
            "C, algorithm, criterion, max_depth, max_features, max_iter.",
        ),
        (
            "metrics.val_f2 > 0.5",
            "No run in this experiment has a metric called 'val_f2'; the metrics are val_f1.",
        ),
        ("tags.owner = me", "No run in this experiment has a tag called 'owner'; the tags are team."),
        (
            "metrics.test_f1 > 0.5",
            "test_f1 is sealed until you reveal a run's test score; filter on validation metrics.",
        ),
    ],
)
def test_a_filter_that_cannot_match_says_why(mixed: Experiment, text: str, message: str) -> None:
    with pytest.raises(selectors.FilterError) as refused:
        selectors.runs_table(experiment=mixed, filter_text=text)
    assert refused.value.message == message
    assert refused.value.status == 422


def test_an_unknown_key_is_named_on_the_page_with_a_422(learner_client: Client, mixed: Experiment) -> None:
    url = reverse("sandbox:experiment", args=[mixed.pk])
    for headers in ({}, HTMX):
        response = learner_client.get(url, {"filter": "params.max_dept = 5"}, **headers)
        body = html.unescape(response.content.decode())
        assert response.status_code == 422
        assert "No run in this experiment has a parameter called 'max_dept'; the parameters are C, algorithm" in body
        assert "No run matches the filter." in body


def test_revealed_test_metrics_are_known_to_the_filter(mixed: Experiment) -> None:
    # Revealed as the run page does it: the test metrics join the values the table filters and sorts by.
    tracking.run_reveal_test(run=Run.objects.get(name="tree-entropy"))
    assert _names(mixed, "metrics.test_f1 > 0.5") == {"tree-entropy"}
    runs = selectors.runs_table(experiment=mixed, sort="metrics.test_f1").runs
    assert [run.name for run in runs] == ["tree-entropy", "tree-gini", "logreg"]


def test_an_experiment_without_tags_says_so(experiment: Experiment) -> None:
    _run(experiment, "plain", params={"max_depth": 3})
    with pytest.raises(selectors.FilterError, match=r"a tag called 'team'; no run has any tags yet\."):
        selectors.runs_table(experiment=experiment, filter_text="tags.team = a")


def _header(body: str, label: str) -> str:
    """The opening <th …> and its link for the header whose link text is `label` (underscores may break)."""
    for match in re.finditer(r"<th [^>]*>.*?</th>", body, flags=re.S):
        if html.unescape(re.sub(r"<[^>]+>", "", match.group(0))).strip(" \xa0▲▼") == label:
            return match.group(0)
    raise AssertionError(f"no header {label!r}")


def test_the_sorted_column_shows_its_direction_and_its_header_flips_it(
    learner_client: Client, mixed: Experiment
) -> None:
    url = reverse("sandbox:experiment", args=[mixed.pk])
    body = learner_client.get(url).content.decode()
    header = _header(body, "val_f1")
    assert "aria-sort" not in header
    assert "▲" not in header
    assert "▼" not in header
    # Unsorted, a metric sorts best-first and a text column A to Z.
    assert "?sort=-metrics.val_f1" in header
    assert "?sort=name" in _header(body, "Run")

    body = learner_client.get(url, {"sort": "-metrics.val_f1"}).content.decode()
    header = _header(body, "val_f1")
    assert 'aria-sort="descending"' in header
    assert "▼" in header
    assert "?sort=metrics.val_f1" in header
    assert body.count("aria-sort=") == 1
    names = re.findall(r'aria-label="Compare ([^"]+)"', body)
    assert names == ["tree-entropy", "tree-gini", "logreg"]

    body = learner_client.get(url, {"sort": "metrics.val_f1"}).content.decode()
    header = _header(body, "val_f1")
    assert 'aria-sort="ascending"' in header
    assert "▲" in header
    assert "?sort=-metrics.val_f1" in header
    assert re.findall(r'aria-label="Compare ([^"]+)"', body) == ["logreg", "tree-gini", "tree-entropy"]

    body = learner_client.get(url, {"sort": "algorithm"}).content.decode()
    assert 'aria-sort="ascending"' in _header(body, "Algorithm")
    assert "?sort=-algorithm" in _header(body, "Algorithm")


@pytest.mark.parametrize("sort", ["colour", "-metrics.", "params", "__class__", "delete"])
def test_a_sort_the_table_cannot_do_is_a_clear_422(learner_client: Client, mixed: Experiment, sort: str) -> None:
    response = learner_client.get(reverse("sandbox:experiment", args=[mixed.pk]), {"sort": sort})
    assert response.status_code == 422
    assert "click a column&#x27;s header to sort by it" in response.content.decode()


@pytest.fixture
def wide(experiment: Experiment) -> Experiment:
    """Three params and nine metrics: more columns than fit beside the run's name."""
    for depth in (3, 5, 8):
        _run(
            experiment, f"tree-{depth}",
            params={"max_depth": depth, "min_samples_leaf": 1, "criterion": "gini"},
            metrics={name: depth / 10 + index / 100 for index, name in enumerate(NINE_METRICS)},
        )  # fmt: skip
    return experiment


def _thead(body: str) -> str:
    return re.sub(r"<[^>]+>", " ", body[body.index("<thead>") : body.index("</thead>")])


def _checked(body: str) -> dict[str, bool]:
    boxes = re.findall(r'<input type="checkbox" name="cols" value="([^"]+)"( checked)?>', body)
    return {key: bool(checked) for key, checked in boxes}


def test_by_default_every_metric_is_a_column_and_many_params_wait_in_the_chooser(
    learner_client: Client, wide: Experiment
) -> None:
    body = learner_client.get(reverse("sandbox:experiment", args=[wide.pk])).content.decode()
    words = _thead(body).replace("_ ", "_").split()
    assert [w for w in words if w in NINE_METRICS] == sorted(NINE_METRICS)
    assert "max_depth" not in words
    assert _checked(body) == {
        **{f"params.{n}": False for n in ("criterion", "max_depth", "min_samples_leaf")},
        **{f"metrics.{n}": True for n in NINE_METRICS},
    }
    assert 'Columns <span class="muted">(9 of 12 shown)' in body


def test_a_few_params_are_shown_beside_the_metrics(learner_client: Client, mixed: Experiment) -> None:
    body = learner_client.get(reverse("sandbox:experiment", args=[mixed.pk])).content.decode()
    assert all(_checked(body).values())
    assert "criterion" in _thead(body)


def test_the_chosen_columns_live_in_the_url_and_every_link_keeps_them(learner_client: Client, wide: Experiment) -> None:
    url = reverse("sandbox:experiment", args=[wide.pk])
    response = learner_client.get(url, {"cols": ["", "params.max_depth", "metrics.val_f1", "metrics.nope"]})
    body = response.content.decode()
    words = _thead(body).replace("_ ", "_").split()
    assert [w for w in words if "_" in w] == ["max_depth", "val_f1"]
    assert _checked(body)["params.max_depth"]
    assert not _checked(body)["metrics.val_recall"]
    tree = re.search(r'<tr class="run run--succeeded">.*?</tr>', body, flags=re.S).group(0)
    # Newest first: tree-8, whose val_f1 is 0.8 + 3 / 100.
    assert re.findall(r"<td[^>]*>([^<]*)</td>", tree) == ["8", "0.8300"]
    kept = "cols=params.max_depth%2Cmetrics.val_f1"
    assert f"?sort=-metrics.val_f1&amp;{kept}" in _header(body, "val_f1")
    assert '<input type="hidden" name="cols" value="params.max_depth,metrics.val_f1">' in body

    # A queued run makes the table poll; the poll asks for the same columns.
    _run(wide, "waiting", status=Run.Status.QUEUED, params={"max_depth": 2})
    body = learner_client.get(url, {"cols": "params.max_depth", "sort": "name"}, **HTMX).content.decode()
    assert f'hx-get="{url}?sort=name&amp;cols=params.max_depth"' in body
    assert 'hx-trigger="every 2s"' in body


def test_unticking_every_column_leaves_the_run_status_and_algorithm(learner_client: Client, wide: Experiment) -> None:
    body = learner_client.get(reverse("sandbox:experiment", args=[wide.pk]), {"cols": ""}).content.decode()
    assert _thead(body).split() == ["Run", "Status", "Algorithm"]
    assert not any(_checked(body).values())
    assert "(0 of 12 shown)" in body


def test_a_history_restore_gets_the_whole_page(learner_client: Client, wide: Experiment) -> None:
    url = reverse("sandbox:experiment", args=[wide.pk])
    fragment = learner_client.get(url, **HTMX).content.decode()
    restored = learner_client.get(url, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX).content.decode()
    assert "<html" not in fragment
    assert "<html" in restored
    assert 'id="sweep-form"' in restored


def test_a_sweep_names_each_run_by_what_varied(experiment: Experiment, celery_eager: None) -> None:
    base = tracking.RunConfig(
        "random_forest", {"min_samples_leaf": 2}, training.Preparation(), training.Split(), seed=7
    )
    runs = tracking.sweep_create(
        experiment=experiment, version=experiment.dataset.versions.get(), base=base,
        grid={"n_estimators": [10, 50], "max_depth": [3, 5]},
    )  # fmt: skip
    assert sorted(run.name for run in runs) == [
        "random-forest max_depth=3 n_estimators=10",
        "random-forest max_depth=3 n_estimators=50",
        "random-forest max_depth=5 n_estimators=10",
        "random-forest max_depth=5 n_estimators=50",
    ]
    assert all(run.params["min_samples_leaf"] == 2 for run in runs)


def test_train_on_it_opens_a_new_experiment_on_that_dataset(
    learner_client: Client, churn: Dataset, learner: User
) -> None:
    second = dataset_services.dataset_create_churn(owner=learner, name="churn-noisy", settings=SMALL_CHURN)
    page = learner_client.get(reverse("sandbox:dataset", args=[second.pk])).content.decode()
    link = f"{reverse('sandbox:experiments')}?dataset={second.pk}"
    assert f'href="{link}">Train on it in an experiment</a>' in page

    page = learner_client.get(link).content.decode()
    assert f'<option value="{second.pk}" selected>churn-noisy</option>' in page
    assert f'<option value="{churn.pk}">churn</option>' in page
    assert 'value="churn-noisy experiment"' in page

    # The suggestion is a name the learner has not used yet; the choice made on the page is what counts.
    Experiment.objects.create(owner=learner, name="churn-noisy experiment", dataset=second)
    assert 'value="churn-noisy experiment 2"' in learner_client.get(link).content.decode()
    response = learner_client.post(reverse("sandbox:experiments"), {"name": "mine", "dataset": churn.pk})
    assert Experiment.objects.get(name="mine").dataset == churn
    assert response.status_code == 302


def test_another_learners_dataset_in_the_link_preselects_nothing(
    client: Client, churn: Dataset, other_learner: User
) -> None:
    client.force_login(other_learner)
    dataset_services.dataset_create_churn(owner=other_learner, name="theirs", settings=SMALL_CHURN)
    for raw in (churn.pk, "9" * 30):
        page = client.get(reverse("sandbox:experiments"), {"dataset": raw}).content.decode()
        assert " selected" not in page
        assert "churn" not in page


def test_the_experiments_list_is_cards_that_link(learner_client: Client, mixed: Experiment) -> None:
    page = learner_client.get(reverse("sandbox:experiments")).content.decode()
    url = reverse("sandbox:experiment", args=[mixed.pk])
    assert f'<a class="tile tile--compact card" href="{url}"><strong class="tile__title">baseline' in page
    assert "on churn · 3 runs" in page


def _parcoords(page: str) -> dict:
    """The parallel-coordinates trace from the figures' JSON data blocks on the page."""
    for block in re.findall(r'<script type="application/json" id="figure-[^"]+">(.*?)</script>', page, re.S):
        for trace in json.loads(block)["data"]:
            if trace["type"] == "parcoords":
                return trace
    raise AssertionError("the page has no parallel-coordinates chart")


def test_parallel_coordinates_of_two_algorithms_have_no_none_axes(learner_client: Client, mixed: Experiment) -> None:
    ids = list(mixed.runs.filter(name__in=["logreg", "tree-gini"]).values_list("pk", flat=True))
    page = learner_client.get(reverse("sandbox:compare", args=[mixed.pk]), {"runs": ids}).content.decode()
    dimensions = _parcoords(page)["dimensions"]
    assert [d["label"] for d in dimensions] == ["algorithm", "val_f1"]
    assert dimensions[0]["ticktext"] == ["decision_tree", "logistic_regression"]
    assert "None" not in json.dumps(dimensions)
    assert all(any(v is not None for v in d["values"]) for d in dimensions)


def test_parallel_coordinates_of_one_algorithm_keep_every_shared_param(
    learner_client: Client, mixed: Experiment
) -> None:
    ids = list(mixed.runs.filter(name__startswith="tree").values_list("pk", flat=True))
    page = learner_client.get(reverse("sandbox:compare", args=[mixed.pk]), {"runs": ids}).content.decode()
    dimensions = _parcoords(page)["dimensions"]
    assert [d["label"] for d in dimensions] == ["criterion", "max_depth", "max_features", "val_f1"]
    assert dimensions[0]["ticktext"] == ["entropy", "gini"]
    assert dimensions[1]["values"] == [5, 8]


def test_the_table_reads_its_runs_in_one_query_however_many_there_are(
    learner_client: Client, wide: Experiment, django_assert_num_queries: object
) -> None:
    url = reverse("sandbox:experiment", args=[wide.pk])
    query = {"sort": "-metrics.val_f1", "filter": "params.max_depth > 1", "cols": "params.max_depth,metrics.val_f1"}
    learner_client.get(url, query)
    with CaptureQueriesContext(connection) as few:
        learner_client.get(url, query)
    for depth in range(20):
        _run(wide, f"more-{depth}", params={"max_depth": depth + 2}, metrics={"val_f1": 0.5})
    with django_assert_num_queries(len(few.captured_queries)):
        assert learner_client.get(url, query).status_code == 200


# The runs table as it was read before it moved into the database (da33991): every run loaded, then filtered
# and sorted in Python. The database's answers must be these, on a set that has every kind of value.
def _reference_value(run: Run, scope: str | None, key: str) -> object:
    if scope == "metrics":
        return {**run.metrics, **(run.test_metrics if run.test_revealed_at else {})}.get(key)
    if scope == "params" and key == "algorithm" and key not in run.params:
        return run.algorithm
    if scope in ("params", "tags"):
        return getattr(run, scope).get(key)
    return getattr(run, key)


def _reference_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


_REFERENCE_OPERATORS = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
}  # fmt: skip


def _reference_compared(actual: object, operator: str, wanted: str, label: str) -> bool:
    if isinstance(actual, str | bool):
        if operator not in ("=", "!="):
            raise selectors.FilterError(f"{label} is text, so it can only be compared with = or !=, not {operator}.")
        return _REFERENCE_OPERATORS[operator](str(actual), wanted)
    left, right = _reference_number(actual), _reference_number(wanted)
    if left is None:
        raise selectors.FilterError(f"{label} holds neither text nor a number, so it cannot be filtered on.")
    if right is None:
        raise selectors.FilterError(f"{label} is a number, so compare it with a number, not {wanted!r}.")
    return _REFERENCE_OPERATORS[operator](left, right)


def _reference_table(experiment: Experiment, sort: str, filter_text: str) -> list[str]:
    clauses = selectors.parse_run_filter(filter_text)
    order = selectors.parse_run_sort(sort) if sort else None
    every = list(experiment.runs.order_by("-created_at", "-pk"))
    known = {scope: set() for scope in selectors.SCOPES}
    for run in every:
        known["params"].update(run.params)
        known["metrics"].update({**run.metrics, **(run.test_metrics if run.test_revealed_at else {})})
        known["tags"].update(run.tags)
    if every:
        known["params"].add("algorithm")
    for scope, key, _, _ in clauses:
        if scope is None or key in known[scope]:
            continue
        if scope == "metrics" and any(key in run.test_metrics for run in every):
            raise selectors.FilterError(
                f"{key} is sealed until you reveal a run's test score; filter on validation metrics."
            )
        one, many = {"params": ("parameter", "parameters"), "metrics": ("metric", "metrics"), "tags": ("tag", "tags")}[
            scope
        ]
        names = sorted(known[scope])
        listing = f"the {many} are {', '.join(names)}" if names else f"no run has any {many} yet"
        raise selectors.FilterError(f"No run in this experiment has a {one} called {key!r}; {listing}.")

    def matches(run: Run) -> bool:
        for scope, key, operator, wanted in clauses:
            actual = _reference_value(run, scope, key)
            if actual is None or not _reference_compared(actual, operator, wanted, f"{scope}.{key}" if scope else key):
                return False
        return True

    runs = [run for run in every if matches(run)]
    if order:
        scope, key, descending = order
        present = [run for run in runs if _reference_value(run, scope, key) is not None]
        missing = [run for run in runs if _reference_value(run, scope, key) is None]

        def sort_key(run: Run) -> tuple:
            value = _reference_value(run, scope, key)
            number = _reference_number(value)
            return (number is None, number if number is not None else 0.0, str(value))

        present.sort(key=sort_key, reverse=descending)
        runs = present + missing
    return [run.name for run in runs]


@pytest.fixture
def every_kind(experiment: Experiment) -> Experiment:
    """Numbers, text, text that reads as a number, a param holding both, bools, lists, missing keys, ties,
    revealed and sealed test metrics, an `algorithm` param, statuses, and names that read as numbers."""
    now = timezone.now()
    runs = [
        ("alpha", "decision_tree", {"max_depth": 5, "criterion": "gini", "max_features": "5", "flag": True},
         {"val_f1": 0.8, "val_loss": 1}, {"test_f1": 0.7}, now, {"team": "a", "n": "10"}, "succeeded", 3),
        ("Zeta", "decision_tree", {"max_depth": 8, "criterion": "entropy", "max_features": 3, "flag": False},
         {"val_f1": 0.8, "val_loss": 1.0}, {"test_f1": 0.9}, None, {"team": "b", "n": "9"}, "succeeded", 1),
        ("10", "random_forest", {"max_depth": 3, "n_estimators": 50, "max_features": "sqrt"},
         {"val_f1": 0.9}, {"test_f1": 0.95}, now, {"n": "9.5"}, "failed", 2),
        ("9", "logistic_regression", {"C": 0.5, "layers": [8, 4], "max_features": "5.0"},
         {"val_f1": 0.65, "cv_f1": 0.6}, {}, None, {}, "queued", 5),
        ("_custom", "ridge", {"algorithm": "custom", "alpha": 1.0, "max_depth": None},
         {}, {"sealed_f1": 0.5}, None, {"team": "a"}, "running", 4),
        ("beta", "decision_tree", {"max_depth": 5, "criterion": "gini", "max_features": 3, "flag": True},
         {"val_f1": 0.8, "val_loss": 2}, {}, None, {"team": "a", "n": "10"}, "succeeded", 3),
        ("gamma", "random_forest", {"max_depth": 12, "n_estimators": 200}, {"val_f1": 1e-9}, {}, None,
         {"team": "ä"}, "succeeded", 7),
    ]  # fmt: skip
    for name, algorithm, params, metrics, test_metrics, revealed, tags, status, seed in runs:
        Run.objects.create(
            experiment=experiment, owner=experiment.owner, dataset_version=experiment.dataset.versions.get(),
            name=name, algorithm=algorithm, params=params, metrics=metrics, test_metrics=test_metrics,
            test_revealed_at=revealed, tags=tags, status=status, seed=seed,
        )  # fmt: skip
    return experiment


EVERY_FILTER = [
    "", "params.max_depth > 3", "params.max_depth >= 5 and metrics.val_f1 < 0.85", "params.criterion = gini",
    "params.criterion != gini", "params.max_features = 5", "params.max_features = 5.0", "params.max_features != 3",
    "params.max_features = sqrt", "params.max_features > 2", "params.flag = True", "params.flag != True",
    "params.flag = true", "params.algorithm = custom", "params.algorithm = decision_tree",
    "params.algorithm != decision_tree", "params.layers = 8", "metrics.val_f1 > 0.5", "metrics.val_f1 <= 0.8",
    "metrics.val_loss = 1", "metrics.test_f1 > 0.1", "metrics.sealed_f1 > 0", "tags.team = a", "tags.team != a",
    "tags.n = 10", "tags.n > 9", "status = succeeded", "status != failed", "name = alpha", "name > a",
    "seed > 2", "seed = 3.0", "seed = 2.5", "seed <= 1e400", "algorithm = ridge", "algorithm != ridge",
    "params.nope = 1", "tags.nope = x", "metrics.nope > 1", "metrics.val_f1 > abc", "params.max_depth = 1e400",
    "params.C < 1 and tags.team = a", "tags.team = ä",
]  # fmt: skip
EVERY_SORT = [
    "", "name", "-name", "status", "-status", "algorithm", "-algorithm", "seed", "-seed", "params.max_depth",
    "-params.max_depth", "params.max_features", "-params.max_features", "params.flag", "-params.flag",
    "params.algorithm", "-params.algorithm", "params.layers", "metrics.val_f1", "-metrics.val_f1",
    "metrics.val_loss", "-metrics.test_f1", "metrics.sealed_f1", "tags.n", "-tags.n", "tags.team", "-tags.team",
    "tags.nothing",
]  # fmt: skip


def _outcome(experiment: Experiment, sort: str, filter_text: str, *, reference: bool) -> tuple[str, object]:
    try:
        if reference:
            return "runs", _reference_table(experiment, sort, filter_text)
        table = selectors.runs_table(experiment=experiment, sort=sort, filter_text=filter_text)
        return "runs", [run.name for run in table.runs]
    except selectors.FilterError as refused:
        return "refused", refused.message


def test_the_database_filters_and_sorts_as_python_did(every_kind: Experiment) -> None:
    compared = 0
    for filter_text in EVERY_FILTER:
        for sort in EVERY_SORT:
            expected = _outcome(every_kind, sort, filter_text, reference=True)
            assert _outcome(every_kind, sort, filter_text, reference=False) == expected, (filter_text, sort)
            compared += expected[0] == "runs" and bool(expected[1])
    assert compared > 500


def test_the_columns_cover_every_run_and_never_the_test_metrics(every_kind: Experiment) -> None:
    table = selectors.runs_table(experiment=every_kind, filter_text="status = queued")
    assert [run.name for run in table.runs] == ["9"]
    assert table.param_names == [
        "C", "algorithm", "alpha", "criterion", "flag", "layers", "max_depth", "max_features", "n_estimators",
    ]  # fmt: skip
    assert table.metric_names == ["cv_f1", "val_f1", "val_loss"]


def test_a_tag_set_later_is_filtered_and_sorted_on(every_kind: Experiment) -> None:
    tracking.run_set_tag(run=Run.objects.get(name="gamma"), key="pick", value="yes")
    assert _names(every_kind, "tags.pick = yes") == {"gamma"}
    assert selectors.runs_table(experiment=every_kind, sort="-tags.pick").runs[0].name == "gamma"


def _many_runs(experiment: Experiment, count: int) -> None:
    """`count` more finished runs, written as a data import would: bulk_create, then the run-value index."""
    version = experiment.dataset.versions.get()
    Run.objects.bulk_create(
        Run(
            experiment=experiment, owner=experiment.owner, dataset_version=version, name=f"bulk-{n}",
            algorithm="decision_tree", seed=n, status=Run.Status.SUCCEEDED,
            params={"max_depth": 1 + n % 20, "criterion": ("gini", "entropy")[n % 2]},
            metrics={"val_f1": (n * 37 % 100) / 100}, tags={"batch": str(n // 10)},
        )
        for n in range(count)
    )  # fmt: skip
    tracking_models.runs_reindex(experiment=experiment)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"sort": "-metrics.val_f1"},
        {"sort": "name"},
        {"sort": "-status"},
        {"sort": "params.criterion", "filter": "params.max_depth >= 5 and metrics.val_f1 > 0.2"},
        {"sort": "tags.batch", "filter": "tags.batch != 3 and seed > 4"},
        {"filter": "params.algorithm = decision_tree", "shown": "20"},
    ],
)
def test_the_table_asks_the_same_queries_for_300_runs_as_for_30(
    learner_client: Client, experiment: Experiment, query: dict
) -> None:
    """A page of 10 runs (20 for the last), full at both sizes, costs the same queries, none reading every run."""
    query = {"shown": "10", **query}
    url = reverse("sandbox:experiment", args=[experiment.pk])
    _many_runs(experiment, 30)
    learner_client.get(url, query)
    with CaptureQueriesContext(connection) as few:
        assert learner_client.get(url, query).status_code == 200
    counted = len(few.captured_queries)
    _many_runs(experiment, 270)
    with CaptureQueriesContext(connection) as many:
        assert learner_client.get(url, query).status_code == 200
    assert len(many.captured_queries) == counted
    # No query reads every run: each is limited, an index look-up, or counts up to the cap.
    reading = [q["sql"] for q in many.captured_queries if '"sandbox_run"' in q["sql"] and "LIMIT" not in q["sql"]]
    assert all("COUNT" in sql or "EXISTS" in sql or '"id" IN' in sql for sql in reading), reading


def test_shown_is_capped_at_ten_pages_and_says_to_filter(learner_client: Client, experiment: Experiment) -> None:
    _many_runs(experiment, selectors.MAX_ROWS + 50)
    url = reverse("sandbox:experiment", args=[experiment.pk])
    body = learner_client.get(url, {"shown": "50000"}).content.decode()
    assert body.count('<tr class="run ') == selectors.MAX_ROWS == views.MAX_SHOWN
    assert "Show more runs" not in body
    assert "The first 1,000 runs are shown; filter the table to find the others." in body
    assert 'Runs <span class="muted">(more than 1,000)</span>' in body

    body = learner_client.get(url, {"shown": "900", "sort": "seed"}).content.decode()
    assert body.count('<tr class="run ') == 900
    assert "?sort=seed&amp;shown=1000" in body
    assert "The first 1,000 runs are shown" not in body

    body = learner_client.get(url, {"filter": "params.max_depth = 3"}).content.decode()
    assert body.count('<tr class="run ') == 53
    assert 'Runs <span class="muted">(53)</span>' in body
    assert "Show more runs" not in body
    for shown in ("0", "-5", "1e9", "9" * 40):
        assert learner_client.get(url, {"shown": shown}).content.decode().count('<tr class="run ') == 100


def test_the_data_migration_fills_the_index_that_saving_writes(every_kind: Experiment) -> None:
    """0006 fills, for data saved before 0005, exactly what saving a run writes now (its rules are a copy)."""
    fill = importlib.import_module("sandbox.migrations.0006_fill_run_values").fill

    def index() -> tuple:
        return (
            sorted(tracking_models.RunValue.objects.values_list(
                "run_id", "experiment_id", "scope", "key", "kind", "rank", "number", "text", "run_created_at"
            )),
            sorted(tracking_models.ExperimentKey.objects.values_list("experiment_id", "scope", "name", "kind")),
            sorted(Run.objects.values_list("pk", "config_key", "full_preparation")),
            sorted(DatasetVersion.objects.values_list("pk", "has_text_column")),
        )  # fmt: skip

    saved = index()
    assert len(saved[0]) > 50
    assert any(has_text for _, has_text in saved[3])
    tracking_models.RunValue.objects.all().delete()
    tracking_models.ExperimentKey.objects.all().delete()
    Run.objects.update(config_key="", full_preparation=False)
    DatasetVersion.objects.update(has_text_column=False)
    fill(django_apps, SimpleNamespace(connection=connection))
    assert index() == saved
