"""`GET /serve/<endpoint>/metrics`: Prometheus' text format (0.0.4) held to the format's grammar line by line,
counts and a cumulative latency histogram that match the request log, the accuracy gauge over arrived labels
only, `/ping`'s authentication and refusals, and a query count that does not grow with the log.

prometheus_client is not installed here, so the format is checked by a strict parser of its own (below),
written from the exposition format's specification: every line a HELP, a TYPE or a sample; names and label
names as the format allows; label values quoted with only \\\\, \\" and \\n escaped; each family's HELP and TYPE
once, before its samples, and its samples together; a histogram's buckets rising in `le`, cumulative, ending in
+Inf equal to its `_count`."""

import datetime as dt
import math
import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sandbox.models import ApiToken, Deployment
from sandbox.monitoring import metrics
from sandbox.serving import services
from tests.unit import test_monitoring_dashboard as made

pytestmark = pytest.mark.django_db

deployment_made, logged, log, _media = made.deployment_made, made.logged, made.log, made._media

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(
    rf"^(?P<name>{NAME})(?:\{{(?P<labels>(?:{LABEL}={VALUE})(?:,{LABEL}={VALUE})*)?,?\}})? "
    r"(?P<value>[+-]?(?:Inf|NaN|[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?))"
    r"(?: -?[0-9]+)?$"
)
HELP = re.compile(rf"^# HELP (?P<name>{NAME}) (?P<text>(?:[^\\\n]|\\[\\n])*)$")
TYPE = re.compile(rf"^# TYPE (?P<name>{NAME}) (?P<type>counter|gauge|histogram|summary|untyped)$")
PAIR = re.compile(rf"({LABEL})=({VALUE})")


def _unescape(quoted: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), quoted[1:-1])


def parse(text: str) -> dict[str, dict]:
    """Families by name: their type, help and samples [(sample name, labels, value)], or AssertionError on the
    first line the format does not allow."""
    assert text.endswith("\n"), "the exposition ends with a line feed"
    families: dict[str, dict] = {}
    current = None
    finished: set[str] = set()
    for number, line in enumerate(text[:-1].split("\n"), 1):
        if line.startswith("#"):
            found = HELP.match(line) or TYPE.match(line)
            assert found, f"line {number}: not a HELP or TYPE line: {line!r}"
            name = found.group("name")
            family = families.setdefault(name, {"type": None, "help": None, "samples": []})
            assert name not in finished, f"line {number}: {name} described after its samples"
            key = "help" if line.startswith("# HELP") else "type"
            assert family[key] is None, f"line {number}: a second {key.upper()} for {name}"
            assert not family["samples"], f"line {number}: {key.upper()} after {name}'s samples"
            family[key] = found.group("text") if key == "help" else found.group("type")
            if current is not None and current != name:
                finished.add(current)
            current = name
            continue
        found = SAMPLE.match(line)
        assert found, f"line {number}: not a sample line: {line!r}"
        sample = found.group("name")
        owner = next(
            (n for n in (sample, re.sub(r"_(bucket|sum|count)$", "", sample)) if n in families and families[n]["type"]),
            None,
        )
        assert owner is not None, f"line {number}: {sample} has no TYPE before it"
        assert owner == current, f"line {number}: {sample} is not with the rest of {owner}"
        if families[owner]["type"] != "histogram":
            assert sample == owner, f"line {number}: {sample} in a {families[owner]['type']} family {owner}"
        labels = {name: _unescape(value) for name, value in PAIR.findall(found.group("labels") or "")}
        families[owner]["samples"].append((sample, labels, float(found.group("value"))))
    for name, family in families.items():
        if family["type"] == "histogram":
            _check_histogram(name, family["samples"])
    return families


def _check_histogram(name: str, samples: list) -> None:
    series: dict[tuple, dict] = {}
    for sample, labels, value in samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        entry = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if sample == f"{name}_bucket":
            assert "le" in labels, f"{name}: a bucket without le"
            entry["buckets"].append((float(labels["le"]), value))
        elif sample == f"{name}_sum":
            entry["sum"] = value
        else:
            assert sample == f"{name}_count", f"{name}: stray sample {sample}"
            entry["count"] = value
    for key, entry in series.items():
        bounds = [bound for bound, _ in entry["buckets"]]
        assert bounds == sorted(bounds), f"{name}{key}: buckets out of order"
        assert bounds[-1] == math.inf, f"{name}{key}: no +Inf bucket"
        counts = [count for _, count in entry["buckets"]]
        assert counts == sorted(counts), f"{name}{key}: buckets not cumulative"
        assert entry["count"] == counts[-1], f"{name}{key}: _count is not the +Inf bucket"
        assert entry["sum"] is not None, f"{name}{key}: no _sum"


