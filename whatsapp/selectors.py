"""Read queries for the WhatsApp pages."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from django.db import connections, router
from django.db.models import (
    Count,
    F,
    Min,
    Q,
    QuerySet,
    Subquery,
    Sum,
)

from core.models import AuditEvent
from tenants.models import Tenant
from whatsapp.caches import config_snapshots
from whatsapp.endpoints import registry
from whatsapp.gateways.base import Capabilities
from whatsapp.models import (
    DEFAULT_PHONE_REGION,
    Conversation,
    Device,
    EndpointState,
    HealthStatus,
    Message,
    MessageStatus,
    TenantWhatsAppConfig,
)
from whatsapp.text import clean_text


def recent_audit_events(*, tenant: Tenant, limit: int = 10) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(tenant=tenant).order_by("-created_at")[:limit])


@dataclass(frozen=True)
class EndpointRow:
    name: str
    host: str
    provider: str
    tenant_count: int
    health_status: str
    latency_ms: int | None = None
    last_probe_at: datetime | None = None
    last_error: str = ""
    unhealthy_since: datetime | None = None
    capabilities: Capabilities | None = None


def capabilities_from_state(state: EndpointState | None) -> Capabilities | None:
    """An endpoint's stored capabilities, or None before the first capability probe."""
    if state is None or state.capabilities_checked_at is None:
        return None
    return Capabilities(
        provider=state.provider,
        version=state.version,
        tier=state.tier,
        engine=state.engine,
        key_enforced=state.key_enforced,
        signs_webhooks=bool(state.signs_webhooks),
        multi_session=state.multi_session is not False,
    )


def single_session_conflict(*, tenant: Tenant, endpoint_name: str) -> bool:
    """True when a one-number endpoint (WAHA Core) already carries another tenant's device."""
    capabilities = capabilities_from_state(endpoint_state(endpoint_name))
    if capabilities is None or capabilities.multi_session:
        return False
    return Device.objects.filter(endpoint_name=endpoint_name).exclude(tenant=tenant).exists()


def endpoint_overview() -> list[EndpointRow]:
    """Every configured endpoint with its tenant count and last probe (two queries)."""
    counts = {
        row["endpoint_name"]: row["n"]
        for row in TenantWhatsAppConfig.objects.values("endpoint_name").annotate(n=Count("id"))
    }
    states = {state.endpoint_name: state for state in EndpointState.objects.all()}
    rows = []
    for meta in registry().all_metadata():
        state = states.get(meta.name)
        rows.append(
            EndpointRow(
                name=meta.name,
                host=meta.host,
                provider=meta.provider,
                tenant_count=counts.get(meta.name, 0),
                health_status=state.health_status if state else "unknown",
                latency_ms=state.last_latency_ms if state and state.last_probe_at else None,
                last_probe_at=state.last_probe_at if state else None,
                last_error=state.last_error if state else "",
                unhealthy_since=state.unhealthy_since if state else None,
                capabilities=capabilities_from_state(state),
            )
        )
    return rows


def endpoint_state(endpoint_name: str) -> EndpointState | None:
    return EndpointState.objects.filter(endpoint_name=endpoint_name).first()


def config_as_dict(config: TenantWhatsAppConfig) -> dict:
    """The API's view of a tenant's configuration (names and settings; never a URL or key)."""
    return {
        "id": str(config.id),
        "tenant_id": str(config.tenant_id),
        "endpoint_name": config.endpoint_name,
        "auto_reconnect": config.auto_reconnect,
        "reconnect_interval": config.reconnect_interval,
        "health_check_interval": config.health_check_interval,
        "webhook_retries": config.webhook_retries,
        "message_timeout": config.message_timeout,
        "is_configured": config.is_configured,
        "health_status": config.health_status,
        "last_health_check": config.last_health_check.isoformat()
        if config.last_health_check
        else None,
        "created_at": config.created_at.isoformat(),
        "updated_at": config.updated_at.isoformat(),
    }


# The booking product reads a tenant's configuration before much of what it does. Each process
# keeps the answer for two seconds; whatever changes it here (assign, settings, remove, a health
# probe) drops it at once (caches.forget_config_snapshots), and changes made by other processes
# show within the two seconds.
_NONE = object()


