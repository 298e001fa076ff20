"""The registry of WhatsApp gateway endpoints, read from the WHATSAPP_ENDPOINTS variable.

Endpoints (name, URL, key, provider) exist only in the server environment. The database keeps an
endpoint's *name*; everything else is looked up here. Keys are wrapped in `Secret`, whose repr/str
is `***`, and are revealed only at the moment a gateway request is built.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ENV_VAR = "WHATSAPP_ENDPOINTS"
PROVIDERS = ("waha", "evolution")
DEFAULT_PROVIDER = "waha"
REQUIRED_FIELDS = ("name", "apiUrl", "apiKey")
# A key file holds one key; anything bigger is a mistake (or /dev/zero) and is not read whole.
MAX_KEY_FILE_BYTES = 64 * 1024


class Secret:
    """A secret string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_resolve", "_value")

    def __init__(self, value: str | None = None, *, resolve=None):
        self._value = value
        self._resolve = resolve

    def reveal(self) -> str:
        if self._value is None and self._resolve is not None:
            self._value = self._resolve()
        return self._value or ""

    def known_value(self) -> str | None:
        """The value if already resolved (for the redaction filters; never triggers a lookup)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and self.reveal() == other.reveal()

    def __hash__(self) -> int:
        return hash("Secret")

    def __reduce__(self):
        raise TypeError("Secrets cannot be pickled")


@dataclass(frozen=True)
class EndpointConfig:
    """Everything needed to talk to one gateway. Server-side only: never render or serialise it."""

    name: str
    api_url: str
    api_key: Secret = field(repr=False)
    provider: str = DEFAULT_PROVIDER

    @property
    def host(self) -> str:
        parts = urlsplit(self.api_url)
        return parts.netloc.rsplit("@", 1)[-1]


@dataclass(frozen=True)
class EndpointMetadata:
    """What may be shown to a superadmin: no key, no credentials in the URL."""

    name: str
    host: str
    provider: str


@dataclass(frozen=True)
class Problem:
    """One configuration problem; `code` maps to a system check id (whatsapp.E00x / W00x)."""

    code: str
    message: str
    hint: str
    entry: str | None = None
    is_warning: bool = False


class EndpointNotFound(LookupError):
    pass


class KeyReferenceError(RuntimeError):
    """A key reference (`${VAR}`, `file:...`, `$(AWS_SECRET:...)`) could not be resolved."""


def _resolve_aws_secret(path: str) -> str:
    try:
        # Here, not at the top: boto3 is optional (the `aws` extra), needed only for such keys.
        import boto3  # type: ignore[import-not-found]
    except ImportError as exc:
        raise KeyReferenceError(
            f"apiKey refers to AWS secret '{path}' but boto3 is not installed: "
            "pip install 'booqing-whatsapp[aws]' or use ${ENV_VAR} / file: references."
        ) from exc
    client = boto3.client("secretsmanager")
    return client.get_secret_value(SecretId=path)["SecretString"].strip()


def parse_key_reference(raw: str, environ: dict[str, str]) -> Secret:
    """Turn an apiKey field into a Secret, resolving `${VAR}` and `file:` now, AWS lazily."""
    if raw.startswith("${") and raw.endswith("}"):
        var = raw[2:-1].strip()
        value = environ.get(var, "")
        if not value:
            raise KeyReferenceError(f"apiKey refers to ${{{var}}}, which is not set or empty")
        return Secret(value)
    if raw.startswith("file:"):
        path = Path(raw[len("file:") :])
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_KEY_FILE_BYTES + 1)
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
            reason = getattr(exc, "strerror", None) or "not a valid path"
            raise KeyReferenceError(
                f"apiKey refers to file {path}, which cannot be read ({reason})"
            ) from exc
        if len(data) > MAX_KEY_FILE_BYTES:
            raise KeyReferenceError(
                f"apiKey refers to file {path}, which is larger than {MAX_KEY_FILE_BYTES} bytes "
                "(it should hold only the key)"
            )
        try:
            value = data.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise KeyReferenceError(
                f"apiKey refers to file {path}, which is not UTF-8 text"
            ) from exc
        if not value:
            raise KeyReferenceError(f"apiKey refers to file {path}, which is empty")
        return Secret(value)
    if raw.startswith("$(AWS_SECRET:") and raw.endswith(")"):
        secret_path = raw[len("$(AWS_SECRET:") : -1].strip()
        try:
            # Optional (the `aws` extra): checked here, where a key first refers to AWS.
            import boto3  # type: ignore[import-not-found]  # noqa: F401
        except ImportError as exc:
            raise KeyReferenceError(
                f"apiKey refers to AWS secret '{secret_path}' but boto3 is not installed: "
                "pip install 'booqing-whatsapp[aws]' or use ${ENV_VAR} / file: references."
            ) from exc
        return Secret(resolve=lambda: _resolve_aws_secret(secret_path))
    return Secret(raw)


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        # .hostname and .port parse lazily and raise ValueError on "http://[" or "http://x:99999".
        # Credentials in the URL (user:pass@) would travel wherever the URL is shown or logged.
        no_credentials = parts.username is None and parts.password is None
        return (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and (parts.port or 1) > 0
            and no_credentials
        )
    except ValueError:
        return False


def _entry_label(index: int, entry: object) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"].strip():
        return f"entry {index} ('{entry['name'].strip()}')"
    return f"entry {index}"


FIX_HINT = (
    'Set WHATSAPP_ENDPOINTS to a JSON list such as [{"name": "Primary", '
    '"apiUrl": "https://wa.example.com", "apiKey": "${WAHA_KEY}"}] (see .env.example).'
)


def parse_endpoints(
    raw: str | None, environ: dict[str, str] | None = None
) -> tuple[dict[str, EndpointConfig], list[Problem]]:
    """Parse the WHATSAPP_ENDPOINTS text. Valid entries are kept even when others have problems."""
    environ = dict(os.environ) if environ is None else environ
    problems: list[Problem] = []
    if raw is None or not raw.strip():
        problems.append(
            Problem(
                "W001",
                "No WhatsApp endpoints are configured (WHATSAPP_ENDPOINTS is unset or empty).",
                FIX_HINT,
                is_warning=True,
            )
        )
        return {}, problems
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        line = getattr(exc, "lineno", "?")
        col = getattr(exc, "colno", "?")
        problems.append(
            Problem(
                "E001",
                f"WHATSAPP_ENDPOINTS is not valid JSON (line {line}, column {col}).",
                FIX_HINT,
            )
        )
        return {}, problems
    if not isinstance(data, list):
        problems.append(
            Problem(
                "E002",
                f"WHATSAPP_ENDPOINTS must be a JSON list, not a {type(data).__name__}.",
                FIX_HINT,
            )
        )
        return {}, problems

    endpoints: dict[str, EndpointConfig] = {}
    seen_folded: dict[str, str] = {}
    for index, entry in enumerate(data):
        label = _entry_label(index, entry)
        if not isinstance(entry, dict):
            problems.append(
                Problem(
                    "E003", f"WHATSAPP_ENDPOINTS {label} is not a JSON object.", FIX_HINT, label
                )
            )
            continue
        missing = [
            f for f in REQUIRED_FIELDS if not isinstance(entry.get(f), str) or not entry[f].strip()
        ]
        if missing:
            problems.append(
                Problem(
                    "E004",
                    f"WHATSAPP_ENDPOINTS {label} is missing "
                    + ", ".join(f"'{f}'" for f in missing)
                    + " (each must be a non-empty string).",
                    FIX_HINT,
                    label,
                )
            )
            continue
        name = entry["name"].strip()
        api_url = entry["apiUrl"].strip().rstrip("/")
        if not _is_http_url(api_url):
            problems.append(
                Problem(
                    "E005",
                    f"WHATSAPP_ENDPOINTS {label} has an apiUrl that is not a plain http(s) URL.",
                    "Use a full URL such as https://wa.example.com (no credentials in it).",
                    label,
                )
            )
            continue
        provider = entry.get("provider", DEFAULT_PROVIDER)
        if provider not in PROVIDERS:
            problems.append(
                Problem(
                    "E007",
                    f"WHATSAPP_ENDPOINTS {label} has an unknown provider {provider!r}.",
                    f"Use one of: {', '.join(PROVIDERS)} (default {DEFAULT_PROVIDER}).",
                    label,
                )
            )
            continue
        folded = name.casefold()
        if folded in seen_folded:
            problems.append(
                Problem(
                    "E006",
                    f"WHATSAPP_ENDPOINTS {label} duplicates the name '{seen_folded[folded]}' "
                    "(names must be unique, ignoring case).",
                    "Give every endpoint a distinct name.",
                    label,
                )
            )
            continue
        try:
            key = parse_key_reference(entry["apiKey"].strip(), environ)
        except KeyReferenceError as exc:
            problems.append(Problem("E008", f"WHATSAPP_ENDPOINTS {label}: {exc}.", FIX_HINT, label))
            continue
        seen_folded[folded] = name
        endpoints[name] = EndpointConfig(name=name, api_url=api_url, api_key=key, provider=provider)
    return endpoints, problems


class EndpointRegistry:
    """The parsed endpoint list. Look-ups are exact and case-sensitive."""

    def __init__(self, raw: str | None, environ: dict[str, str] | None = None):
        self.raw = raw
        self._endpoints, self.problems = parse_endpoints(raw, environ)

    def names(self) -> list[str]:
        return list(self._endpoints)

    def is_valid(self, name: object) -> bool:
        return isinstance(name, str) and name in self._endpoints

    def config(self, name: str) -> EndpointConfig:
        try:
            return self._endpoints[name]
        except (KeyError, TypeError):
            raise EndpointNotFound(name) from None

    def configs(self) -> list[EndpointConfig]:
        return list(self._endpoints.values())

    def metadata(self, name: str) -> EndpointMetadata:
        config = self.config(name)
        return EndpointMetadata(name=config.name, host=config.host, provider=config.provider)

    def all_metadata(self) -> list[EndpointMetadata]:
        return [self.metadata(name) for name in self._endpoints]

    def secret_values(self) -> list[str]:
        """Every resolved key, for the redaction filters."""
        values = []
        for config in self._endpoints.values():
            value = config.api_key.known_value()
            if value:
                values.append(value)
        return values

    def unavailable_reason(self) -> str:
        """Why no endpoint can be picked, in words a superadmin can act on."""
        if self.problems:
            first = self.problems[0]
            return f"{first.message} {first.hint}"
        return "No WhatsApp endpoints are configured. " + FIX_HINT


_lock = threading.Lock()
_cached: EndpointRegistry | None = None

# WHATSAPP_ENDPOINTS_FILE: the same JSON list in a file (e.g. a mounted secret), for operators with
# more endpoints than one environment variable holds (Linux caps one at 128 KiB). It wins over
# WHATSAPP_ENDPOINTS when set, and is re-read when it changes, without a restart.
FILE_ENV_VAR = "WHATSAPP_ENDPOINTS_FILE"
MAX_ENDPOINTS_FILE_BYTES = 32 * 1024 * 1024
# registry() runs on every request that touches a gateway: look at the file at most this often.
FILE_RECHECK_SECONDS = 2.0


class _EndpointsFile:
    """The file's last text, re-read only when its modification time, size or inode change."""

    def __init__(self) -> None:
        self.path: str | None = None
        self.stamp: tuple | None = None
        self.text: str | None = None
        self.error: str | None = None
        self.checked_at = float("-inf")

    def read(self, path: str) -> tuple[str | None, str | None]:
        now = time.monotonic()
        if path == self.path and now - self.checked_at < FILE_RECHECK_SECONDS:
            return self.text, self.error
        try:
            # os.stat follows symlinks: a Kubernetes secret swaps a link when it is updated.
            st = os.stat(path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError as exc:
            stamp, self.text, self.error = None, None, f"cannot be read ({exc.strerror})"
        if stamp is not None and (stamp != self.stamp or path != self.path):
            self.text, self.error = self._load(path)
        self.path, self.stamp, self.checked_at = path, stamp, now
        return self.text, self.error

    @staticmethod
    def _load(path: str) -> tuple[str | None, str | None]:
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_ENDPOINTS_FILE_BYTES + 1)
        except OSError as exc:
            return None, f"cannot be read ({exc.strerror})"
        if len(data) > MAX_ENDPOINTS_FILE_BYTES:
            return None, f"is larger than {MAX_ENDPOINTS_FILE_BYTES // (1024 * 1024)} MiB"
        try:
            return data.decode("utf-8-sig"), None
        except UnicodeDecodeError:
            return None, "is not UTF-8 text"


