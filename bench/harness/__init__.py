"""Shared plumbing for the benchmarks, one module per concern (layout in bench/README.md).

Every benchmark creates what it needs, measures, prints raw figures and a verdict, and tears
everything down again (processes it started, the database it created), even on Ctrl-C.

    run        common flags, log lines, the run's log directory, host line, JSON output
    db         a throwaway PostgreSQL database
    project    the product under test: its environment, migrate, in-process Django for seeding
    processes  child processes in their own group, gunicorn
    cpu        CPU seconds of gunicorn workers and their PostgreSQL backends
    load       the HTTP load generator and its results
    stats      medians, paired ratios, verdicts
    pyspy      py-spy recording and the stack summariser
    inprocess  in-process WSGI calls and per-step timings for the --breakdown tables
    web        the product vs bench/baseline_app under gunicorn, shared by the web benchmarks
    outbound   the send benchmarks' simulator and database, db_worker drain, sendText baseline
    sim_farm   a helper process running many gateway simulators (health_sweep.py)
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PY = sys.executable


def _sigterm(signum, frame):
    # A `kill` of the benchmark tears down like Ctrl-C does (the finally blocks run).
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _sigterm)
