"""Analytics for admins (all organisations or one) and an organisation's owner (their own):
charts drawn here as SVG from each service's `GET /reports/...` figures, each with its table and a
CSV download. The figures stay in the services that own the data (no reporting copy); a service
that does not answer leaves its chart out with a note."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pix_runtime.identity import Identity
from pix_runtime.logging import get_logger

from pix_gateway import formats
from pix_gateway.i18n import Locale, translate
from pix_gateway.pages import UI, PageError, PageUI

log = get_logger(__name__)
router = APIRouter()

DEFAULT_DAYS = 91
MAX_DAYS = 3 * 366
PALETTE = ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d")
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 720, 260, 48, 40, 12


# --- SVG -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def _scale_top(values: Sequence[float]) -> float:
    top = max(values, default=0.0)
    return float(top) if top > 0 else 1.0


def svg_chart(
    labels: Sequence[str], series: Sequence[Series], *, kind: str = "bar", title: str = ""
) -> Markup:
    """Stacked bars (kind "bar") or lines (kind "line") of `series` over `labels`, with a y axis
    at 0 and the top value, every label under its slot (thinned when crowded) and a legend."""
    slots = max(1, len(labels))
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    slot_w = plot_w / slots
    if kind == "bar":
        totals = [sum(s.values[i] for s in series if i < len(s.values)) for i in range(len(labels))]
        top = _scale_top(totals)
    else:
        top = _scale_top([v for s in series for v in s.values])

    def y(value: float) -> float:
        return PAD_TOP + plot_h - plot_h * value / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT + 24}" '
        f'role="img" aria-label="{escape(title)}" class="chart" data-kind="{kind}">',
        f'<line x1="{PAD_LEFT}" y1="{y(0):.1f}" x2="{WIDTH - 8}" y2="{y(0):.1f}" stroke="#999"/>',
        f'<text x="{PAD_LEFT - 6}" y="{y(0):.1f}" text-anchor="end" font-size="11">0</text>',
        f'<text x="{PAD_LEFT - 6}" y="{y(top) + 4:.1f}" text-anchor="end" font-size="11">'
        f"{escape(_short(top))}</text>",
    ]
    if kind == "bar":
        base = [0.0] * len(labels)
        for n, s in enumerate(series):
            colour = PALETTE[n % len(PALETTE)]
            for i, value in enumerate(s.values[: len(labels)]):
                if value <= 0:
                    continue
                x = PAD_LEFT + i * slot_w + slot_w * 0.15
                top_y, bottom_y = y(base[i] + value), y(base[i])
                parts.append(
                    f'<rect x="{x:.1f}" y="{top_y:.1f}" width="{slot_w * 0.7:.1f}" '
                    f'height="{bottom_y - top_y:.1f}" fill="{colour}">'
                    f"<title>{escape(labels[i])} · {escape(s.name)}: {escape(_short(value))}"
                    "</title></rect>"
                )
                base[i] += value
    else:
        for n, s in enumerate(series):
            colour = PALETTE[n % len(PALETTE)]
            points = " ".join(
                f"{PAD_LEFT + (i + 0.5) * slot_w:.1f},{y(v):.1f}"
                for i, v in enumerate(s.values[: len(labels)])
            )
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2">'
                f"<title>{escape(s.name)}</title></polyline>"
            )
    every = max(1, len(labels) // 12)
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(
                f'<text x="{PAD_LEFT + (i + 0.5) * slot_w:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" '
                f'text-anchor="middle" font-size="10">{escape(label)}</text>'
            )
    x = PAD_LEFT
    for n, s in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="{HEIGHT + 6}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{HEIGHT + 15}" font-size="11">{escape(s.name)}</text>'
        )
        x += 24 + 7 * len(s.name)
    parts.append("</svg>")
    # Every text put into the drawing went through html.escape above.
    return Markup("".join(parts))  # noqa: S704


def _short(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def pivot(
    rows: Sequence[dict[str, Any]], label: str, group: str, value: str
) -> tuple[list[str], list[Series]]:
    """Rows of (label, group, value) as labels in order and one series per group."""
    labels = sorted({str(r[label]) for r in rows})
    groups = sorted({str(r[group]) for r in rows})
    table = {(str(r[label]), str(r[group])): 0.0 for r in rows}
    for r in rows:
        table[(str(r[label]), str(r[group]))] += float(r[value] or 0)
    return labels, [Series(g, [table.get((lab, g), 0.0) for lab in labels]) for g in groups]


# --- figures ---------------------------------------------------------------------------------


@dataclass
class Chart:
    key: str
    service: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    svg: Markup | None = None
    missing: bool = False
    note: str | None = None


@dataclass(frozen=True)
class Figure:
    key: str
    service: str
    path: str
    columns: tuple[str, ...]
    build: Callable[[Chart, Any, Locale], None]


def _orders(chart: Chart, data: Any, locale: Locale) -> None:
    chart.rows = [[r["week"], r["status"], r["service"], r["orders"]] for r in data]
    labels, series = pivot(data, "week", "status", "orders")
    chart.svg = svg_chart(labels, series, title=translate("analytics.orders", locale))


def _revenue(chart: Chart, data: Any, locale: Locale) -> None:
    chart.rows = [[r["month"], r["gross_cents"], r["net_cents"], r["invoices"]] for r in data]
    labels = [r["month"] for r in data]
    gross = Series(
        translate("analytics.col.gross_eur", locale), [r["gross_cents"] / 100 for r in data]
    )
    chart.svg = svg_chart(labels, [gross], title=translate("analytics.revenue", locale))


def _photos(chart: Chart, data: Any, locale: Locale) -> None:
    chart.rows = [[r["day"], r["processed"], r["rejected"]] for r in data]
    labels = [r["day"][5:] for r in data]
    series = [
        Series(translate("analytics.col.processed", locale), [r["processed"] for r in data]),
        Series(translate("analytics.col.rejected", locale), [r["rejected"] for r in data]),
    ]
    chart.svg = svg_chart(labels, series, kind="line", title=translate("analytics.photos", locale))


def _captions(chart: Chart, data: Any, locale: Locale) -> None:
    chart.rows = [
        [
            r["provider"],
            r["captions"],
            r["failures"],
            r["failure_rate_percent"],
            r["latency_p50_seconds"],
            r["latency_p95_seconds"],
        ]
        for r in data
    ]
    labels = [r["provider"] for r in data]
    series = [
        Series(
            translate("analytics.col.failure_rate_percent", locale),
            [r["failure_rate_percent"] for r in data],
        )
    ]
    chart.svg = svg_chart(labels, series, title=translate("analytics.captions", locale))


def _leads(chart: Chart, data: Any, locale: Locale) -> None:
    weeks = data["weeks"]
    chart.rows = [[r["week"], r["source"], r["leads"]] for r in weeks]
    labels, series = pivot(weeks, "week", "source", "leads")
    chart.svg = svg_chart(labels, series, title=translate("analytics.leads", locale))


def _funnel(chart: Chart, data: Any, locale: Locale) -> None:
    funnel = data["funnel"]
    chart.rows = [
        [
            r["source"],
            r["received"],
            r["contacted"],
            r["conversation"],
            r["booked"],
            r["conversion_percent"],
            r["median_first_response_minutes"],
        ]
        for r in funnel
    ]
    stages = ("received", "contacted", "conversation", "booked")
    labels = [translate(f"analytics.col.{s}", locale) for s in stages]
    series = [Series(r["source"], [r[s] for s in stages]) for r in funnel]
    chart.svg = svg_chart(labels, series, title=translate("analytics.funnel", locale))
    median = data["median_first_response_minutes"]
    if median is not None:
        chart.note = translate(
            "analytics.median_response", locale, minutes=formats.number(median, locale)
        )


FIGURES = (
    Figure(
        "orders",
        "orders",
        "/reports/orders-per-week",
        ("week", "status", "service", "orders"),
        _orders,
    ),
    Figure(
        "revenue",
        "billing",
        "/reports/revenue",
        ("month", "gross_cents", "net_cents", "invoices"),
        _revenue,
    ),
    Figure("photos", "media", "/reports/photos-per-day", ("day", "processed", "rejected"), _photos),
    Figure(
        "captions",
        "captioning",
        "/reports/captions",
        (
            "provider",
            "captions",
            "failures",
            "failure_rate_percent",
            "latency_p50_seconds",
            "latency_p95_seconds",
        ),
        _captions,
    ),
    Figure("leads", "leads", "/reports/leads", ("week", "source", "leads"), _leads),
    Figure(
        "funnel",
        "leads",
        "/reports/leads",
        (
            "source",
            "received",
            "contacted",
            "conversation",
            "booked",
            "conversion_percent",
            "median_first_response_minutes",
        ),
        _funnel,
    ),
)
BY_KEY = {f.key: f for f in FIGURES}


async def viewer(ui: UI, request: Request) -> Identity:
    me = await ui.signed_in(request)
    if not (me.is_admin or me.role == "owner"):
        raise PageError(404, "error.404")
    return me


@dataclass(frozen=True)
class Window:
    since: datetime
    days: int
    org_id: uuid.UUID | None

    def query(self) -> str:
        wanted = {"since": self.since.isoformat()}
        if self.org_id is not None:
            wanted["org_id"] = str(self.org_id)
        return urlencode(wanted)


def window_of(request: Request, me: Identity) -> Window:
    try:
        days = min(MAX_DAYS, max(1, int(request.query_params.get("days", DEFAULT_DAYS))))
    except ValueError:
        days = DEFAULT_DAYS
    org_id: uuid.UUID | None = None
    wanted = request.query_params.get("org_id")
    if me.is_admin and wanted:
        try:
            org_id = uuid.UUID(wanted)
        except ValueError as exc:
            raise PageError(404, "error.404") from exc
    since = (datetime.now(UTC) - timedelta(days=days)).replace(microsecond=0)
    return Window(since=since, days=days, org_id=org_id)


async def _fetch(ui: UI, me: Identity, service: str, path: str) -> Any:
    """A service's report, or None when it is down or refuses (its chart is left out)."""
    try:
        response = await ui.backend.call("GET", service, path, identity=me)
    except (httpx.TransportError, KeyError) as exc:
        log.warning("analytics.report_missing", service=service, error=exc.__class__.__name__)
        return None
    if not response.is_success:
        log.warning("analytics.report_refused", service=service, status=response.status_code)
        return None
    return response.json()


