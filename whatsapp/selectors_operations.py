"""The Operations page's figures, bucketed by hour from our own tables over 24 hours or 7 days.

Every query is bounded by an indexed time column (probes, messages' created_at, webhook events'
received_at, device events), so a page costs the window it shows, not the whole history.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.translation import gettext as _

from whatsapp.endpoints import registry
from whatsapp.models import (
    PAIRING_STATUSES,
    DeviceEvent,
    EndpointProbe,
    Message,
    MessageStatus,
    WebhookEvent,
)

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
# Without a chosen endpoint the probe charts show this many (those that failed most first).
MAX_ENDPOINT_SERIES = 5
# A message's outcome comes within a day of its creation; older rows are not read.
OUTCOME_LOOKBACK = timedelta(days=1)


@dataclass
class Series:
    label: str
    values: list[float | None]


@dataclass
class Chart:
    key: str
    title: str
    unit: str
    buckets: list[datetime]
    series: list[Series] = field(default_factory=list)
    summary: str = ""

    def rows(self) -> list[tuple[datetime, list[float | None]]]:
        """(bucket, one value per series): the table behind the chart."""
        return [(b, [s.values[i] for s in self.series]) for i, b in enumerate(self.buckets)]


def _buckets(start: datetime, end: datetime) -> list[datetime]:
    tz = timezone.get_current_timezone()
    first = timezone.localtime(start, tz).replace(minute=0, second=0, microsecond=0)
    hours = int((end - first).total_seconds() // 3600) + 1
    return [first + timedelta(hours=h) for h in range(hours)]


def _key(value: datetime) -> datetime:
    return timezone.localtime(value).replace(minute=0, second=0, microsecond=0)


def _fill(buckets: list[datetime], counts: dict[datetime, float], default=0) -> list:
    return [counts.get(b, default) for b in buckets]


def _endpoints(start: datetime, endpoint: str | None) -> list[str]:
    if endpoint:
        return [endpoint]
    names = registry().names()
    if len(names) <= MAX_ENDPOINT_SERIES:
        return list(names)
    failing = (
        EndpointProbe.objects.filter(created_at__gte=start, ok=False)
        .values_list("endpoint_name")
        .annotate(n=Count("id"))
        .order_by("-n")[:MAX_ENDPOINT_SERIES]
    )
    chosen = [name for name, _ in failing if name in set(names)]
    return (chosen + [n for n in names if n not in chosen])[:MAX_ENDPOINT_SERIES]


def _probe_charts(start, buckets, endpoint) -> tuple[Chart, Chart]:
    names = _endpoints(start, endpoint)
    rows = (
        EndpointProbe.objects.filter(created_at__gte=start, endpoint_name__in=names)
        .annotate(hour=TruncHour("created_at"))
        .values("endpoint_name", "hour")
        .annotate(latency=Avg("latency_ms"), total=Count("id"), ok=Count("id", filter=Q(ok=True)))
    )
    latency: dict[str, dict] = defaultdict(dict)
    health: dict[str, dict] = defaultdict(dict)
    for row in rows:
        hour = _key(row["hour"])
        latency[row["endpoint_name"]][hour] = round(row["latency"] or 0)
        health[row["endpoint_name"]][hour] = round(100 * row["ok"] / row["total"], 1)
    latency_chart = Chart("probe-latency", _("Probe latency per endpoint"), "ms", buckets)
    health_chart = Chart("probe-health", _("Successful probes per endpoint"), "%", buckets)
    for name in names:
        latency_chart.series.append(Series(name, _fill(buckets, latency[name], None)))
        health_chart.series.append(Series(name, _fill(buckets, health[name], None)))
    return latency_chart, health_chart


def _message_chart(start, buckets, endpoint) -> Chart:
    recent = Message.objects.filter(
        created_at__gte=start - OUTCOME_LOOKBACK, direction=Message.Direction.OUTBOUND
    )
    if endpoint:
        recent = recent.filter(device__endpoint_name=endpoint)
    chart = Chart("messages", _("Messages per hour by outcome"), _("messages"), buckets)
    for label, column, extra in (
        ("sent", "sent_at", Q()),
        ("delivered", "delivered_at", Q()),
        ("read", "read_at", Q()),
        ("failed", "updated_at", Q(status=MessageStatus.FAILED)),
    ):
        counts = dict(
            recent.filter(extra, **{f"{column}__gte": start})
            .annotate(hour=TruncHour(column))
            .values_list("hour")
            .annotate(n=Count("id"))
        )
        chart.series.append(Series(label, _fill(buckets, {_key(h): n for h, n in counts.items()})))
    sent = sum(chart.series[0].values)
    delivered = sum(chart.series[1].values)
    failed = sum(chart.series[3].values)
    if sent:
        chart.summary = _(
            "%(sent)s sent, %(delivered)s delivered (%(share).0f%%), %(failed)s failed."
        ) % {
            "sent": sent,
            "delivered": delivered,
            "share": 100 * delivered / sent,
            "failed": failed,
        }
    return chart


def _pairing_chart(start, buckets, endpoint) -> Chart:
    events = DeviceEvent.objects.filter(created_at__gte=start)
    if endpoint:
        events = events.filter(device__endpoint_name=endpoint)
    started = events.filter(kind=DeviceEvent.Kind.PAIRING)
    # A device reaching "connected" counts once per pairing; reconnects of paired phones are
    # shown by the device timelines, not here.
    from_pairing = Q()
    for status in PAIRING_STATUSES:
        from_pairing |= Q(detail__startswith=f"{status.label} →")
    connected = events.filter(kind=DeviceEvent.Kind.STATUS, outcome="connected").filter(
        from_pairing
    )
    chart = Chart("pairing", _("Pairing attempts and successes per hour"), _("pairings"), buckets)
    for label, rows in (("attempts", started), ("connected", connected)):
        counts = dict(
            rows.annotate(hour=TruncHour("created_at")).values_list("hour").annotate(n=Count("id"))
        )
        chart.series.append(Series(label, _fill(buckets, {_key(h): n for h, n in counts.items()})))
    attempts, successes = sum(chart.series[0].values), sum(chart.series[1].values)
    if attempts:
        chart.summary = _("%(successes)s of %(attempts)s pairing attempts connected.") % {
            "successes": successes,
            "attempts": attempts,
        }
    return chart


def _webhook_charts(start, buckets, endpoint) -> tuple[Chart, Chart]:
    events = WebhookEvent.objects.filter(received_at__gte=start)
    if endpoint:
        events = events.filter(device__endpoint_name=endpoint)
    lag = ExpressionWrapper(F("processed_at") - F("received_at"), output_field=DurationField())
    rows = (
        events.annotate(hour=TruncHour("received_at"))
        .values("hour")
        .annotate(n=Count("id"), lag=Avg(lag, filter=Q(processed_at__isnull=False)))
    )
    intake, lags = {}, {}
    for row in rows:
        hour = _key(row["hour"])
        intake[hour] = row["n"]
        if row["lag"] is not None:
            lags[hour] = round(row["lag"].total_seconds(), 2)
    intake_chart = Chart(
        "webhook-intake", _("Webhook events received per hour"), _("events"), buckets
    )
    intake_chart.series.append(Series("received", _fill(buckets, intake)))
    lag_chart = Chart("webhook-lag", _("Webhook processing lag (average)"), _("seconds"), buckets)
    lag_chart.series.append(Series("lag", _fill(buckets, lags, None)))
    return intake_chart, lag_chart


CHART_KEYS = (
    "probe-latency",
    "probe-health",
    "messages",
    "pairing",
    "webhook-intake",
    "webhook-lag",
)


def operations_charts(
    *, range_key: str = "24h", endpoint: str | None = None, only: str | None = None
) -> list[Chart]:
    """The page's charts for the last 24 hours or 7 days (optionally one endpoint's, or one
    chart when `only` names it, as the chart images ask)."""
    now = timezone.now()
    start = now - RANGES.get(range_key, RANGES["24h"])
    buckets = _buckets(start, now)
    charts: list[Chart] = []
    if only in (None, "probe-latency", "probe-health"):
        charts += _probe_charts(start, buckets, endpoint)
    if only in (None, "messages"):
        charts.append(_message_chart(start, buckets, endpoint))
    if only in (None, "pairing"):
        charts.append(_pairing_chart(start, buckets, endpoint))
    if only in (None, "webhook-intake", "webhook-lag"):
        charts += _webhook_charts(start, buckets, endpoint)
    return [c for c in charts if only is None or c.key == only]
