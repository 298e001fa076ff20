"""Shared plumbing for WhatsApp gateway adapters: result types, errors and the one HTTP seam."""

from __future__ import annotations

import abc
import hashlib
import hmac
import json as jsonlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from whatsapp.endpoints import EndpointConfig
from whatsapp.metrics import observe_gateway_call
from whatsapp.redaction import redact
from whatsapp.text import clamp_datetime

logger = logging.getLogger(__name__)

# Budgets from what real gateways were seen to take (gateways-recorded/README.md): WAHA's
# not-ready answers (QR, sendText on a STARTING session) wait 5 s, its lifecycle calls take 3 s,
# Evolution's connect up to 5 s: all inside the default. Only create needs more (CREATE_TIMEOUT).
DEFAULT_TIMEOUT = 10.0
# A gateway that cannot even accept a TCP connection quickly is down; don't burn the whole budget.
CONNECT_TIMEOUT = 5.0
# Evolution's create with a QR sleeps 5 s and was seen answering after 8.2 s.
CREATE_TIMEOUT = 20.0
# Gateways answer small JSON; a bigger reply is refused before it is parsed (or held in memory).
MAX_REPLY_BYTES = 1024 * 1024


class GatewayError(Exception):
    """A gateway call failed. `message` is safe to show a person: no key, no URL, host only."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
        code: str = "gateway_error",
    ):
        message = redact(message)  # a gateway may echo its key, e.g. URL-encoded in an error
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after
        self.code = code

    def __repr__(self) -> str:
        return (
            f"GatewayError({self.message!r}, code={self.code!r}, permanent={self.permanent}, "
            f"status={self.status}, retry_after={self.retry_after})"
        )

    def __reduce__(self):
        # Keyword-only arguments break Exception's default pickling (task backends pickle errors).
        args = (self.message, self.permanent, self.status, self.retry_after, self.code)
        return (_rebuild_gateway_error, args)


def _rebuild_gateway_error(message, permanent, status, retry_after, code) -> GatewayError:
    return GatewayError(
        message, permanent=permanent, status=status, retry_after=retry_after, code=code
    )


class WebhookParseError(ValueError):
    """A webhook body is not JSON or not shaped like the provider's envelope (answer 400)."""


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    latency_ms: int
    version: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an endpoint's gateway is and can do, learned by probing it (not from its docs)."""

    provider: str
    version: str = ""
    tier: str = ""  # WAHA: "CORE" or "PLUS"; empty where the gateway has no tiers
    engine: str = ""
    # False when a request with a deliberately wrong key was answered 2xx; None if not known.
    key_enforced: bool | None = None
    signs_webhooks: bool = False
    multi_session: bool = True

    @property
    def product(self) -> str:
        if self.provider == "waha":
            return "WAHA Plus" if self.tier == "PLUS" else "WAHA Core" if self.tier else "WAHA"
        return "Evolution API" if self.provider == "evolution" else self.provider

    def summary(self) -> str:
        """'WAHA Core 2024.10.8 · one number · webhooks unsigned', for pages."""
        parts = [f"{self.product} {self.version}".strip()]
        if self.engine:
            parts[0] += f" ({self.engine})"
        parts.append("many numbers" if self.multi_session else "one number")
        parts.append("webhooks signed" if self.signs_webhooks else "webhooks unsigned")
        if self.key_enforced is False:
            parts.append("API key NOT checked")
        return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class SessionStatus:
    name: str
    status: str
    phone: str | None = None
    push_name: str | None = None
    raw_status: str = ""


@dataclass(frozen=True, slots=True)
class QrCode:
    value: str | None
    image_base64: str | None = None
    mimetype: str | None = None


@dataclass(frozen=True, slots=True)
class SentMessage:
    message_id: str | None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    event_id: str
    message_id: str
    session: str
    sender: str
    phone: str | None
    push_name: str | None
    body: str
    timestamp: datetime
    has_media: bool = False
    lid: str | None = None
    # The id of the message this one quotes (a WhatsApp "reply"), short form as acks carry it.
    quoted_id: str | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    event_id: str
    message_id: str
    session: str
    status: str


@dataclass(frozen=True, slots=True)
class StatusChange:
    event_id: str
    session: str
    status: str
    phone: str | None = None
    push_name: str | None = None


Event = InboundMessage | Ack | StatusChange


@dataclass(frozen=True, slots=True)
class Reply:
    """A 2xx (or explicitly expected) answer; `data` is the parsed JSON body or None."""

    status: int
    data: Any
    text: str