def config_snapshot(tenant_id) -> dict | None:
    cached = config_snapshots.get(tenant_id)
    if cached is None:
        config = TenantWhatsAppConfig.objects.filter(tenant_id=tenant_id).order_by().first()
        cached = config_as_dict(config) if config else _NONE
        config_snapshots.set(tenant_id, cached)
    return None if cached is _NONE else dict(cached)


_PHONE_LIKE = re.compile(r"[\d\s()+.-]+")


def _contact_lookups(q: str) -> list[Q]:
    """Each way what a person typed may match a contact, one lookup per column and form."""
    q = clean_text(q).strip()  # a NUL would make PostgreSQL refuse the query
    lookups = [Q(contact_name__icontains=q), Q(contact__icontains=q), Q(contact_lid__icontains=q)]
    digits = "".join(ch for ch in q if ch.isdigit())
    if digits and _PHONE_LIKE.fullmatch(q):
        # icontains, not contains: digits have no case, and PostgreSQL's trigram index is on
        # UPPER(contact), the form every other contact match takes.
        lookups.append(Q(contact__icontains=digits))
        if digits.startswith("0") and not q.startswith("+"):
            country = phonenumbers.country_code_for_region(DEFAULT_PHONE_REGION)
            lookups.append(Q(contact__icontains=f"{country}{digits[1:]}"))
    return lookups


def conversation_match(q: str) -> Q:
    """Conversations whose contact name, number or hidden id matches what a person typed.

    Numbers are stored as E.164 (+62812...) but typed any way: separators are dropped, and a
    leading national trunk 0 may also stand for the country code ('0812-3456' finds +62812-3456;
    '0001' still finds numbers ending in 0001). The inbox page and the API share this.
    """
    match = Q()
    for lookup in _contact_lookups(q):
        match |= lookup
    return match


def inbox_conversations(*, tenant: Tenant, q: str = "") -> QuerySet[Conversation]:
    """A tenant's conversations, newest activity first, optionally searched."""
    conversations = Conversation.objects.filter(tenant=tenant).select_related("device")
    if q.strip():
        conversations = conversations.filter(conversation_match(q))
    return conversations.order_by(F("last_message_at").desc(nulls_last=True), "-created_at")


@dataclass(frozen=True)
class DeliveryState:
    """What the pages say about sending: is the endpoint answering, what waits, until when."""

    config: TenantWhatsAppConfig | None
    endpoint_down: bool
    down_since: datetime | None
    alerted: bool
    waiting: int
    oldest_waiting: datetime | None
    unconfirmed: int
    expiry_hours: int
    check_every: int


def delivery_state(*, tenant: Tenant) -> DeliveryState:
    """The endpoint's health and the tenant's waiting messages (three small queries)."""
    config = TenantWhatsAppConfig.objects.filter(tenant=tenant).first()
    down = config is not None and config.health_status == HealthStatus.UNHEALTHY
    pending = Message.objects.filter(
        tenant=tenant, status__in=[MessageStatus.QUEUED, MessageStatus.UNCONFIRMED]
    )
    waiting = pending.aggregate(n=Count("id"), oldest=Min("created_at")) if down else {}
    state = (
        EndpointState.objects.filter(endpoint_name=config.endpoint_name).first() if down else None
    )
    return DeliveryState(
        config=config,
        endpoint_down=down,
        down_since=config.unhealthy_since if config else None,
        alerted=bool(state and state.alerted_at),
        waiting=waiting.get("n") or 0,
        oldest_waiting=waiting.get("oldest"),
        unconfirmed=pending.filter(status=MessageStatus.UNCONFIRMED).count() if down else 0,
        expiry_hours=config.message_expiry_hours if config else 24,
        check_every=config.health_check_interval if config else 60,
    )


# --- The team inbox: one page of conversations, a thread, and the stamps its polls compare. ---

INBOX_PAGE_SIZE = 25
THREAD_LIMIT = 100
# Message-text search reads at most this many of the tenant's latest messages (newest first, via
# the message_list_order index), so a search costs the same with 200,000 messages as with 2,000.
SEARCH_RECENT_MESSAGES = 2000
INBOX_FILTERS = ("all", "unread", "attention")


