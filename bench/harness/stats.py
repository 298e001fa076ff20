"""Statistics and verdicts: medians, per-round paired ratios, PASS/MISS against a target."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from .load import LoadResult


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def paired_ratios(product: Sequence[LoadResult], baseline: Sequence[LoadResult]) -> list[float]:
    """Per-round ratios: each product round against the baseline round run just before it,
    which cancels most of the drift in background load on a shared machine."""
    return [p.rps / b.rps for p, b in zip(product, baseline, strict=True)]


def cpu_ratios(product: Sequence[LoadResult], baseline: Sequence[LoadResult]) -> list[float]:
    """Per-round baseline CPU per request / product CPU per request (same sense as the
    throughput ratio: 1.0 = as cheap as the baseline)."""
    return [
        b.cpu_ms_per_request / p.cpu_ms_per_request
        for p, b in zip(product, baseline, strict=True)
        if p.cpu_ms_per_request and b.cpu_ms_per_request
    ]


def ratio_lines(label: str, ratios: Sequence[float], target: float) -> tuple[float, str, str]:
    ratio = median(ratios)
    mark = verdict(ratio, target)
    rounds = ", ".join(f"{r:.2f}" for r in ratios)
    return (
        ratio,
        mark,
        f"  {label}: ratio {ratio:.2f} (per round: {rounds})  target >= {target}  {mark}",
    )


def verdict(ratio: float, target: float, *, higher_is_better: bool = True) -> str:
    ok = ratio >= target if higher_is_better else ratio <= target
    return "PASS" if ok else "MISS"
