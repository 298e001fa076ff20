"""Self-contained HTML pages of the simulator: index, a phone's "Link a device" screen, contacts."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from gateway_simulator.state import Message

DEFAULT_CONTACT = "6281100000001"

_CSS = """
* { box-sizing:border-box }
body {
  margin:0; font:15px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;
  background:#e9edef; color:#111b21;
}
a { color:#008069 }
main { max-width:760px; margin:24px auto; padding:0 16px }
table { border-collapse:collapse; width:100%; background:#fff }
td,th { padding:8px; border-bottom:1px solid #ddd; text-align:left }
.phone {
  width:360px; min-height:640px; margin:24px auto; background:#fff; border:10px solid #222;
  border-radius:36px; overflow:hidden; box-shadow:0 8px 30px rgba(0,0,0,.25);
}
.bar { background:#008069; color:#fff; padding:18px 20px; font-weight:600; font-size:18px }
.screen { padding:24px 22px; text-align:center }
.scan {
  width:180px; height:180px; margin:18px auto; border:4px solid #25d366; border-radius:16px;
  background:repeating-linear-gradient(45deg,#f0f2f5 0 10px,#fff 10px 20px);
}
button,.btn {
  background:#008069; color:#fff; border:0; border-radius:24px; padding:12px 28px;
  font-size:16px; cursor:pointer; text-decoration:none;
}
.muted { color:#667781; font-size:13px }
.ok { color:#008069; font-size:48px }
.bad { color:#d9534f; font-size:48px }
form.send { background:#fff; padding:16px; border-radius:8px; display:grid; gap:8px }
input,textarea {
  width:100%; padding:8px; border:1px solid #ccc; border-radius:6px; font:inherit;
}
.log { background:#efeae2; padding:12px; border-radius:8px; margin-top:16px; min-height:80px }
.msg {
  max-width:75%; margin:6px 0; padding:6px 10px; border-radius:8px; background:#fff;
  clear:both;
}
.out { float:right; background:#d9fdd3 }
.in { float:left }
.clear { clear:both }
.tick { color:#667781 }
.read { color:#53bdeb }
.status {
  display:inline-block; padding:2px 8px; border-radius:10px; background:#f0f2f5;
  font-size:12px;
}
"""


def layout(title: str, body: str, *, refresh: int | None = None, script: str = "") -> str:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    tail = f"<script>{script}</script>" if script else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"{meta}<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{body}{tail}</body></html>"
    )


def index_page(snapshot: dict[str, Any]) -> str:
    rows = []
    for session in snapshot["sessions"]:
        name = session["name"]
        qr = session["qr"]["value"]
        phone = f'<a href="{escape(qr)}">open phone (scan)</a>' if qr else "-"
        me = session["me"]["id"] if session["me"] else ""
        rows.append(
            f"<tr><td>{escape(name)}</td><td><span class=status>{escape(session['status'])}</span>"
            f"</td><td>{escape(me)}</td><td>{phone}</td>"
            f'<td><a href="/contacts/{quote(name)}">contacts</a></td></tr>'
        )
    table = "".join(rows) or "<tr><td colspan=5 class=muted>No sessions yet.</td></tr>"
    flavor = escape(str(snapshot.get("flavor", "")))
    body = (
        f"<main><h1>Gateway simulator <span class=status>{flavor}</span></h1>"
        "<p class=muted>Sessions created through the API appear here. A session waiting for a scan "
        "links to its phone page; contacts pages send inbound messages.</p>"
        "<table><tr><th>Session</th><th>Status</th><th>Phone</th><th>Pair</th><th>Chat</th></tr>"
        f"{table}</table>"
        '<p class=muted><a href="/_sim/state">state (JSON)</a> · '
        '<a href="/_sim/webhooks">webhook deliveries (JSON)</a></p></main>'
    )
    return layout(f"Gateway simulator ({flavor})", body, refresh=3)


def _phone(title: str, inner: str) -> str:
    return layout(
        title,
        f"<div class=phone><div class=bar>WhatsApp</div><div class=screen>{inner}</div></div>",
    )


def phone_link_page(session: str, code: str) -> str:
    inner = (
        "<h2>Link a device</h2><div class=scan></div>"
        f"<p>Link this phone to <b>{escape(session)}</b>?</p>"
        f'<form method="post" action="/phone/{quote(session)}?code={quote(code)}">'
        f'<input type="hidden" name="code" value="{escape(code)}">'
        '<button type="submit" id="link">Link device</button></form>'
        "<p class=muted>Simulated phone: pressing the button is like scanning the QR code.</p>"
    )
    return _phone("Link a device", inner)


def phone_code_page(session: str) -> str:
    inner = (
        "<h2>Link with phone number</h2>"
        f"<p>Enter the code shown for <b>{escape(session)}</b>.</p>"
        f'<form method="post" action="/phone/{quote(session)}/code">'
        '<input name="code" placeholder="ABCD-EFGH" autocomplete="off" required> '
        '<button type="submit" id="link">Link device</button></form>'
        "<p class=muted>Simulated phone: typing the code is like WhatsApp's "
        "\u201cLink with phone number instead\u201d.</p>"
    )
    return _phone("Link with phone number", inner)


def phone_paired_page(session: str, me: str) -> str:
    inner = (
        "<div class=ok>&#10003;</div><h2>Device linked</h2>"
        f"<p><b>{escape(session)}</b> is now linked to {escape(me)}.</p>"
        f'<p><a class=btn href="/contacts/{quote(session)}">Chat as a contact</a></p>'
    )
    return _phone("Device linked", inner)


def phone_already_page(session: str) -> str:
    inner = (
        "<div class=ok>&#10003;</div><h2>Already linked</h2>"
        f"<p><b>{escape(session)}</b> is already linked to a phone.</p>"
    )
    return _phone("Already linked", inner)


def phone_expired_page(session: str) -> str:
    inner = (
        "<div class=bad>&#8635;</div><h2>This QR code has expired, scan the new one</h2>"
        f"<p class=muted>Session <b>{escape(session)}</b> shows a fresh QR code when it is still "
        "waiting for a phone.</p>"
    )
    return _phone("QR code expired", inner)


def phone_no_code_page(session: str) -> str:
    inner = (
        "<h2>Scan a QR code</h2>"
        f"<p>Open this page by scanning the QR code shown for <b>{escape(session)}</b>.</p>"
    )
    return _phone("Scan a QR code", inner)


def not_found_page(what: str) -> str:
    return layout(
        "Not found",
        f'<main><h1>Not found</h1><p>{escape(what)}</p><p><a href="/">All sessions</a></p></main>',
    )


def _ticks(message: Message) -> str:
    if message.ack >= 3:
        return '<span class="tick read">&#10003;&#10003;</span>'
    if message.ack == 2:
        return "<span class=tick>&#10003;&#10003;</span>"
    if message.ack == 1:
        return "<span class=tick>&#10003;</span>"
    return "<span class=tick>&#128339;</span>"


def message_log(messages: list[Message]) -> str:
    if not messages:
        return "<p class=muted>No messages yet.</p>"
    items = []
    # Newest first: the latest exchange stays visible without scrolling.
    for message in reversed(messages):
        if message.from_me:
            items.append(
                f'<div class="msg out"><div class=muted>to {escape(message.chat)}</div>'
                f"{escape(message.body)} {_ticks(message)}</div>"
            )
        else:
            items.append(
                f'<div class="msg in"><div class=muted>{escape(message.push_name)} · '
                f"{escape(message.chat)}</div>{escape(message.body)}</div>"
            )
    return "".join(items) + "<div class=clear></div>"


def contacts_page(
    session: str,
    status: str,
    messages: list[Message],
    *,
    notice: str = "",
    form: dict[str, str] | None = None,
) -> str:
    form = form or {}
    sender = escape(form.get("from") or DEFAULT_CONTACT)
    name = escape(form.get("name") or "")
    warning = (
        ""
        if status == "WORKING"
        else f"<p class=bad style='font-size:15px'>The session is {escape(status)}: link a phone "
        "first, a gateway receives messages only while WORKING.</p>"
    )
    action = f"/contacts/{quote(session)}"
    body = (
        f"<main><h1>Contacts of {escape(session)}</h1>"
        f"<p>Session status: <span class=status>{escape(status)}</span> · "
        '<a href="/">all sessions</a></p>'
        f"{warning}<p>{escape(notice)}</p>"
        f'<form class=send method="post" action="{action}">'
        f'<label>From number <input name="from" value="{sender}"></label>'
        f'<label>Contact name <input name="name" value="{name}" placeholder="Budi"></label>'
        '<label>Message <textarea name="text" rows="3" required></textarea></label>'
        '<label><input type="checkbox" name="lid" value="1" style="width:auto"> '
        "send as a hidden sender (@lid)</label>"
        "<button type=submit>Send to the business</button></form>"
        f"<h2>Conversation</h2><div class=log id=log>{message_log(messages)}</div></main>"
    )
    # Refresh only the log so a half-typed message survives; no external assets.
    script = (
        "setInterval(function(){fetch(location.pathname+'?fragment=log')"
        ".then(function(r){return r.text()})"
        ".then(function(t){document.getElementById('log').innerHTML=t})},2000);"
    )
    return layout(f"Contacts · {session}", body, script=script)
