"""deploy/grafana/pix.json: valid JSON, well-formed panels, and every metric its PromQL reads is
one the services register (after importing their apps), so a renamed metric fails here rather
than leaving an empty panel in production."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "pix.json"
SERVICES = (
    "gateway",
    "auth",
    "orders",
    "media",
    "captioning",
    "export",
    "notify",
    "leads",
    "listings",
)
# Series names each metric type exposes beside its family name.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}
METRIC = re.compile(r"\b(pix_[a-z0-9_]+)\b")
# Labels Prometheus adds on scrape, and the histogram's bucket bound.
SCRAPE_LABELS = {"job", "instance", "le"}
SELECTOR = re.compile(r"\b(pix_[a-z0-9_]+)\{([^}]*)\}")


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def panels(data: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for panel in data["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def expressions(data: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in panels(data) for t in p.get("targets", [])]
    for variable in data.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            exprs.append(str(query.get("query", "")))
    return exprs


@pytest.fixture(scope="module")
def registered() -> dict[str, tuple[str, set[str]]]:
    """{series name: (family, label names)} of every metric after importing every app."""
    for service in SERVICES:
        importlib.import_module(f"pix_{service}.app")
    series: dict[str, tuple[str, set[str]]] = {}
    # A family without children yet has no samples: its labels come from its collector.
    # prometheus_client has no public way to list collectors with their label names.
    for collector in list(REGISTRY._collector_to_names):
        labels = set(getattr(collector, "_labelnames", ()))
        describe = getattr(collector, "describe", None)
        for family in (describe() if describe else None) or collector.collect():
            for suffix in SUFFIXES.get(family.type, ("",)):
                series[family.name + suffix] = (family.name, labels)
    return series


def test_the_dashboard_is_valid_json_with_well_formed_panels() -> None:
    data = dashboard()
    assert data["uid"]
    assert data["title"]
    all_panels = panels(data)
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    graphs = [p for p in all_panels if p["type"] != "row"]
    assert len(graphs) >= 10
    for panel in graphs:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert METRIC.search(target["expr"]), target["expr"]
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            assert target["datasource"]["uid"] == "${datasource}"
    # No two panels overlap on the grid.
    cells: set[tuple[int, int]] = set()
    for panel in all_panels:
        grid = panel["gridPos"]
        for row in range(grid["y"], grid["y"] + grid["h"]):
            for column in range(grid["x"], grid["x"] + grid["w"]):
                assert (row, column) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((row, column))


def test_the_dashboard_shows_what_an_operator_needs() -> None:
    used = set(METRIC.findall(" ".join(expressions(dashboard()))))
    wanted = {
        "pix_outbox_backlog",
        "pix_outbox_oldest_unpublished_seconds",
        "pix_dead_letters_open",
        "pix_consumer_lag",
        "pix_queue_depth",
        "pix_http_request_duration_seconds_bucket",
        "pix_deliveries_total",
        "pix_jobs",
    }
    assert wanted <= used, wanted - used


def test_every_metric_and_label_the_dashboard_reads_is_registered(
    registered: dict[str, tuple[str, set[str]]],
) -> None:
    exprs = expressions(dashboard())
    unknown = {name for e in exprs for name in METRIC.findall(e)} - registered.keys()
    assert not unknown, f"the dashboard reads metrics no service registers: {sorted(unknown)}"
    for expr in exprs:
        for name, matchers in SELECTOR.findall(expr):
            family, labels = registered[name]
            for matcher in filter(None, (m.strip() for m in matchers.split(","))):
                label = re.split(r"[=!~]", matcher, maxsplit=1)[0].strip()
                assert label in labels | SCRAPE_LABELS, f"{family} has no label {label!r}"
