"""Analytics for admins (all organisations or one) and an organisation's owner (their own):
charts drawn here as SVG from each service's `GET /reports/...` figures, each with its table and a
CSV download. The figures stay in the services that own the data (no reporting copy); a service
that does not answer leaves its chart out with a note."""

from __future__ import annotations

import asyncio
import csv
import io
import math
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import httpx
from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pix_runtime.identity import Identity
from pix_runtime.logging import get_logger
from pix_runtime.operations import ServiceOperations

from pix_gateway import formats
from pix_gateway.clients.assistant_models import DayProviderCost
from pix_gateway.clients.auth import AuthClient
from pix_gateway.clients.auth_models import OrganisationSummary
from pix_gateway.clients.base import NotFound, ServiceError, part
from pix_gateway.clients.billing_models import MonthRevenue
from pix_gateway.clients.captioning_models import ProviderCaptions
from pix_gateway.clients.leads_models import LeadsReport
from pix_gateway.clients.media_models import DayPhotos
from pix_gateway.clients.operations import OperationsClient
from pix_gateway.clients.orders_models import (
    DeadLetterView,
    JobView,
    WeekDeliveryTime,
    WeekOrders,
)
from pix_gateway.clients.reports import (
    AssistantReports,
    BillingReports,
    CaptioningReports,
    LeadsReports,
    MediaReports,
    OrdersReports,
)
from pix_gateway.formats import BABEL_LOCALE
from pix_gateway.i18n import Locale, translate
from pix_gateway.pages import UI, PageError, PageUI
from pix_gateway.service import Backend

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


def _ticks(values: Sequence[float]) -> list[float]:
    """Round steps from 0 to at least the largest value (0, 5, 10, 15 … or 0, 0.01, 0.02 …)."""
    top = max(values, default=0.0)
    if top <= 0:
        return [0.0, 1.0]
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    steps = math.ceil(round(top / step, 9))
    return [round(i * step, 10) for i in range(steps + 1)]


BAR_MAX_WIDTH = 64


def svg_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    kind: str = "bar",
    title: str = "",
    locale: Locale = "de",
) -> Markup:
    """Stacked bars (kind "bar") or lines with their points (kind "line") of `series` over
    `labels`, on a y axis of round steps with grid lines, every label under its slot (thinned
    when crowded) and a legend; each bar and point names its value when hovered."""
    slots = max(1, len(labels))
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    slot_w = plot_w / slots
    if kind == "bar":
        totals = [sum(s.values[i] for s in series if i < len(s.values)) for i in range(len(labels))]
        ticks = _ticks(totals)
    else:
        ticks = _ticks([v for s in series for v in s.values])
    top = ticks[-1]

    def y(value: float) -> float:
        return PAD_TOP + plot_h - plot_h * value / top

    def shown(value: float) -> str:
        return escape(formats.number(value, locale))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT + 24}" '
        f'role="img" aria-label="{escape(title)}" class="chart" data-kind="{kind}">'
    ]
    for tick in ticks:
        colour = "#999" if tick == 0 else "#e5e7eb"
        parts.append(
            f'<line x1="{PAD_LEFT}" y1="{y(tick):.1f}" x2="{WIDTH - 8}" y2="{y(tick):.1f}" '
            f'stroke="{colour}"/><text x="{PAD_LEFT - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end" font-size="11">{shown(tick)}</text>'
        )
    bar_w = min(slot_w * 0.7, BAR_MAX_WIDTH)
    if kind == "bar":
        base = [0.0] * len(labels)
        for n, s in enumerate(series):
            colour = PALETTE[n % len(PALETTE)]
            for i, value in enumerate(s.values[: len(labels)]):
                if value <= 0:
                    continue
                x = PAD_LEFT + (i + 0.5) * slot_w - bar_w / 2
                top_y, bottom_y = y(base[i] + value), y(base[i])
                parts.append(
                    f'<rect x="{x:.1f}" y="{top_y:.1f}" width="{bar_w:.1f}" '
                    f'height="{bottom_y - top_y:.1f}" fill="{colour}">'
                    f"<title>{escape(labels[i])} · {escape(s.name)}: {shown(value)}"
                    "</title></rect>"
                )
                base[i] += value
    else:
        radius = 3 if slots <= 60 else 1.5
        for n, s in enumerate(series):
            colour = PALETTE[n % len(PALETTE)]
            points = [
                (PAD_LEFT + (i + 0.5) * slot_w, y(v), i, v)
                for i, v in enumerate(s.values[: len(labels)])
            ]
            parts.append(
                f'<polyline points="{" ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points)}" '
                f'fill="none" stroke="{colour}" stroke-width="2"><title>{escape(s.name)}</title>'
                "</polyline>"
            )
            # A point per value, so a single day or week shows too.
            parts += [
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{radius}" fill="{colour}">'
                f"<title>{escape(labels[i])} · {escape(s.name)}: {shown(v)}</title></circle>"
                for px, py, i, v in points
            ]
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


