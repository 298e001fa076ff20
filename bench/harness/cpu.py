"""CPU metering: the CPU seconds an app's gunicorn workers AND its PostgreSQL backends used."""

# Throughput on a shared 2-core machine swings with the neighbours' load; CPU spent per request
# barely does, so it is reported next to the throughput as a steadier view of the same cost.

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .processes import Proc

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class CpuMeter:
    """CPU seconds used by a gunicorn master's workers and by the PostgreSQL backends whose
    application_name is `app` (set with db.app_database_url)."""

    def __init__(self, master: Proc, database_url: str, app: str) -> None:
        import psycopg

        self.master = master
        self.app = app
        self.conn = psycopg.connect(database_url, autocommit=True)

    def _backends(self) -> list[int]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [self.app]
        ).fetchall()
        return [pid for (pid,) in rows]

    def sample(self) -> dict[int, float]:
        pids = _children(self.master.pid) + self._backends()
        return {pid: _proc_cpu(pid) for pid in pids}

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        # A process that appeared during the interval counts from zero.
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