# ---------------------------------------------------------------------------------------------
# Small pure helpers shared by the adapters.

_SESSION_NAME = re.compile(r"[a-z0-9_-]{1,54}")
_PHONE_DIGITS = re.compile(r"[1-9]\d{5,14}")
_PHONE_SERVERS = ("c.us", "s.whatsapp.net")
_DIRECT_SERVERS = (*_PHONE_SERVERS, "lid")


def validate_session_name(name: object) -> str:
    """Session names go into URL paths, so only the gateway-safe alphabet is allowed."""
    if not isinstance(name, str) or not _SESSION_NAME.fullmatch(name):
        raise ValueError("Session names must be 1-54 characters of a-z, 0-9, '_' or '-'.")
    return name


def phone_digits(phone: str) -> str:
    """'+6281234567890' -> '6281234567890'; anything not E.164 is a programming error."""
    digits = phone.strip().removeprefix("+") if isinstance(phone, str) else ""
    if not _PHONE_DIGITS.fullmatch(digits):
        raise ValueError("Phone numbers must be E.164, such as +6281234567890.")
    return digits


def phone_from_jid(jid: object) -> str | None:
    """'628...@c.us' / '628...:12@s.whatsapp.net' -> '+628...'; hidden (@lid) ids -> None."""
    if not isinstance(jid, str) or "@" not in jid:
        return None
    user, _, server = jid.partition("@")
    if server not in _PHONE_SERVERS:
        return None
    user = user.split(":", 1)[0]  # multi-device jids carry a ':<device>' suffix
    return "+" + user if _PHONE_DIGITS.fullmatch(user) else None


def is_direct_chat(jid: str) -> bool:
    """Groups, broadcasts and channels are not conversations a booking bot should answer."""
    return jid.rpartition("@")[2] in _DIRECT_SERVERS


def sender_identity(sender: str, *alternates: object) -> tuple[str | None, str | None]:
    """(phone, lid) for a sender; a hidden @lid sender has a phone only if the gateway gave one."""
    if sender.endswith("@lid"):
        phone = next((p for p in map(phone_from_jid, alternates) if p), None)
        return phone, sender
    return phone_from_jid(sender), None


def short_message_id(raw: str) -> str:
    """'true_628...@c.us_3EB0...' -> '3EB0...' (the id acks carry); short ids pass through."""
    parts = raw.split("_")
    if len(parts) >= 3 and parts[0] in ("true", "false"):
        return parts[2]  # group ids append '_<participant>', so the last segment is not always it
    return parts[-1]


def to_datetime(value: object) -> datetime | None:
    """Epoch seconds (or milliseconds) as int/float/str -> aware UTC datetime."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int such as 10**400
        return None
    if seconds > 1e11:  # milliseconds
        seconds /= 1000
    try:
        return clamp_datetime(datetime.fromtimestamp(seconds, tz=UTC))
    except (OverflowError, OSError, ValueError):
        return None


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that also accepts Django META keys (HTTP_X_...)."""
    wanted = name.lower()
    for key, value in headers.items():
        folded = str(key).lower().replace("_", "-")
        if folded == wanted or folded == "http-" + wanted:
            return value
    return None


def secrets_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def load_json_body(body: bytes) -> Any:
    try:
        return jsonlib.loads(body)
    except (ValueError, TypeError, RecursionError):
        raise WebhookParseError("Webhook body is not valid JSON.") from None