@dataclass(frozen=True)
class InboxPage:
    conversations: list[Conversation]
    next_cursor: str  # "" on the last page
    first_page: bool


def _cursor_for(conversation: Conversation) -> str:
    at = conversation.last_message_at.isoformat() if conversation.last_message_at else "~"
    return f"{at}|{conversation.last_message_seq}|{conversation.pk}"


def _parse_cursor(cursor: str) -> tuple[datetime | None, int, uuid.UUID] | None:
    try:
        at_text, seq_text, pk_text = cursor.split("|")
        return (
            None if at_text == "~" else datetime.fromisoformat(at_text),
            int(seq_text),
            uuid.UUID(pk_text),
        )
    except (ValueError, TypeError):
        return None


def _search_hits(*, tenant: Tenant, q: str) -> QuerySet:
    """The ids of a tenant's conversations whose contact matches `q` (conversation_match) or
    whose text is in one of its SEARCH_RECENT_MESSAGES latest messages.

    One UNION with an arm per lookup, so the database collects the (few) hits by index and
    joins them to the page, instead of testing every conversation of the tenant in inbox order.
    On PostgreSQL each contact arm reads a trigram index (migration 0009); SQLite scans.
    """
    mine = Conversation.objects.filter(tenant=tenant).order_by()
    arms = [mine.filter(lookup).values("pk") for lookup in _contact_lookups(q)]
    in_text = Message.objects.filter(tenant=tenant, body__icontains=clean_text(q))
    # The window of latest messages as a range on message_list_order, bounded by its oldest
    # row (one small query): a LIMIT subquery instead let PostgreSQL misjudge a common word
    # and scan the whole history. written_at is set on every message (migration 0003 filled
    # the old rows), so the range holds exactly the latest SEARCH_RECENT_MESSAGES.
    edge = list(
        Message.objects.filter(tenant=tenant)
        .order_by("-written_at", "-seq")
        .values_list("written_at", "seq")[SEARCH_RECENT_MESSAGES - 1 : SEARCH_RECENT_MESSAGES]
    )
    if edge:
        at, seq = edge[0]
        in_text = in_text.filter(Q(written_at__gt=at) | Q(written_at=at, seq__gte=seq))
    arms.append(in_text.order_by().values("conversation_id"))
    return arms[0].union(*arms[1:])


def inbox_page(
    *,
    tenant: Tenant,
    q: str = "",
    show: str = "all",
    cursor: str = "",
    size: int = INBOX_PAGE_SIZE,
) -> InboxPage:
    """One page of the inbox in one query, whatever the history: keyset paging, no COUNT(*).

    Each conversation carries `needs_attention` (a failed, expired or unconfirmed message), a
    column the message services keep; the "attention" filter reads its partial index.
    """
    conversations = Conversation.objects.filter(tenant=tenant).select_related("device")
    q = q.strip()
    if q:
        conversations = conversations.filter(pk__in=_search_hits(tenant=tenant, q=q))
    if show == "unread":
        conversations = conversations.filter(unread_count__gt=0)
    elif show == "attention":
        conversations = conversations.filter(needs_attention=True)
    after = _parse_cursor(cursor) if cursor else None
    # Conversations with messages by the conversation_inbox_keyset index, then (only on the
    # last of those pages) the empty ones by id: NULLS LAST cannot be indexed on SQLite.
    rows: list[Conversation] = []
    if after is None or after[0] is not None:
        dated = conversations.filter(last_message_at__isnull=False)
        if after is not None:
            at, seq, pk = after
            dated = dated.filter(
                Q(last_message_at__lt=at)
                | Q(last_message_at=at, last_message_seq__lt=seq)
                | Q(last_message_at=at, last_message_seq=seq, pk__lt=pk)
            )
        rows = list(dated.order_by("-last_message_at", "-last_message_seq", "-pk")[: size + 1])
    if len(rows) <= size:
        empty = conversations.filter(last_message_at__isnull=True)
        if after is not None and after[0] is None:
            empty = empty.filter(pk__lt=after[2])
        rows += list(empty.order_by("-pk")[: size + 1 - len(rows)])
    more = len(rows) > size
    rows = rows[:size]
    return InboxPage(
        conversations=rows,
        next_cursor=_cursor_for(rows[-1]) if more else "",
        first_page=after is None,
    )


