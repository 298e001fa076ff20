"""Profiling (--py-spy DIR): py-spy attached to real server processes, and a stack summariser."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from . import PY
from .run import log


class Spy:
    """`py-spy record` attached to a running process (and its children) until stop()."""

    def __init__(self, pid: int, out: Path, *, idle: bool, rate: int = 100) -> None:
        exe = Path(PY).with_name("py-spy")
        if not exe.exists():
            raise SystemExit("--py-spy needs py-spy: .venv/bin/pip install py-spy")
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        argv = [str(exe), "record", "--pid", str(pid), "--subprocesses", "--format", "raw"]
        argv += ["--rate", str(rate), "--output", str(out), "--nonblocking"]
        if idle:
            argv.append("--idle")
        self._log = out.with_suffix(".spy.log").open("wb")
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)
        time.sleep(0.5)  # let it attach before the measured work starts
        log(f"py-spy attached to pid {pid} (figures measured now are perturbed by sampling)")

    def stop(self) -> Path:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.out


def read_stacks(path: Path) -> list[tuple[list[str], int]]:
    """py-spy's raw (collapsed) format: `frame;frame;... count` per line."""
    stacks = []
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks.append((stack.split(";"), int(count)))
    return stacks


def summarise(
    paths: Path | Sequence[Path],
    rules: Sequence[tuple[str, str | tuple[str, ...]]],
    *,
    only: str = "",
    idle: Sequence[str] = (),
    cross: Sequence[tuple[str, str]] = (),
    other: str = "other",
    top: int = 12,
) -> list[str]:
    """Where the samples went. Each stack goes to the first rule whose text (or every text of
    a tuple) occurs in it;
    stacks matching an `idle` text (a worker waiting for work) are left out of the shares;
    `cross` rules are counted independently (e.g. "waiting on PostgreSQL" inside any step);
    with `only`, stacks without that text (other processes or threads) are ignored."""
    paths = [paths] if isinstance(paths, Path) else list(paths)
    name = ", ".join(p.name for p in paths)
    stacks = [(f, n) for p in paths for f, n in read_stacks(p) if only in ";".join(f)]
    busy = [(f, n) for f, n in stacks if not any(t in ";".join(f) for t in idle)]
    total = sum(n for _, n in busy)
    idle_n = sum(n for _, n in stacks) - total
    if not total:
        return [f"no samples in {name}"]
    buckets: dict[str, int] = {label: 0 for label, _ in rules}
    buckets[other] = 0
    crossed: dict[str, int] = {label: 0 for label, _ in cross}
    leaves: dict[str, int] = {}
    for frames, n in busy:
        text = ";".join(frames)
        for label, needle in rules:
            needles = (needle,) if isinstance(needle, str) else needle
            if all(part in text for part in needles):
                buckets[label] += n
                break
        else:
            buckets[other] += n
        for label, needle in cross:
            if needle in text:
                crossed[label] += n
        leaves[frames[-1]] = leaves.get(frames[-1], 0) + n
    lines = [f"py-spy {name}: {total} busy samples" + (f" (+{idle_n} idle)" if idle else "")]
    lines += [f"  {n / total:6.1%}  {label}" for label, n in buckets.items() if n]
    lines += [f"  {n / total:6.1%}  (across all steps) {label}" for label, n in crossed.items()]
    lines.append("  busiest leaf frames:")
    for frame, n in sorted(leaves.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {n / total:6.1%}  {frame[:110]}")
    return lines