def pivot(rows: Sequence[tuple[str, str, float]]) -> tuple[list[str], list[Series]]:
    """(label, group, value) rows as the labels in order and one series per group."""
    labels = sorted({label for label, _, _ in rows})
    groups = sorted({group for _, group, _ in rows})
    table: dict[tuple[str, str], float] = {}
    for label, group, value in rows:
        table[(label, group)] = table.get((label, group), 0.0) + float(value or 0)
    return labels, [Series(g, [table.get((lab, g), 0.0) for lab in labels]) for g in groups]


# --- figures ---------------------------------------------------------------------------------

Answer = TypeVar("Answer")
Since = datetime
Load = Callable[[Backend, Identity, Since, str | None], Awaitable[Answer]]


@dataclass(frozen=True)
class Report(Generic[Answer]):
    """A service's report endpoint, read through its typed client (clients.reports)."""

    service: str
    load: Load[Answer]


ORDERS_REPORT: Report[list[WeekOrders]] = Report(
    "orders", lambda b, me, since, org: OrdersReports(b, me).orders_per_week(since, org)
)
DELIVERY_REPORT: Report[list[WeekDeliveryTime]] = Report(
    "orders", lambda b, me, since, org: OrdersReports(b, me).delivery_time(since, org)
)
REVENUE_REPORT: Report[list[MonthRevenue]] = Report(
    "billing", lambda b, me, since, org: BillingReports(b, me).revenue(since, org)
)
PHOTOS_REPORT: Report[list[DayPhotos]] = Report(
    "media", lambda b, me, since, org: MediaReports(b, me).photos_per_day(since, org)
)
CAPTIONS_REPORT: Report[list[ProviderCaptions]] = Report(
    "captioning", lambda b, me, since, org: CaptioningReports(b, me).captions(since, org)
)
COST_REPORT: Report[list[DayProviderCost]] = Report(
    "assistant", lambda b, me, since, org: AssistantReports(b, me).provider_cost(since, org)
)
LEADS_REPORT: Report[LeadsReport] = Report(
    "leads", lambda b, me, since, org: LeadsReports(b, me).leads(since, org)
)


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
class Figure(Generic[Answer]):
    key: str
    report: Report[Answer]
    columns: tuple[str, ...]
    build: Callable[[Chart, Answer, Locale], None]


def _orders(chart: Chart, data: list[WeekOrders], locale: Locale) -> None:
    chart.rows = [[r.week, r.status, r.service, r.orders] for r in data]
    labels, series = pivot([(r.week, r.status, r.orders) for r in data])
    chart.svg = svg_chart(
        labels, series, title=translate("analytics.orders", locale), locale=locale
    )


def _delivery(chart: Chart, data: list[WeekDeliveryTime], locale: Locale) -> None:
    chart.rows = [[r.week, r.orders, r.median_hours, r.p90_hours] for r in data]
    labels = [r.week for r in data]
    series = [
        Series(translate("analytics.col.median_hours", locale), [r.median_hours for r in data]),
        Series(translate("analytics.col.p90_hours", locale), [r.p90_hours for r in data]),
    ]
    chart.svg = svg_chart(
        labels, series, kind="line", title=translate("analytics.delivery", locale)
    )


def _revenue(chart: Chart, data: list[MonthRevenue], locale: Locale) -> None:
    chart.rows = [[r.month, r.gross_cents, r.net_cents, r.invoices] for r in data]
    labels = [r.month for r in data]
    gross = Series(
        translate("analytics.col.gross_eur", locale), [r.gross_cents / 100 for r in data]
    )
    chart.svg = svg_chart(
        labels, [gross], title=translate("analytics.revenue", locale), locale=locale
    )


