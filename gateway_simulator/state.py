"""The simulator's data: behaviour knobs, sessions, message records and id generators."""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

SESSION_NAME_RE = re.compile(r"^[a-z0-9_-]{1,54}$")
STATUSES = ("STOPPED", "STARTING", "SCAN_QR_CODE", "WORKING", "FAILED")
ACK_NAMES = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}
SEND_REPLY_SHAPES = ("string", "object", "key", "empty")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class SimError(Exception):
    """A request the simulator refuses, answered as WAHA's JSON error body."""

    def __init__(self, status: int, message: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Knobs:
    """Behaviour switches for tests and benchmarks; settable at start and via POST /_sim/config."""

    latency_ms: int = 0
    failure_rate: float = 0.0
    reject_key: bool = False
    duplicate_rate: float = 0.0
    shuffle_webhooks: bool = False
    ack_delays: list[float] = field(default_factory=lambda: [0.2, 0.5, 1.0])
    qr_first_ttl: float = 60.0
    qr_next_ttl: float = 20.0
    qr_max: int = 6
    start_delay: float = 0.2
    not_on_whatsapp: list[str] = field(default_factory=list)
    webhook_timeout: float = 5.0
    webhooks_enabled: bool = True
    send_reply_shape: str = "string"
    # Real gateways hold a request to a session that is not ready for up to ~5 s (waiting for the
    # status it needs) before answering 422; tests keep this short, the demo makes it realistic.
    not_ready_delay: float = 0.0
    # WAHA pauses ~3 s after stopping a session (stop, restart, logout, delete, PUT).
    stop_delay: float = 0.0
    # Evolution's create blocks ~5 s (it sleeps while Baileys connects).
    create_delay: float = 0.0
    # WAHA Core 2024.10.8 accepts any key, or none: the security hole issue 7 describes.
    key_not_enforced: bool = False
    # A send the gateway delivered whose reply is late (past the client's timeout) or a 500:
    # the outcome is unknown to the sender although the contact has the message (issue 8).
    reply_delay_ms: int = 0
    fail_after_send_rate: float = 0.0

    def update(self, values: dict[str, Any]) -> None:
        """Apply a partial update, validating every value before changing anything."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise SimError(400, f"Unknown knob(s): {', '.join(unknown)}")
        coerced = {name: _coerce(name, value) for name, value in values.items()}
        for name, value in coerced.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def copy(self) -> Knobs:
        return Knobs(**self.as_dict())


def _coerce(name: str, value: Any) -> Any:
    try:
        if name in ("reject_key", "shuffle_webhooks", "webhooks_enabled", "key_not_enforced"):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if name in ("latency_ms", "qr_max", "reply_delay_ms"):
            number = int(value)
            if number < 0 or (name == "qr_max" and number < 1):
                raise ValueError
            return number
        if name in ("failure_rate", "duplicate_rate", "fail_after_send_rate"):
            rate = float(value)
            if not 0.0 <= rate <= 1.0:
                raise ValueError
            return rate
        if name == "ack_delays":
            items = value.split(",") if isinstance(value, str) else list(value)
            delays = [float(item) for item in items if str(item).strip() != ""]
            if any(delay < 0 for delay in delays):
                raise ValueError
            return delays
        if name == "not_on_whatsapp":
            items = value.split(",") if isinstance(value, str) else list(value)
            return [digits_of(str(item)) for item in items if digits_of(str(item))]
        if name == "send_reply_shape":
            if value not in SEND_REPLY_SHAPES:
                raise ValueError
            return value
        number = float(value)
        if number < 0:
            raise ValueError
        return number
    except (TypeError, ValueError):
        raise SimError(400, f"Invalid value for knob {name!r}: {value!r}") from None


@dataclass
class Message:
    """One text message seen by a session, kept for the contacts page."""

    serialized_id: str
    from_me: bool
    chat: str
    body: str
    timestamp: int
    push_name: str = ""
    ack: int = 0


@dataclass
class Session:
    name: str
    # None only for WAHA Core's fresh `default` session, which has no config yet.
    config: dict[str, Any] | None
    status: str = "STOPPED"
    # The linked phone survives stop/start and drops; only a logout forgets it.
    identity: dict[str, str] | None = None
    statuses: list[dict[str, Any]] = field(default_factory=list)
    qr_token: str | None = None
    qr_count: int = 0
    qr_expires_at: float = 0.0
    # Bumped on every transition so timers scheduled for an older state become no-ops.
    generation: int = 0
    messages: deque[Message] = field(default_factory=lambda: deque(maxlen=500))
    lids: dict[str, str] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    # Phone-number pairing: the code a gateway hands out and the number that must enter it.
    pairing_code: str | None = None
    pairing_phone: str | None = None
    # Evolution only: the instance's own token (it also authenticates calls for this instance).
    token: str = ""
    instance_id: str = ""
    # Why the last stop happened (Evolution reports 401 after a logout).
    stop_reason: int = 200

    @property
    def me(self) -> dict[str, str] | None:
        return dict(self.identity) if self.status == "WORKING" and self.identity else None

    @property
    def webhooks(self) -> list[dict[str, Any]]:
        hooks = (self.config or {}).get("webhooks") or []
        return [hook for hook in hooks if isinstance(hook, dict) and hook.get("url")]

    @property
    def metadata(self) -> dict[str, Any] | None:
        return (self.config or {}).get("metadata")

    def public_config(self) -> dict[str, Any] | None:
        """The config without secrets: hmac keys and custom header values become a marker."""
        if self.config is None:
            return None
        config = dict(self.config)
        if "webhooks" in config and isinstance(config["webhooks"], list):
            hooks = []
            for hook in config["webhooks"]:
                hook = dict(hook) if isinstance(hook, dict) else hook
                if isinstance(hook, dict) and isinstance(hook.get("hmac"), dict):
                    has_key = bool(hook["hmac"].get("key"))
                    hook["hmac"] = {"key": "***" if has_key else None}
                if isinstance(hook, dict) and isinstance(hook.get("customHeaders"), list):
                    # Custom headers often carry a shared secret too.
                    hook["customHeaders"] = [
                        {**item, "value": "***"} if isinstance(item, dict) else item
                        for item in hook["customHeaders"]
                    ]
                hooks.append(hook)
            config["webhooks"] = hooks
        return config

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "me": self.me,
            "config": self.public_config(),
            "engine": {"engine": "SIMULATOR"},
        }


def digits_of(value: str) -> str:
    """The digits of a phone number or chat id ("+62 811-000@c.us" -> "62811000")."""
    return "".join(ch for ch in value.split("@", 1)[0] if ch.isdigit())


def now_ms() -> int:
    return int(time.time() * 1000)


def new_message_id() -> str:
    # WhatsApp Web ids look like 3EB0 followed by upper-case hex.
    return "3EB0" + secrets.token_hex(8).upper()


def new_event_id() -> str:
    """evt_<ULID>: 48-bit millisecond time then 80 random bits, Crockford base32."""
    value = (now_ms() << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "evt_" + "".join(reversed(chars))


def new_phone() -> str:
    return "62812" + "".join(secrets.choice("0123456789") for _ in range(8))


def new_lid() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(15))


def validate_session_name(name: Any) -> str:
    if not isinstance(name, str) or not SESSION_NAME_RE.match(name):
        raise SimError(422, "Session name must be 1-54 characters of [a-z0-9_-]")
    return name
