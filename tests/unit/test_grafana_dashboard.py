"""static/grafana/mlops-lab-endpoint.json, the Grafana dashboard stage 8 links to: it parses, its panels have
unique ids and fit Grafana's 24-column grid, every query goes through the dashboard's Prometheus datasource
variable, and every metric and label name its PromQL uses is one that `GET /serve/<endpoint>/metrics` really
answers (scraped through the test client from a canary deployment with labelled requests)."""

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from tests.unit import test_monitoring_dashboard as made
from tests.unit.test_monitoring_metrics import parse

pytestmark = pytest.mark.django_db

deployment_made, logged, log, _media = made.deployment_made, made.logged, made.log, made._media

DASHBOARD = Path(settings.BASE_DIR) / "static" / "grafana" / "mlops-lab-endpoint.json"
GRAFANA_SCHEMA_VERSION = 42
"""The dashboard schema of Grafana 12 (DashboardMigrator's DASHBOARD_SCHEMA_VERSION, final for the v1 API)."""

# PromQL words that are not metric names: aggregation and binary operators, their modifiers and functions.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless"}
IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _panels(dashboard: dict) -> list[dict]:
    """Every panel, rows' nested panels included."""
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def _queries(dashboard: dict) -> list[str]:
    exprs = [target["expr"] for panel in _panels(dashboard) for target in panel.get("targets", [])]
    exprs += [
        variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        for variable in dashboard["templating"]["list"]
        if variable["type"] == "query"
    ]
    return exprs


def _strip_strings_and_ranges(expr: str) -> str:
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return re.sub(r"\[[^\]]*\]", "[]", expr)


def used_names(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) a PromQL expression uses: label names from selectors, `by (...)` and
    `label_values(metric, label)`; metric names are the other identifiers that are not functions or keywords."""
    text = _strip_strings_and_ranges(expr)
    labels: set[str] = set()
    for selector in re.findall(r"\{([^}]*)\}", text):
        labels.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", selector))
    for grouping in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", text):
        labels.update(name.strip() for name in grouping.split(",") if name.strip())
    values = re.fullmatch(r"\s*label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*([a-zA-Z_]\w*)\s*\)\s*", text)
    if values:
        return {values.group(1)}, {values.group(2)}
    bare = re.sub(r"\{[^}]*\}", "", text)
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    bare = re.sub(r"\$\w+", "", bare)  # Grafana's variables ($__rate_interval, $endpoint)
    metrics = set()
    for match in IDENTIFIER.finditer(bare):
        name, rest = match.group(0), bare[match.end() :].lstrip()
        if name in KEYWORDS or rest.startswith("(") or re.fullmatch(r"[0-9.]+", name):
            continue
        metrics.add(name)
    return metrics, labels


def test_used_names_reads_promql() -> None:
    metrics, labels = used_names(
        'histogram_quantile(0.95, sum by (le, version) (rate(x_bucket{endpoint="$endpoint", role!="a b"}'
        "[$__rate_interval]))) / sum(rate(y_total[5m]))"
    )
    assert metrics == {"x_bucket", "y_total"}
    assert labels == {"le", "version", "endpoint", "role"}
    assert used_names("label_values(mlopslab_requests_total, endpoint)") == ({"mlopslab_requests_total"}, {"endpoint"})


def test_the_dashboard_parses_and_is_served_as_a_static_file() -> None:
    dashboard = _dashboard()
    assert dashboard["schemaVersion"] == GRAFANA_SCHEMA_VERSION
    assert dashboard["title"]
    assert dashboard["uid"]
    found = finders.find("grafana/mlops-lab-endpoint.json")
    assert found
    assert Path(found).resolve() == DASHBOARD.resolve()


def test_panel_ids_are_unique_and_panels_fit_the_grid() -> None:
    panels = _panels(_dashboard())
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), f"repeated panel ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert 0 < grid["w"] <= 24 - grid["x"], panel["title"]
        refs = [target["refId"] for target in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), panel["title"]
    titles = {panel["title"] for panel in panels}
    assert {"Requests per second by version", "Answered requests by status", "Latency p50 and p95 by version"} <= titles


def test_every_query_uses_the_datasource_variable() -> None:
    dashboard = _dashboard()
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    reference = {"type": "prometheus", "uid": "${datasource}"}
    for panel in _panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == reference, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == reference, panel["title"]
    assert variables["endpoint"]["datasource"] == reference


def test_latency_quantiles_come_from_the_histogram_buckets_keeping_le() -> None:
    quantiles = [expr for expr in _queries(_dashboard()) if "histogram_quantile" in expr]
    assert {re.search(r"histogram_quantile\(([0-9.]+)", expr).group(1) for expr in quantiles} == {"0.5", "0.95"}
    for expr in quantiles:
        assert "mlopslab_request_duration_seconds_bucket" in expr
        _, labels = used_names(expr)
        assert "le" in labels, expr


def test_every_metric_and_label_is_one_the_endpoint_exposes(learner: User) -> None:
    deployment, v1, v2, release = deployment_made(learner, name="churn-api", strategy="canary", percent=20)
    now = timezone.now()
    past = now - dt.timedelta(minutes=1)
    labelled = {"at": now, "label": [1], "labelled_at": past}
    log([
        logged(deployment, release, v1, latency=3.0, predictions=[1], **labelled),
        logged(deployment, release, v2, role="canary", latency=5.0, predictions=[0], **labelled),
        logged(deployment, release, v2, at=now, role="shadow", latency=9.0, status="error"),
    ])  # fmt: skip
    client = Client()
    client.force_login(learner)
    response = client.get("/serve/churn-api/metrics")
    assert response.status_code == 200
    families = parse(response.content.decode())
    exposed: dict[str, set[str]] = {}
    for family in families.values():
        for sample, labels, _ in family["samples"]:
            exposed.setdefault(sample, set()).update(labels)
    assert {"mlopslab_requests_total", "mlopslab_request_duration_seconds_bucket", "mlopslab_labelled_accuracy"} <= set(
        exposed
    )
    queries = _queries(_dashboard())
    assert queries
    for expr in queries:
        metrics, labels = used_names(expr)
        assert metrics, expr
        for metric in metrics:
            assert metric in exposed, f"{metric} is not in /serve/<endpoint>/metrics: {expr}"
        offered = set().union(*(exposed[metric] for metric in metrics))
        assert labels <= offered, f"labels {sorted(labels - offered)} are not on {sorted(metrics)}: {expr}"
    # The label values the queries filter on are values the endpoint writes.
    roles = {labels["role"] for _, labels, _ in families["mlopslab_requests_total"]["samples"]}
    statuses = {labels["status"] for _, labels, _ in families["mlopslab_requests_total"]["samples"]}
    for expr in queries:
        for role in re.findall(r'role!?="([^"]*)"', expr):
            assert role in roles, expr
        for status in re.findall(r'status!?="([^"]*)"', expr):
            assert status in statuses, expr