def _photos(chart: Chart, data: list[DayPhotos], locale: Locale) -> None:
    chart.rows = [[r.day, r.processed, r.rejected] for r in data]
    labels = [r.day[5:] for r in data]
    series = [
        Series(translate("analytics.col.processed", locale), [r.processed for r in data]),
        Series(translate("analytics.col.rejected", locale), [r.rejected for r in data]),
    ]
    chart.svg = svg_chart(
        labels, series, kind="line", title=translate("analytics.photos", locale), locale=locale
    )


def _captions(chart: Chart, data: list[ProviderCaptions], locale: Locale) -> None:
    chart.rows = [
        [
            r.provider,
            r.captions,
            r.failures,
            r.failure_rate_percent,
            r.latency_p50_seconds,
            r.latency_p95_seconds,
        ]
        for r in data
    ]
    labels = [r.provider for r in data]
    series = [
        Series(
            translate("analytics.col.failure_rate_percent", locale),
            [r.failure_rate_percent for r in data],
        )
    ]
    chart.svg = svg_chart(
        labels, series, title=translate("analytics.captions", locale), locale=locale
    )


def _cost(chart: Chart, data: list[DayProviderCost], locale: Locale) -> None:
    chart.rows = [[r.day, r.model, r.calls, r.tokens_in, r.tokens_out, r.cost_eur] for r in data]
    labels, series = pivot([(r.day[5:], r.model, r.cost_eur) for r in data])
    chart.svg = svg_chart(labels, series, title=translate("analytics.cost", locale), locale=locale)
    # Captioning's providers answer no price and captioning stores none: only the assistant's
    # model calls carry a cost.
    chart.note = translate("analytics.cost_note", locale)


def _leads(chart: Chart, data: LeadsReport, locale: Locale) -> None:
    chart.rows = [[r.week, r.source, r.leads] for r in data.weeks]
    labels, series = pivot([(r.week, r.source, r.leads) for r in data.weeks])
    chart.svg = svg_chart(labels, series, title=translate("analytics.leads", locale), locale=locale)


FUNNEL_STAGES = ("received", "contacted", "conversation", "booked")


def _funnel(chart: Chart, data: LeadsReport, locale: Locale) -> None:
    chart.rows = [
        [
            r.source,
            r.received,
            r.contacted,
            r.conversation,
            r.booked,
            r.conversion_percent,
            r.median_first_response_minutes,
        ]
        for r in data.funnel
    ]
    labels = [translate(f"analytics.col.{s}", locale) for s in FUNNEL_STAGES]
    series = [
        Series(r.source, [r.received, r.contacted, r.conversation, r.booked]) for r in data.funnel
    ]
    chart.svg = svg_chart(
        labels, series, title=translate("analytics.funnel", locale), locale=locale
    )
    median = data.median_first_response_minutes
    if median is not None:
        chart.note = translate(
            "analytics.median_response", locale, minutes=formats.number(median, locale)
        )


