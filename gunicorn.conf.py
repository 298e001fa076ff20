"""gunicorn settings read from the working directory: shared Prometheus metrics across workers."""

from __future__ import annotations

import os
import shutil
import tempfile

_created_dir: str | None = None


def on_starting(server) -> None:
    # Workers are forked from this process, so a directory chosen here is the one they all share
    # (and the one /metrics, answered by any worker, reads). A directory the caller chose (e.g.
    # shared with db_worker and the scheduler by scripts/run_demo.sh) is used as it is.
    global _created_dir
    # A directory some other process made up for itself (settings mark those) is not ours.
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.pop(
        "BOOQING_METRICS_DIR_OWNER", None
    ):
        _created_dir = tempfile.mkdtemp(prefix="booqing-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_dir
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def child_exit(server, worker) -> None:
    # A replaced worker's counters stay counted; only its live gauges (none today) are dropped.
    # Imported here, not at the top: imported in the master before on_starting, prometheus_client
    # would fix its storage before the directory is set, and every forked worker would inherit it.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if _created_dir:
        shutil.rmtree(_created_dir, ignore_errors=True)
