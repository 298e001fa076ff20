"""The state file: sessions saved as they change and loaded at start, like a gateway's volume."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import Any

from gateway_simulator.core import DEFAULT, Simulator
from gateway_simulator.state import Message, Session

logger = logging.getLogger(__name__)

FORMAT = 1
SAVE_INTERVAL = 0.3


class StateFile:
    """Saves the simulator's sessions to `path` (atomically) whenever they changed."""

    def __init__(self, path: str | os.PathLike[str], sim: Simulator) -> None:
        self.path = Path(path)
        self.sim = sim
        self._saved = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-state", daemon=True)

    def load(self) -> None:
        """Restore the sessions; those that were running start again (and say so by webhook)."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            # A damaged file must not keep the gateway down: start empty, keep the file aside.
            logger.warning("state file unreadable path=%s error=%s", self.path, exc)
            with contextlib.suppress(OSError):
                self.path.replace(self.path.with_suffix(self.path.suffix + ".broken"))
            return
        if not isinstance(data, dict) or data.get("flavor") != self.sim.flavor.name:
            logger.warning("state file is for another flavor, ignored path=%s", self.path)
            return
        sim = self.sim
        with sim.lock:
            sim.sessions.clear()
            sim.core_pending_config = data.get("core_pending_config")
            for item in data.get("sessions", []):
                session = _session_from(item)
                sim.sessions[session.name] = session
            for item in data.get("sessions", []):
                if item.get("running"):
                    # Back from a restart: a paired phone reconnects without a new scan.
                    sim.boot(sim.sessions[item["name"]])
        self._saved = sim.changes

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self.save()

    def save(self) -> None:
        sim = self.sim
        with sim.lock:
            changes = sim.changes
            if changes == self._saved:
                return
            data = {
                "format": FORMAT,
                "flavor": sim.flavor.name,
                "core_pending_config": sim.core_pending_config,
                "sessions": [_session_json(s) for s in sim.sessions.values()],
            }
            # Serialised under the lock: timers change sessions (acks) while we write.
            text = json.dumps(data)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a crash mid-write leaves the previous file whole.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".sim-state-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(tmp, self.path)
        except OSError as exc:
            logger.warning("state file not saved path=%s error=%s", self.path, exc)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return
        self._saved = changes

    def _run(self) -> None:
        while not self._stop.wait(SAVE_INTERVAL):
            try:
                self.save()
            except Exception:  # never let the saver thread die
                logger.exception("state file save failed path=%s", self.path)


def _session_json(session: Session) -> dict[str, Any]:
    return {
        "name": session.name,
        "config": session.config,
        "running": session.status != "STOPPED",
        "identity": session.identity,
        "messages": [vars(m) for m in session.messages],
        "lids": session.lids,
        "created_at": session.created_at,
        "token": session.token,
        "instance_id": session.instance_id,
    }


def _session_from(item: dict[str, Any]) -> Session:
    session = Session(name=str(item.get("name") or DEFAULT), config=item.get("config"))
    session.identity = item.get("identity")
    session.messages = deque(
        (Message(**m) for m in item.get("messages", [])), maxlen=session.messages.maxlen
    )
    session.lids = dict(item.get("lids") or {})
    session.created_at = float(item.get("created_at") or session.created_at)
    session.token = str(item.get("token") or "")
    session.instance_id = str(item.get("instance_id") or "")
    return session