def thread_messages(*, conversation: Conversation, limit: int = THREAD_LIMIT) -> list[Message]:
    """The latest `limit` messages in the order written, with their senders (one query)."""
    latest = conversation.messages.select_related("created_by", "created_by_token").order_by(
        "-written_at", "-seq"
    )[:limit]
    return list(reversed(latest))


def unread_conversations(*, tenant_id, cap: int = 100) -> int:
    """How many conversations have unread messages, counted up to `cap` (the nav shows 99+)."""
    return (
        Conversation.objects.filter(tenant_id=tenant_id, unread_count__gt=0)
        .order_by()
        .values("pk")[:cap]
        .count()
    )


_STATUS_CODES = {status: 1 << i for i, status in enumerate(MessageStatus.values)}


def _thread_stamp_sql() -> str:
    # Written out once rather than built by the ORM on every poll: the poll runs every two
    # seconds in every open thread, and compiling the aggregate cost more than running it.
    codes = " ".join(f"WHEN '{status}' THEN {code}" for status, code in _STATUS_CODES.items())
    table = Message._meta.db_table
    return (
        "SELECT MAX(seq), COUNT(*), SUM(CASE status " + codes + " ELSE 0 END),"  # noqa: S608
        " COUNT(waiting_since), SUM(CASE WHEN awaiting_decision THEN 1 ELSE 0 END)"
        f" FROM (SELECT seq, status, waiting_since, awaiting_decision FROM {table}"
        " WHERE conversation_id = %s ORDER BY written_at DESC, seq DESC"
        f" LIMIT {THREAD_LIMIT}) latest"
    )


_THREAD_STAMP_SQL = _thread_stamp_sql()


_NEWEST_CHANGE_SQL = (
    f"SELECT updated_at FROM {Message._meta.db_table}"  # noqa: S608
    " WHERE conversation_id = %s ORDER BY updated_at DESC LIMIT 1"
)


def thread_stamp(*, conversation_id) -> str:
    """A version of what a thread shows (its messages and their states), one indexed query.

    On PostgreSQL a trigger stamps updated_at on every write, QuerySet.update() included
    (migration 0010), so the thread's newest change is one entry of the message_thread_changes
    index (messages are never deleted from a thread that stays). Elsewhere (SQLite, the
    embedded default) updated_at is only Django's auto_now, which update() leaves alone: the
    stamp sums a bit per status over the messages on screen, along message_thread_order.
    """
    field = Message._meta.get_field("conversation")
    connection = connections[router.db_for_read(Message)]
    value = field.get_db_prep_value(uuid.UUID(str(conversation_id)), connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_NEWEST_CHANGE_SQL, [value])
            row = cursor.fetchone()
            return f"c{row[0].isoformat() if row else 0}"
        cursor.execute(_THREAD_STAMP_SQL, [value])
        seq, n, states, waiting, deciding = cursor.fetchone()
    return f"t{seq}-{n}-{states}-{waiting}-{deciding}"


def inbox_stamp(*, tenant_id) -> str:
    """A version of the inbox list (newest activity, unread, needs attention), one query."""
    mine = Conversation.objects.filter(tenant_id=tenant_id)
    newest = (
        mine.filter(last_message_at__isnull=False)
        .order_by("-last_message_at", "-last_message_seq", "-pk")
        .values("last_message_seq")[:1]
    )
    unread = (
        mine.filter(unread_count__gt=0)
        .order_by()
        .values("tenant_id")
        .annotate(total=Sum("unread_count"))
        .values("total")
    )
    # What the list marks: conversations the message services flagged (flagged ones always
    # have a message, which lets the count read the conversation_attention partial index),
    # not every troubled message of the tenant's history.
    trouble = (
        mine.filter(needs_attention=True, last_message_at__isnull=False)
        .order_by()
        .values("tenant_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    row = (
        Tenant.objects.filter(pk=tenant_id)
        .annotate(newest=Subquery(newest), unread=Subquery(unread), trouble=Subquery(trouble))
        .values("newest", "unread", "trouble")
        .first()
    ) or {"newest": 0, "unread": 0, "trouble": 0}
    return "i{newest}-{unread}-{trouble}".format(**row)
