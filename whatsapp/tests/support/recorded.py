"""Read the real gateways' recorded answers (gateways-recorded/) for replay with `responses`."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# A copy of ../shared/gateways-recorded, so the tests run wherever the repository is checked out.
RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "gateways-recorded"
WAHA_CORE = RECORDED / "waha-core-2024.10.8"
EVOLUTION = RECORDED / "evolution-2.3.6"


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    query: str
    status: int
    headers: dict[str, str]
    body: bytes
    request_body: str = ""


def _http_answer(raw: str) -> tuple[int, dict[str, str], str]:
    head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
    lines = head.strip("\n").split("\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return status, headers, body


def read_exchange(path: Path) -> Exchange:
    """One `responses/*.txt`: request line, headers, `----` (WAHA) or `--- response headers`
    and `--- response body` (Evolution), then the raw HTTP answer."""
    text = path.read_text()
    request_line = text.split("\n", 1)[0]
    method, target = request_line.removeprefix("REQUEST: ").split(" ", 1)
    url = urlsplit(target)
    if "\n----\n" in text:
        status, headers, body = _http_answer(text.split("\n----\n", 1)[1])
        body = body.rstrip("\n")
    else:
        answer = text.split("--- response headers\n", 1)[1]
        raw_head, _, _ = answer.partition("--- response body\n")
        status, headers, _ = _http_answer(raw_head + "\n\n")
        body_file = path.with_suffix(".body")
        body = (
            body_file.read_text()
            if body_file.exists()
            else answer.split("--- response body\n", 1)[1]
        )
    headers.pop("Content-Length", None)
    headers.pop("Transfer-Encoding", None)
    sent = next((line[6:] for line in text.split("\n") if line.startswith("BODY: ")), "")
    return Exchange(method, url.path, url.query, status, headers, body.encode(), sent)


_TIMELINE = re.compile(r"^\s*[\d.]+\s+(\{.*\})(?:\s+(\d{3}))?\s*$")


def read_timeline(path: Path) -> list[tuple[int, bytes]]:
    """d01/d02: '<seconds> <json body> [status]' per polled connectionState answer."""
    answers = []
    for line in path.read_text().splitlines():
        match = _TIMELINE.match(line)
        if match:
            answers.append((int(match.group(2) or 200), match.group(1).encode()))
    return answers


def response_files(provider_dir: Path) -> list[Path]:
    return sorted((provider_dir / "responses").glob("*.txt"))


@dataclass(frozen=True)
class Delivery:
    path: Path
    headers: dict[str, str]
    body: bytes


def deliveries(provider_dir: Path) -> list[Delivery]:
    found = []
    for path in sorted((provider_dir / "webhooks").rglob("*.json")):
        data = json.loads(path.read_text())
        found.append(Delivery(path, data["headers"], base64.b64decode(data["body_b64"])))
    return found