def test_the_parser_refuses_what_the_format_does_not_allow() -> None:
    good = '# HELP a_total Requests.\n# TYPE a_total counter\na_total{x="1"} 3\n'
    assert parse(good)["a_total"]["samples"] == [("a_total", {"x": "1"}, 3.0)]
    for bad in (
        "a_total 3",  # no final line feed
        '# TYPE a_total counter\na_total{x="1} 3\n',  # unterminated value
        '# TYPE a_total counter\na_total{x="a\\tb"} 3\n',  # an escape the format does not have
        '# TYPE a_total counter\na_total{1x="a"} 3\n',  # a label name may not start with a digit
        "b_total 3\n",  # no TYPE
        "# TYPE a_total counter\na_total three\n",
        '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="+Inf"} 4\nh_sum 1\nh_count 4\n',  # not cumulative
        '# TYPE h histogram\nh_bucket{le="1"} 5\nh_sum 1\nh_count 5\n',  # no +Inf
        "# TYPE a counter\na 1\n# TYPE b gauge\nb 1\na 2\n",  # a family split in two
    ):
        with pytest.raises(AssertionError):
            parse(bad)


@pytest.fixture
def canary(learner: User) -> tuple:
    return deployment_made(learner, name="churn", strategy="canary", percent=20)


def _scrape(client: Client, name: str = "churn", **headers: str) -> object:
    return client.get(f"/serve/{name}/metrics", **headers)