FIGURES: tuple[Figure[Any], ...] = (
    Figure("orders", ORDERS_REPORT, ("week", "status", "service", "orders"), _orders),
    Figure("delivery", DELIVERY_REPORT, ("week", "orders", "median_hours", "p90_hours"), _delivery),
    Figure("revenue", REVENUE_REPORT, ("month", "gross_cents", "net_cents", "invoices"), _revenue),
    Figure("photos", PHOTOS_REPORT, ("day", "processed", "rejected"), _photos),
    Figure(
        "captions",
        CAPTIONS_REPORT,
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
    Figure(
        "cost",
        COST_REPORT,
        ("day", "model", "calls", "tokens_in", "tokens_out", "cost_eur"),
        _cost,
    ),
    Figure("leads", LEADS_REPORT, ("week", "source", "leads"), _leads),
    Figure(
        "funnel",
        LEADS_REPORT,
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

    @property
    def org(self) -> str | None:
        return str(self.org_id) if self.org_id is not None else None


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


async def _answer(ui: UI, me: Identity, window: Window, report: Report[Any]) -> Any:
    """A service's report, or None when it is down or refuses (its chart is left out)."""
    try:
        return await report.load(ui.backend, me, window.since, window.org)
    except ServiceError as exc:
        log.warning("analytics.report_refused", service=report.service, status=exc.status)
    except (httpx.TransportError, KeyError) as exc:
        log.warning(
            "analytics.report_missing", service=report.service, error=exc.__class__.__name__
        )
    return None


async def gather(
    ui: UI, me: Identity, window: Window, figures: Sequence[Figure[Any]], locale: Locale
) -> list[Chart]:
    """Every report the figures need, asked of the services at once (one request per report
    even when two figures draw from it)."""
    reports = list(dict.fromkeys(f.report for f in figures))
    answers = await asyncio.gather(*(_answer(ui, me, window, r) for r in reports))
    found = dict(zip(reports, answers, strict=True))
    charts = []
    for figure in figures:
        chart = Chart(figure.key, figure.report.service, list(figure.columns))
        data = found[figure.report]
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
    if column.endswith("_eur"):
        # Model calls cost fractions of a cent: four places.
        return format_decimal(value, format="#,##0.0000", locale=BABEL_LOCALE[locale])
    if isinstance(value, int) and not isinstance(value, bool):
        # Most cells are counts, thousands of them for a year: grouped by hand, as Babel
        # would (1.234 / 1,234), at a fraction of its time per cell.
        return f"{value:,}".replace(",", GROUPING[locale])
    if isinstance(value, float):
        return formats.number(value, locale)
    return str(value)


GROUPING: dict[Locale, str] = {"de": ".", "en": ","}


@router.get("/admin/analytics", response_class=HTMLResponse)
async def analytics(request: Request, ui: PageUI) -> Response:
    me = await viewer(ui, request)
    locale = ui.locale(request, me)
    window = window_of(request, me)
    charts = await gather(ui, me, window, FIGURES, locale)
    organisations: list[OrganisationSummary] = []
    if me.is_admin:
        organisations = await part(AuthClient(ui.backend, me).organisations(), [])
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
    """One service's figures as the runtime's admin routes answer them: its operations
    (outbox backlog, consumer lag, its own lines), open dead letters, failed jobs and the
    queued-job backlog."""

    service: str
    reachable: bool = True
    operations: ServiceOperations | None = None
    dead_letters: list[DeadLetterView] = field(default_factory=list)
    failed_jobs: list[JobView] = field(default_factory=list)
    queued_jobs: int = 0
    oldest_queued: datetime | None = None

    @property
    def lag(self) -> int | None:
        if self.operations is None or not self.operations.lag_known:
            return None
        return sum(g.lag for g in self.operations.lag)


async def _or_none(answer: Awaitable[Answer], default: Answer) -> Answer:
    """A service without a jobs or dead-letter table answers 404 there: nothing to show."""
    try:
        return await answer
    except NotFound:
        return default


async def _health(ui: UI, me: Identity, service: str) -> ServiceHealth:
    client = OperationsClient(ui.backend, me, service)
    try:
        operations, letters, failed, counts = await asyncio.gather(
            _or_none(client.operations(), None),
            _or_none(client.open_dead_letters(), []),
            _or_none(client.failed_jobs(), []),
            _or_none(client.job_counts(), []),
        )
    except (ServiceError, httpx.TransportError, KeyError):
        return ServiceHealth(service, reachable=False)
    queued = [c for c in counts if c.status == "queued"]
    oldest = [c.oldest_run_at for c in queued if c.oldest_run_at is not None]
    return ServiceHealth(
        service,
        operations=operations,
        dead_letters=letters,
        failed_jobs=failed,
        queued_jobs=sum(c.count for c in queued),
        oldest_queued=min(oldest) if oldest else None,
    )


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
    await OperationsClient(ui.backend, me, service).retry_job(job_id)
    return RedirectResponse("/admin/operations", status_code=303)


@router.post("/admin/operations/{service}/dead-letters/{letter_id}/replay")
async def replay_letter(service: str, letter_id: int, request: Request, ui: PageUI) -> Response:
    await ui.form_of(request)
    me = await platform_admin(ui, request)
    if service not in OPERATED:
        raise PageError(404, "error.404")
    await OperationsClient(ui.backend, me, service).replay_dead_letter(letter_id)
    return RedirectResponse("/admin/operations", status_code=303)
