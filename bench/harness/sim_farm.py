"""A helper process running many WAHA simulators (one thread and port each) for health_sweep.py.

    python bench/harness/sim_farm.py --count 40 --latency-ms 200   (API key in WAHA_API_KEY)

Prints one JSON line {"urls": [...]} when all are listening, then answers commands on stdin,
one per line: `counts` prints {"calls": {path: n}} (requests received so far, all simulators),
`quit` (or end of input) stops them all. Running them in their own process keeps their request
threads from competing with the measured sweep for the benchmark process's GIL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gateway_simulator import server
from gateway_simulator.testing import start_simulator_thread

_lock = threading.Lock()
_calls: Counter[str] = Counter()


def _count_requests() -> None:
    original = server.Handler._handle

    def counting(handler, req):
        with _lock:
            _calls[req.path] += 1
        return original(handler, req)

    server.Handler._handle = counting


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    _count_requests()
    sims = [
        start_simulator_thread(
            api_key=os.environ["WAHA_API_KEY"],
            latency_ms=args.latency_ms,
            ack_delays=[],
            webhooks_enabled=False,
        )
        for _ in range(args.count)
    ]
    print(json.dumps({"urls": [sim.url for sim in sims]}), flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "counts":
                with _lock:
                    print(json.dumps({"calls": dict(_calls)}), flush=True)
            elif command == "quit":
                break
    finally:
        for sim in sims:
            sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