def test_the_metrics_are_the_text_format_with_the_logs_counts(canary: tuple, learner: User) -> None:
    deployment, v1, v2, release = canary
    now = timezone.now()
    rows = [logged(deployment, release, v1, at=now, latency=latency) for latency in (0.4, 1.0, 2.5, 2.6, 40.0, 3000.0)]
    rows += [logged(deployment, release, v2, at=now, role="canary", latency=0.9) for _ in range(3)]
    rows.append(logged(deployment, release, v2, at=now, role="canary", latency=12.0, status="error"))
    log(rows)
    token = services.api_token_create(owner=learner, name="prometheus")[1]
    response = _scrape(Client(), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = parse(response.content.decode())
    assert families["mlopslab_requests_total"]["type"] == "counter"
    requests = {
        (labels["version"], labels["role"], labels["status"]): value
        for _, labels, value in families["mlopslab_requests_total"]["samples"]
    }
    assert requests == {("1", "stable", "ok"): 6, ("2", "canary", "ok"): 3, ("2", "canary", "error"): 1}
    assert {labels["endpoint"] for _, labels, _ in families["mlopslab_requests_total"]["samples"]} == {"churn"}
    histogram = families["mlopslab_request_duration_seconds"]
    assert histogram["type"] == "histogram"
    buckets = {
        labels["le"]: value
        for sample, labels, value in histogram["samples"]
        if sample.endswith("_bucket") and labels["version"] == "1"
    }
    assert list(buckets) == [*metrics.BUCKETS, "+Inf"]
    # 1 ms and 2.5 ms sit in their own buckets (le means "less than or equal"); 3 s is past 2.5 s.
    assert buckets["0.001"] == 2
    assert buckets["0.0025"] == 3
    assert buckets["0.005"] == 4
    assert buckets["0.05"] == 5
    assert buckets["2.5"] == 5
    assert buckets["+Inf"] == 6
    sums = {labels["version"]: value for sample, labels, value in histogram["samples"] if sample.endswith("_sum")}
    assert sums["1"] == pytest.approx((0.4 + 1.0 + 2.5 + 2.6 + 40.0 + 3000.0) / 1000)
    assert sums["2"] == pytest.approx((0.9 * 3 + 12.0) / 1000)


def test_versions_are_named_by_their_number_not_their_id(learner: User, learner_client: Client) -> None:
    deployment_made(learner, name="first")  # its versions take the first ids
    deployment, v1, v2, release = deployment_made(learner, name="second", strategy="canary", percent=20)
    assert (v1.pk, v2.pk) != (1, 2)
    past = timezone.now() - dt.timedelta(minutes=1)
    log([
        logged(deployment, release, v2, role="canary", at=past, label=[0], labelled_at=past),
        logged(deployment, release, v1, at=past, label=[0], labelled_at=past),
    ])  # fmt: skip
    families = parse(_scrape(learner_client, "second").content.decode())
    for family in ("mlopslab_requests_total", "mlopslab_request_duration_seconds", "mlopslab_labelled_accuracy"):
        assert {labels["version"] for _, labels, _ in families[family]["samples"]} == {"1", "2"}, family


def test_the_accuracy_gauge_counts_only_labels_that_have_arrived(canary: tuple, learner_client: Client) -> None:
    deployment, v1, _, release = canary
    now = timezone.now()
    past, future = now - dt.timedelta(seconds=5), now + dt.timedelta(minutes=5)
    rows = [logged(deployment, release, v1, at=now, predictions=[1, 0], label=[1, 1], labelled_at=past)]
    rows += [logged(deployment, release, v1, at=now, predictions=[1], label=[0], labelled_at=future) for _ in range(9)]
    log(rows)
    families = parse(_scrape(learner_client).content.decode())
    ((_, labels, accuracy),) = families["mlopslab_labelled_accuracy"]["samples"]
    assert labels == {"endpoint": "churn", "version": "1"}
    assert accuracy == 0.5
    assert families["mlopslab_labelled_rows"]["samples"][0][2] == 2


def test_a_regression_has_no_accuracy_gauge(learner: User, learner_client: Client) -> None:
    deployment, v1, _, release = deployment_made(learner, name="prices", task="regression")
    past = timezone.now() - dt.timedelta(minutes=1)
    log([logged(deployment, release, v1, at=past, predictions=[3.5], label=[3.0], labelled_at=past)])
    families = parse(_scrape(learner_client, "prices").content.decode())
    assert "mlopslab_labelled_accuracy" not in families
    assert families["mlopslab_requests_total"]["samples"][0][2] == 1


def test_an_endpoint_that_answered_nothing_yet_is_valid_and_empty(canary: tuple, learner_client: Client) -> None:
    families = parse(_scrape(learner_client).content.decode())
    assert families["mlopslab_requests_total"]["samples"] == []
    assert families["mlopslab_request_duration_seconds"]["samples"] == []


def test_label_values_and_help_are_escaped_as_the_format_says() -> None:
    assert metrics.escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert metrics.escape_help('say "hi"\\\n') == 'say "hi"\\\\\\n'
    line = f'x{{v="{metrics.escape_label(chr(10) + chr(34) + chr(92))}"}} 1\n'
    assert parse("# TYPE x gauge\n" + line)["x"]["samples"][0][1] == {"v": '\n"\\'}
    assert [metrics.number(value) for value in (3, 0.25, math.inf, -math.inf)] == ["3", "0.25", "+Inf", "-Inf"]
    assert metrics.number(math.nan) == "NaN"


def test_metrics_take_pings_credentials_and_refusals(
    canary: tuple, learner: User, other_learner: User, client: Client
) -> None:
    token = services.api_token_create(owner=learner, name="mine")[1]
    theirs = services.api_token_create(owner=other_learner, name="theirs")[1]
    anonymous = _scrape(client)
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="MLOps Lab"'
    assert anonymous.json()["error_code"] == "UNAUTHENTICATED"
    assert _scrape(client, HTTP_AUTHORIZATION="Bearer not-a-token").status_code == 401
    assert _scrape(client, HTTP_AUTHORIZATION=f"Basic {token}").status_code == 401
    # Another learner's endpoint, or none, looks the same: 404 with MLflow's error body.
    refused = _scrape(client, HTTP_AUTHORIZATION=f"Bearer {theirs}")
    assert refused.status_code == 404
    assert refused.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert _scrape(client, "nobody", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 404
    ApiToken.objects.filter(name="mine").update(revoked_at=timezone.now())
    assert _scrape(client, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    client.force_login(other_learner)
    assert _scrape(client).status_code == 404
    client.force_login(learner)
    assert _scrape(client).status_code == 200
    Deployment.objects.filter(name="churn").update(status=Deployment.Status.PENDING)
    assert _scrape(client).status_code == 409


def test_only_get_is_answered(canary: tuple, learner_client: Client) -> None:
    for method in (learner_client.post, learner_client.put, learner_client.delete):
        response = method("/serve/churn/metrics")
        assert response.status_code == 405
        assert response["Allow"] == "GET"
    assert learner_client.head("/serve/churn/metrics").status_code == 200


def test_the_catch_all_names_the_metrics_path(client: Client) -> None:
    response = client.get("/serve/churn/nothing")
    assert response.status_code == 404
    assert "GET /serve/<endpoint>/metrics" in response.json()["message"]


def test_the_scrapes_queries_do_not_grow_with_the_log(canary: tuple, learner: User) -> None:
    deployment, v1, v2, release = canary
    token = services.api_token_create(owner=learner, name="prometheus")[1]
    client = Client()
    past = timezone.now() - dt.timedelta(minutes=1)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert _scrape(client, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
        return len(captured.captured_queries)

    log([logged(deployment, release, v1, at=past, label=[0], labelled_at=past)])
    small = queries()
    log([
        logged(deployment, release, v2 if n % 2 else v1, role="canary" if n % 2 else "stable", at=past,
               latency=n % 40, label=[n % 2], labelled_at=past)
        for n in range(500)
    ])  # fmt: skip
    # The token and the endpoint, the counts, the histogram, the task, the labelled rows.
    assert small == queries() == 5