async def gather(
    ui: UI, me: Identity, window: Window, figures: Sequence[Figure], locale: Locale
) -> list[Chart]:
    paths = sorted({(f.service, f.path) for f in figures})
    answers = await asyncio.gather(
        *(_fetch(ui, me, service, f"{path}?{window.query()}") for service, path in paths)
    )
    found = dict(zip(paths, answers, strict=True))
    charts = []
    for figure in figures:
        chart = Chart(figure.key, figure.service, list(figure.columns))
        data = found[(figure.service, figure.path)]
        if data is None:
            chart.missing = True
        else:
            figure.build(chart, data, locale)
        charts.append(chart)
    return charts


def _cell(column: str, value: Any, locale: Locale) -> str:
    if value is None:
        return "–"
    if column.endswith("_cents"):
        return formats.money_cents(int(value), locale)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return formats.number(value, locale)
    return str(value)


@router.get("/admin/analytics", response_class=HTMLResponse)
async def analytics(request: Request, ui: PageUI) -> Response:
    me = await viewer(ui, request)
    locale = ui.locale(request, me)
    window = window_of(request, me)
    charts = await gather(ui, me, window, FIGURES, locale)
    organisations = []
    if me.is_admin:
        organisations = await ui.part("auth", "/admin/organisations", me, [])
    return ui.render(
        request,
        "admin/analytics.html",
        me,
        page="admin",
        charts=charts,
        window=window,
        query=urlencode(
            {"days": window.days, **({"org_id": str(window.org_id)} if window.org_id else {})}
        ),
        organisations=organisations,
        cell=lambda column, value: _cell(column, value, locale),
    )


