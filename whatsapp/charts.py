"""Server-side SVG charts (pygal) for the Operations page: no JavaScript, no CDN, fine under CSP."""

from __future__ import annotations

import re

import pygal
from django.utils import timezone
from pygal.style import Style

from whatsapp.selectors_operations import Chart

# The product's palette (static/css/app.css), distinguishable without colour too: each series
# also has its own dash pattern, and the table below every chart carries the numbers.
COLORS = ("#128c7e", "#b42318", "#8a5a00", "#3056d3", "#6941c6", "#475467")
DASHES = ("", "8,4", "2,3", "12,3,2,3", "4,4", "1,2")

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)

SIZES = {
    # wide: desktop cards; narrow: phones (390 px), drawn with larger type for the smaller scale
    "wide": {"width": 640, "height": 340, "font": 16, "labels_every": 6},
    "narrow": {"width": 400, "height": 360, "font": 19, "labels_every": 12},
}


def _style(font: int) -> Style:
    return Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#1d2330",
        foreground_strong="#1d2330",
        foreground_subtle="#667085",
        font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        label_font_size=font,
        major_label_font_size=font,
        legend_font_size=font + 1,
        value_font_size=font,
        tooltip_font_size=font,
        colors=COLORS,
        opacity="1",
        opacity_hover="1",
    )


def _label(bucket, *, multi_day: bool) -> str:
    local = timezone.localtime(bucket)
    return local.strftime("%d %b %H:00" if multi_day else "%H:00")


def chart_svg(chart: Chart, *, size: str = "wide") -> str:
    """The chart as a standalone SVG document (served as an image, so no script ever runs)."""
    spec = SIZES.get(size, SIZES["wide"])
    multi_day = len(chart.buckets) > 25
    every = spec["labels_every"] * (4 if multi_day else 1)
    line = pygal.Line(
        width=spec["width"],
        height=spec["height"],
        style=_style(spec["font"]),
        js=[],  # no tooltips script: an <img> would not run it, and CSP forbids inline scripts
        explicit_size=False,
        legend_at_bottom=True,
        legend_at_bottom_columns=min(3, max(1, len(chart.series))),
        show_dots=len(chart.buckets) <= 25,
        dots_size=2.5,
        stroke_style={"width": 2.5},
        x_label_rotation=0,
        show_minor_x_labels=False,
        truncate_legend=24,
        truncate_label=-1,
        y_title=chart.unit,
        include_x_axis=True,
        margin=8,
        margin_right=32,  # room for the last hour label, which pygal centres on the edge
        no_data_text="No data yet",
        allow_interruptions=True,
        disable_xml_declaration=False,
    )
    line.x_labels = [_label(b, multi_day=multi_day) for b in chart.buckets]
    line.x_labels_major = line.x_labels[::every]
    for index, series in enumerate(chart.series):
        line.add(
            series.label,
            series.values,
            stroke_style={"width": 2.5, "dasharray": DASHES[index % len(DASHES)]},
        )
    # pygal still writes its config as an inline <script> (for tooltips we do not load): drop it,
    # so the image carries no script at all.
    return _SCRIPT.sub("", line.render(is_unicode=True))