def require_str(obj: Mapping[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise WebhookParseError(f"Webhook {what} has no '{key}'.")
    return value


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def fallback_event_id(prefix: str, obj: object) -> str:
    """A deterministic id for events that carry none, so a redelivery dedupes to the same row."""
    canonical = jsonlib.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return f"{prefix}:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as delta-seconds or an HTTP-date -> seconds from now (never negative)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def parse_json_reply(content: bytes) -> Any:
    """A gateway reply's JSON, or None for anything else (HTML, empty, truncated, too deep)."""
    if not content:
        return None
    try:
        return jsonlib.loads(content)
    except (ValueError, TypeError, RecursionError, UnicodeDecodeError):
        return None


def _sentences(items: list, *, depth: int = 0) -> list[str]:
    """Validation messages, nested or not (Evolution sends lists of lists), as flat strings."""
    found: list[str] = []
    for item in items:
        if isinstance(item, str) and item.strip():
            found.append(item.strip())
        elif isinstance(item, list) and depth < 3:
            found.extend(_sentences(item, depth=depth + 1))
        if len(found) >= 5:
            break
    return found


# ---------------------------------------------------------------------------------------------
# Connection pooling: one requests.Session per endpoint name, shared by every thread.

_sessions: dict[str, requests.Session] = {}
_sessions_lock = threading.Lock()


def new_http_session() -> requests.Session:
    session = requests.Session()
    # Retries are the caller's decision (outbound queue, scheduler), never the adapter's: a
    # silently retried POST /sendText sends the customer the same message twice.
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=20, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def pooled_session(endpoint_name: str) -> requests.Session:
    with _sessions_lock:
        session = _sessions.get(endpoint_name)
        if session is None:
            session = _sessions[endpoint_name] = new_http_session()
        return session


def close_pooled_sessions() -> None:
    with _sessions_lock:
        for session in _sessions.values():
            session.close()
        _sessions.clear()


# ---------------------------------------------------------------------------------------------
# The adapter contract and the HTTP seam.

_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class Gateway(abc.ABC):
    """One WhatsApp gateway endpoint, spoken to in one provider's dialect."""

    provider: str = ""

    def __init__(self, endpoint: EndpointConfig, *, timeout: float = DEFAULT_TIMEOUT):
        self.endpoint = endpoint
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.endpoint.name!r} ({self.endpoint.host})>"

    @property
    def label(self) -> str:
        return f"Gateway '{self.endpoint.name}' ({self.endpoint.host})"

    @abc.abstractmethod
    def health(self) -> Health: ...

    @abc.abstractmethod
    def session_create(
        self,
        *,
        name: str,
        webhook_url: str,
        webhook_secret: str,
        webhook_retries: int,
        metadata: dict[str, str],
    ) -> SessionStatus: ...

    @abc.abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abc.abstractmethod
    def session_configure(
        self,
        *,
        name: str,
        webhook_url: str,
        webhook_secret: str,
        webhook_retries: int,
        metadata: dict[str, str],
    ) -> None:
        """Point an existing session's webhook at a new URL/secret (a re-pair, WAHA Core's
        pre-existing 'default' session)."""

    @abc.abstractmethod
    def session_status(self, name: str) -> SessionStatus: ...

    @abc.abstractmethod
    def session_qr(self, name: str) -> QrCode: ...

    @abc.abstractmethod
    def session_restart(self, name: str) -> None: ...

    @abc.abstractmethod
    def session_logout(self, name: str) -> None: ...

    @abc.abstractmethod
    def session_delete(self, name: str) -> None: ...

    @abc.abstractmethod
    def send_text(
        self, *, session: str, phone: str, text: str, timeout: float | None = None
    ) -> SentMessage: ...

    @abc.abstractmethod
    def webhook_signature_present(self, headers: Mapping[str, str]) -> bool:
        """Whether a delivery claims to be signed (then the signature must verify)."""

    @abc.abstractmethod
    def verify_webhook(
        self, *, body: bytes, headers: Mapping[str, str], secret: str, now: float | None = None
    ) -> bool: ...

    @abc.abstractmethod
    def parse_webhook(self, body: bytes) -> list[Event]: ...

    # --- chat history (reconciling sends whose outcome is unknown) -----------------------------

    @abc.abstractmethod
    def recent_outgoing(
        self, *, session: str, phone: str, since: datetime, limit: int = 50
    ) -> list[HistoryMessage]:
        """Our own recent messages to `phone` sent at or after `since` (whole seconds), newest
        first. Raises GatewayError(permanent=True, code="history_unavailable") when this gateway
        cannot show its history, so the caller holds the message for a person instead."""

    # --- contacts (issue 12) -------------------------------------------------------------------

    @abc.abstractmethod
    def contact_exists(self, *, session: str, phone: str) -> bool:
        """Whether `phone` (E.164) has WhatsApp, asked through the connected `session`."""

    # --- pairing by phone number (issue 11) ----------------------------------------------------

    def session_pairing_code(self, name: str, phone: str) -> str:
        """An 8-character code ("ABCD-EFGH") that links the phone `phone` (E.164) when typed in
        WhatsApp under Linked devices -> Link with phone number. Not abstract: a gateway without
        the feature says so with a permanent GatewayError."""
        raise GatewayError(
            f"{self.label} cannot link a phone by number; scan the QR code instead",
            permanent=True,
            code="pairing_code_unsupported",
        )


class HttpGateway(Gateway):
    """A gateway spoken to over HTTP with an API key header (both providers today)."""

    # Statuses that mean "the key is wrong"; WAHA also answers 403 for a bad key.
    auth_failure_statuses: tuple[int, ...] = (401,)
    # What the provider calls one WhatsApp session in what it says (Evolution: "instance").
    session_noun: str = "session"

    def __init__(
        self,
        endpoint: EndpointConfig,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ):
        super().__init__(endpoint, timeout=timeout)
        self.http = session if session is not None else pooled_session(endpoint.name)
        self.last_key_check: Reply | None = None

    @abc.abstractmethod
    def _auth_headers(self) -> dict[str, str]: ...

    @observe_gateway_call
    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
        expected: Collection[int] = (),
        auth: Mapping[str, str] | None = None,
    ) -> Reply:
        """Make one call; 2xx and `expected` statuses are returned, everything else raises.

        `auth` replaces the key headers (the capability probe sends a deliberately wrong key).
        """
        wait = self.timeout if timeout is None else timeout
        url = self.endpoint.api_url.rstrip("/") + path
        headers = {"Accept": "application/json", **(self._auth_headers() if auth is None else auth)}
        try:
            response = self.http.request(
                method,
                url,
                json=json,
                params=params,
                headers=headers,
                timeout=(min(CONNECT_TIMEOUT, wait), wait),
                # A redirect would carry the key header to wherever it points.
                allow_redirects=False,
                stream=True,
            )
            try:
                content = self._read_capped(response)
            finally:
                response.close()
        except GatewayError:
            raise
        except requests.Timeout:
            raise self._fail(f"did not answer within {wait:g}s", code="timeout") from None
        except requests.exceptions.SSLError:
            raise self._fail(
                "failed the TLS handshake: check its certificate", code="tls"
            ) from None
        except requests.ConnectionError:
            raise self._fail(
                "could not be reached: check that it is running and apiUrl is right",
                code="unreachable",
            ) from None
        except requests.RequestException as exc:
            # The original exception text can hold the full URL; keep only its type.
            raise self._fail(f"request failed ({type(exc).__name__})") from None
        status = response.status_code
        text = content.decode(response.encoding or "utf-8", errors="replace")
        data = parse_json_reply(content)
        if 200 <= status < 300 or status in expected:
            return Reply(status=status, data=data, text=text)
        raise self._status_error(status, data, response.headers.get("Retry-After"))

    def _read_capped(self, response: requests.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise self._fail(
                    f"sent a reply larger than {MAX_REPLY_BYTES // 1024} KB; is apiUrl right?",
                    code="bad_response",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _fail(self, reason: str, *, code: str = "gateway_error") -> GatewayError:
        logger.warning("gateway request failed endpoint=%s code=%s", self.endpoint.name, code)
        return GatewayError(f"{self.label} {reason}", permanent=False, code=code)

    def _no_session(self, name: str | None) -> GatewayError:
        """The session is gone; without a name (a device's own call) the device is named."""
        which = f"named '{name}'" if name is not None else "for this device"
        message = f"{self.label} has no {self.session_noun} {which}"
        return GatewayError(message, permanent=True, status=404, code="session_not_found")

    def _session_call(self, method: str, path: str, name: str | None, *, json: Any = None) -> Reply:
        """A call on one session's route, where 404 means that session does not exist."""
        reply = self._request(method, path, json=json, expected=(404,))
        if reply.status == 404:
            raise self._no_session(name)
        return reply

    def _unreadable(self, what: str, *, status: int | None = None) -> GatewayError:
        """A 2xx whose body is not the shape this gateway answers with (worth asking again)."""
        message = f"{self.label} sent an unreadable {what}"
        return GatewayError(message, permanent=False, status=status, code="bad_response")

    def _qr_not_ready(self, name: str, *, status: int | None = None) -> GatewayError:
        message = f"{self.label} has no QR code for '{name}' yet; try again in a few seconds"
        return GatewayError(message, permanent=False, status=status, code="qr_not_ready")

    def _history_request(
        self,
        method: str,
        path: str,
        *,
        expected: Collection[int],
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Reply:
        """A chat-history call: any `expected` non-2xx answer means this gateway keeps none."""
        reply = self._request(method, path, json=json, params=params, expected=expected)
        if not 200 <= reply.status < 300:
            raise history_unavailable(self.label, self.safe_detail(reply.data), reply.status)
        return reply

    # --- pairing answers both providers give, each in its own words ---------------------------

    def _already_connected(
        self, name: str, *, status: int, nothing: str = "there is nothing to link"
    ) -> GatewayError:
        message = f"{self.label}: '{name}' is already connected; {nothing}"
        return GatewayError(message, permanent=True, status=status, code="already_connected")

    def _invalid_phone(self, data: Any) -> GatewayError:
        message = f"{self.label} refused the phone number: {self.safe_detail(data)}"
        return GatewayError(message, permanent=True, status=400, code="invalid_phone")

    def _pairing_code_not_ready(self, name: str, *, status: int | None = None) -> GatewayError:
        # The session is still starting: its first QR (and code) are seconds away.
        message = (
            f"{self.label} cannot give a pairing code for '{name}' yet; try again in a few seconds"
        )
        return GatewayError(message, permanent=False, status=status, code="pairing_code_not_ready")

    def _pairing_code_in(self, data: dict[str, Any], field: str) -> str:
        """The 'ABCD-EFGH' code in the reply's `field`; anything else is a bad answer."""
        code = pairing_code_from(data.get(field))
        if code is None:
            raise self._fail(
                f"answered the pairing-code request without an 8-character '{field}'",
                code="bad_response",
            )
        return code

    def _status_error(self, status: int, data: Any, retry_after: str | None) -> GatewayError:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown Status"
        permanent = 300 <= status < 500 and status not in (408, 429)
        code, hint = "gateway_error", self.safe_detail(data)
        if status in self.auth_failure_statuses:
            code, hint = "unauthorized", "check the endpoint's apiKey"
        elif 300 <= status < 400:
            code, hint = "redirect", "apiUrl redirects elsewhere; use the final URL"
        elif status == 404:
            code = "not_found"
        elif status == 429:
            code = "rate_limited"
        elif status >= 500:
            # A 5xx body is the gateway's internal error (stack texts, JS errors): not for a page.
            code, hint = "gateway_unavailable", "an internal error on the gateway"
        elif 400 <= status < 500:
            code = "invalid_request"
        message = f"{self.label} answered {status} {phrase}" + (f": {hint}" if hint else "")
        logger.warning(
            "gateway request failed endpoint=%s status=%s code=%s", self.endpoint.name, status, code
        )
        return GatewayError(
            message,
            permanent=permanent,
            status=status,
            retry_after=parse_retry_after(retry_after),
            code=code,
        )

    def safe_detail(self, data: Any, limit: int = 160) -> str:
        """The gateway's own error sentence, with the key, URLs and control characters removed."""
        candidates: list[Any] = []
        if isinstance(data, dict):
            response = as_dict(data.get("response"))
            candidates = [data.get("message"), response.get("message"), data.get("error")]
        text = ""
        for candidate in candidates:
            if isinstance(candidate, list):
                candidate = "; ".join(_sentences(candidate))
            if isinstance(candidate, str) and candidate.strip():
                text = candidate
                break
        key = self.endpoint.api_key.known_value()
        if key:
            text = text.replace(key, "***")
        text = _CONTROL.sub(" ", _URL.sub("<url>", text)).strip()
        return text[: limit - 1] + "…" if len(text) > limit else text

    def _key_enforced(self, method: str, path: str, header: str) -> bool | None:
        """One call with a key nobody has: 2xx means anyone who reaches the gateway controls it."""
        wrong = {header: "booqing-deliberately-wrong-key-" + secrets.token_hex(8)}
        try:
            reply = self._request(method, path, auth=wrong, expected=(401, 403))
        except GatewayError:
            return None
        return reply.status in (401, 403)

    def _health_probe(self, liveness: tuple[str, str], key_check: tuple[str, str]) -> Health:
        """Liveness call (timed) then an authenticated call; never raises."""
        started = time.monotonic()
        latency_ms = 0
        try:
            if liveness == key_check:  # one call that is both (Evolution's verify-creds)
                alive = checked = self._request(*key_check, expected=self.auth_failure_statuses)
            else:
                alive = self._request(*liveness)
            latency_ms = int((time.monotonic() - started) * 1000)
            if liveness != key_check:
                checked = self._request(*key_check, expected=self.auth_failure_statuses)
        except GatewayError as exc:
            elapsed = latency_ms or int((time.monotonic() - started) * 1000)
            return Health(ok=False, latency_ms=elapsed, detail=exc.message)
        except Exception as exc:  # health pages must render whatever the gateway does
            logger.exception("gateway health check crashed endpoint=%s", self.endpoint.name)
            return Health(
                ok=False, latency_ms=latency_ms, detail=f"{self.label} {type(exc).__name__}"
            )
        # A capability probe right after this health check reuses the answer (one call less).
        self.last_key_check = checked
        if checked.status in self.auth_failure_statuses:
            return Health(
                ok=False,
                latency_ms=latency_ms,
                detail=f"{self.label} key rejected ({checked.status}): check the endpoint's apiKey",
            )
        version = None
        for reply in (checked, alive):
            candidate = as_dict(reply.data).get("version")
            if isinstance(candidate, str) and candidate:
                version = candidate
                break
        return Health(ok=True, latency_ms=latency_ms, version=version)


# ---------------------------------------------------------------------------------------------
# Chat history, read before any resend of a message whose send outcome is unknown (issue 8).


@dataclass(frozen=True, slots=True)
class HistoryMessage:
    """One message of a chat as the gateway's history shows it."""

    message_id: str
    from_me: bool
    body: str
    timestamp: datetime | None


def request_may_have_reached(exc: GatewayError) -> bool:
    """Whether a failed call may still have been carried out by the gateway.

    A refused or timed-out *connection* never carried our request, nor did a 408/429 answer.
    A read timeout, a connection dropped after the request was written, or a 5xx may have:
    the gateway can have sent the message and failed only to tell us.
    """
    if exc.status is not None:
        return exc.status >= 500
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(cause, requests.ConnectionError) and not isinstance(cause, requests.Timeout):
        reason = cause.args[0] if cause.args else None
        reason = getattr(reason, "reason", reason)  # urllib3 wraps it in MaxRetryError
        if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
            return False
    # A failed TLS handshake happens before anything is sent; anything else may have landed.
    return exc.code != "tls"


def history_unavailable(label: str, detail: str, status: int | None) -> GatewayError:
    return GatewayError(
        f"{label} cannot show its chat history" + (f": {detail}" if detail else ""),
        permanent=True,
        status=status,
        code="history_unavailable",
    )


def history_since(items: Iterable[HistoryMessage | None], since: datetime) -> list[HistoryMessage]:
    """Our own messages at or after `since` (gateways stamp whole seconds), newest first."""
    floor = since.replace(microsecond=0)
    kept = [
        item
        for item in items
        if item is not None and item.from_me and (item.timestamp is None or item.timestamp >= floor)
    ]
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(kept, key=lambda item: item.timestamp or oldest, reverse=True)


def refined_time(whole_seconds: object, emitted: object) -> datetime | None:
    """A message's timestamp (WhatsApp's whole second) refined by the gateway's own event time.

    Gateways post webhooks concurrently, so 25 messages written in one second can arrive in any
    order. Where the gateway also stamps its event in epoch milliseconds (WAHA's envelope
    `timestamp`), that stamp, held inside the message's own second, orders them as the gateway
    saw them; without it the whole second is all there is. (Evolution's `date_time` is not
    used: it is the server's local time labelled Z, hours off.)
    """
    second = to_datetime(whole_seconds)
    if isinstance(emitted, str) and not emitted.strip().lstrip("-").replace(".", "").isdigit():
        try:
            event = datetime.fromisoformat(emitted.strip().replace("Z", "+00:00"))
        except ValueError:
            event = None
        if event is not None and event.tzinfo is None:
            event = event.replace(tzinfo=UTC)
    else:
        event = to_datetime(emitted)
    if second is None:
        return event
    if event is None:
        return second
    # Clamped into [second, second + 0.999999]: monotonic, so the order survives the clamp.
    return min(max(event, second), second.replace(microsecond=999_999))


# WhatsApp's phone-number pairing codes: 8 letters and digits, shown as two groups of four.
PAIRING_CODE_LENGTH = 8


def pairing_code_from(value: object) -> str | None:
    """'ABCD-EFGH' from a gateway's code ('ABCDEFGH', 'abcd-efgh', 'ABCD EFGH'), or None when the
    value is not such a code (the caller turns that into a clear GatewayError)."""
    if not isinstance(value, str):
        return None
    letters = "".join(ch for ch in value if ch not in "- ").upper()
    if len(letters) != PAIRING_CODE_LENGTH or not letters.isascii() or not letters.isalnum():
        return None
    return f"{letters[:4]}-{letters[4:]}"