@router.get("/admin/analytics/{key}.csv")
async def analytics_csv(key: str, request: Request, ui: PageUI) -> Response:
    me = await viewer(ui, request)
    figure = BY_KEY.get(key)
    if figure is None:
        raise PageError(404, "error.404")
    window = window_of(request, me)
    (chart,) = await gather(ui, me, window, [figure], ui.locale(request, me))
    if chart.missing:
        raise PageError(503, "error.503")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(chart.columns)
    writer.writerows(chart.rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="pix-{key}-{window.since.date()}.csv"',
            "cache-control": "no-store",
        },
    )


# --- operations ------------------------------------------------------------------------------

OPERATED = (
    "auth",
    "orders",
    "media",
    "captioning",
    "export",
    "notify",
    "leads",
    "listings",
    "billing",
    "assistant",
)


@dataclass
class ServiceHealth:
    """One service's open dead letters, failed jobs and job backlog, as its admin routes
    (pix_runtime's dead_letters_routes and jobs_routes) answer them."""

    service: str
    reachable: bool = True
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    failed_jobs: list[dict[str, Any]] = field(default_factory=list)
    queued_jobs: int = 0
    oldest_queued: str | None = None


async def _health(ui: UI, me: Identity, service: str) -> ServiceHealth:
    health = ServiceHealth(service)
    paths = (
        "/admin/dead-letters?status=open&limit=50",
        "/admin/jobs?status=failed&limit=50",
        "/admin/jobs/counts",
    )
    try:
        letters, failed, counts = await asyncio.gather(
            *(ui.backend.call("GET", service, path, identity=me) for path in paths)
        )
    except (httpx.TransportError, KeyError):
        return ServiceHealth(service, reachable=False)
    # A service without a dead-letter or jobs table answers 404 there: nothing to show.
    health.dead_letters = letters.json() if letters.is_success else []
    health.failed_jobs = failed.json() if failed.is_success else []
    queued = [c for c in (counts.json() if counts.is_success else []) if c["status"] == "queued"]
    health.queued_jobs = sum(int(c["count"]) for c in queued)
    oldest = [c["oldest_run_at"] for c in queued if c["oldest_run_at"]]
    health.oldest_queued = min(oldest) if oldest else None
    return health