_endpoints_file = _EndpointsFile()


def _source() -> tuple[tuple, str | None, str | None]:
    """(cache key, endpoint JSON text, why the file could not be used)."""
    path = os.environ.get(FILE_ENV_VAR, "").strip()
    if path:
        text, error = _endpoints_file.read(path)
        return ("file", path, text, error), text, error
    raw = os.environ.get(ENV_VAR)
    return ("env", raw), raw, None


def _registry_for(raw: str | None, error: str | None, path: str) -> EndpointRegistry:
    if error is None:
        return EndpointRegistry(raw)
    built = EndpointRegistry("[]")
    built.raw = raw
    built.problems = [
        Problem(
            "E009",
            f"WHATSAPP_ENDPOINTS_FILE {path!r} {error}.",
            "Point WHATSAPP_ENDPOINTS_FILE at a readable UTF-8 file holding the JSON list "
            "WHATSAPP_ENDPOINTS would hold, or unset it.",
        )
    ]
    return built


def registry() -> EndpointRegistry:
    """The registry for the current WHATSAPP_ENDPOINTS(_FILE) value, re-parsed only on change."""
    global _cached
    key, raw, error = _source()
    current = _cached
    if current is not None and getattr(current, "source_key", None) == key:
        return current
    with _lock:
        if _cached is None or getattr(_cached, "source_key", None) != key:
            fresh = _registry_for(raw, error, key[1] or "")
            fresh.source_key = key
            _cached = fresh
        return _cached