async def platform_admin(ui: UI, request: Request) -> Identity:
    me = await ui.signed_in(request)
    if not me.is_admin:
        raise PageError(404, "error.404")
    return me


@router.get("/admin/operations", response_class=HTMLResponse)
async def operations(request: Request, ui: PageUI) -> Response:
    me = await platform_admin(ui, request)
    services = await asyncio.gather(*(_health(ui, me, s) for s in OPERATED))
    return ui.render(request, "admin/operations.html", me, page="admin", services=services)


@router.post("/admin/operations/{service}/jobs/{job_id}/retry")
async def retry_job(service: str, job_id: int, request: Request, ui: PageUI) -> Response:
    await ui.form_of(request)
    me = await platform_admin(ui, request)
    if service not in OPERATED:
        raise PageError(404, "error.404")
    await ui.backend.call("POST", service, f"/admin/jobs/{job_id}/retry", identity=me)
    return RedirectResponse("/admin/operations", status_code=303)


@router.post("/admin/operations/{service}/dead-letters/{letter_id}/replay")
async def replay_letter(service: str, letter_id: int, request: Request, ui: PageUI) -> Response:
    await ui.form_of(request)
    me = await platform_admin(ui, request)
    if service not in OPERATED:
        raise PageError(404, "error.404")
    await ui.backend.call("POST", service, f"/admin/dead-letters/{letter_id}/replay", identity=me)
    return RedirectResponse("/admin/operations", status_code=303)
