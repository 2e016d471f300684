"""The charts' shared parts (Vega-Lite via Altair): the level colours, the day and week axes,
and the kinds of chart several panels draw. A chart is a Vega-Lite spec as a dict; each
panel's own chart function (in panels.py) builds on these.

Altair is imported inside the functions: importing it costs about a second, which `--json`
does not need.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from .numbers import Row

Spec = dict[str, Any]

LEVELS = ["free", "paid", "all"]  # one colour per level on every chart
LEVEL_COLOURS = ["#3465a4", "#f57900", "#888a85"]
DENSE = 62  # points in a line above which its markers would hide the line: drawn faint and small


def level_colour(field: str = "level", *, with_all: bool = False) -> Any:
    """The same colour for a level on every chart; "all" only where a chart has that row (in
    the domain of the others, it would be a legend entry with no mark)."""
    import altair as alt

    shown = len(LEVELS) if with_all else 2
    return alt.Color(f"{field}:N", title="level",
                     scale=alt.Scale(domain=LEVELS[:shown], range=LEVEL_COLOURS[:shown]))


def points(count: int) -> Any:
    """A line's point markers: plain on a short series; on a long one faint and small, so the
    line stays readable at a year of days and every day still has its tooltip."""
    return True if count <= DENSE else {"filled": True, "size": 12, "opacity": 0.25}


def utc_date(field: str, title: str, days: int = 0) -> Any:
    """A day axis: "Nov 04" over a few months, "Nov 2018" over longer (its ticks are months)."""
    import altair as alt

    long = days > 3 * 31
    return alt.X(f"{field}:T", timeUnit="utcyearmonthdate", title=title,
                 axis=alt.Axis(format="%b %Y" if long else "%b %d", tickCount="month" if long else alt.Undefined,
                               labelOverlap=True))


def date_tip(field: str, title: str = "day") -> Any:
    import altair as alt

    return alt.Tooltip(f"{field}:T", timeUnit="utcyearmonthdate", title=title)


def week_axis(weeks: int) -> Any:
    """A week axis: level labels for a few weeks; slanted, and thinned where they would overlap,
    for months of them."""
    import altair as alt

    return alt.Axis(labelAngle=0) if weeks <= 12 else alt.Axis(labelAngle=-60, labelOverlap=True)


def week_label(iso_day: str) -> str:
    """'2018-10-29' as 'Oct 29': short enough for a week axis."""
    return dt.date.fromisoformat(iso_day).strftime("%b %d")


def values(rows: Iterable[Row]) -> Any:
    import altair as alt

    return alt.Data(values=list(rows))


def finish(chart: Any, width: int = 380, height: int = 220) -> Spec:
    # Altair's JSON-schema validation costs seconds per page; the browser tests draw every chart
    # and fail on any Vega error, which is the check that matters.
    chart = chart.properties(width=width, height=height).configure_view(stroke=None)
    spec: Spec = chart.to_dict(validate=False)
    return spec


def series_chart(history: list[Row], forecast_points: list[Row], y_title: str, width: int | None = None) -> Spec:
    """A daily series as a line, and its forecast as a dashed line inside 80% and 95% bands.
    A long series gets a wider chart, so that the forecast's days keep some room."""
    import altair as alt

    width = width or (440 if len(history) <= DENSE else 560)
    x = utc_date("date", "day (UTC)", len(history) + len(forecast_points))
    complete = [h for h in history if not h.get("partial")]
    partial = [h for h in history if h.get("partial")]
    y = alt.Y("value:Q", title=y_title, axis=alt.Axis(format=",~f"))
    actual = alt.Chart(values(complete)).mark_line(point=points(len(history)), color="#3465a4").encode(
        x=x, y=y, tooltip=[date_tip("date"), alt.Tooltip("value:Q", title=y_title, format=",~f")])
    marked = []
    if partial:  # the latest day, still arriving: a dotted grey step to a hollow marker
        step = [*complete[-1:], *partial]
        tips = [date_tip("date"), alt.Tooltip("value:Q", title=f"{y_title} so far", format=",~f"),
                alt.Tooltip("note:N", title="note")]
        shown = [{**h, "note": "partial day: its data is still arriving"} for h in partial]
        marked = [alt.Chart(values(step)).mark_line(strokeDash=[2, 3], color="#888a85").encode(
                      x=x, y=y, tooltip=[date_tip("date"), alt.Tooltip("value:Q", title=y_title, format=",~f")]),
                  alt.Chart(values(shown)).mark_point(filled=False, size=70, color="#888a85", strokeWidth=2)
                  .encode(x=x, y=y, tooltip=tips)]
    layers = []
    if forecast_points:
        points_ = [{"date": p["date"], "value": p["value"], "lo80": p.get("lo80"), "hi80": p.get("hi80"),
                    "lo95": p.get("lo95"), "hi95": p.get("hi95")} for p in forecast_points]
        tips = [date_tip("date"), alt.Tooltip("value:Q", title="forecast", format=",.0f"),
                *[alt.Tooltip(f"{bound}:Q", title=title, format=",.0f")
                  for bound, title in (("lo80", "80% from"), ("hi80", "80% to"), ("lo95", "95% from"),
                                       ("hi95", "95% to"))]]
        base = alt.Chart(values(points_))
        layers = [
            base.mark_area(opacity=0.15, color="#f57900").encode(x=x, y="lo95:Q", y2="hi95:Q", tooltip=tips),
            base.mark_area(opacity=0.3, color="#f57900").encode(x=x, y="lo80:Q", y2="hi80:Q", tooltip=tips),
            base.mark_line(strokeDash=[4, 3], color="#ce5c00", point=points(len(points_))).encode(
                x=x, y="value:Q", tooltip=tips),
        ]
    return finish(alt.layer(*layers, actual, *marked), width)


def multi_line(rows: list[Row], x_field: str, x_title: str, y_title: str, series_title: str,
               y_format: str = ",~f", width: int = 400, colours: dict[str, str] | None = None) -> Spec:
    """Rows of {x_field, series, value} as one line per series (colours: series -> colour)."""
    import altair as alt

    scale = alt.Scale(domain=list(colours), range=list(colours.values())) if colours else alt.Undefined
    days = len({r[x_field] for r in rows})
    chart = alt.Chart(values(rows)).mark_line(point=points(days)).encode(
        x=utc_date(x_field, x_title, days), y=alt.Y("value:Q", title=y_title, axis=alt.Axis(format=y_format)),
        color=alt.Color("series:N", title=series_title, scale=scale, legend=alt.Legend(symbolOpacity=1)),
        tooltip=[date_tip(x_field, x_title), alt.Tooltip("series:N", title=series_title),
                 alt.Tooltip("value:Q", title=y_title, format=y_format)])
    return finish(chart, width)


def bars(rows: list[Row], category: str, category_title: str, value: str, value_title: str,
         horizontal: bool = True, sort: Any = "-x", extra_tips: Iterable[tuple[str, str]] = (),
         width: int = 380, height: int | None = None, value_format: str = ",~f") -> Spec:
    import altair as alt

    tips = [alt.Tooltip(f"{category}:N", title=category_title),
            alt.Tooltip(f"{value}:Q", title=value_title, format=value_format),
            *[alt.Tooltip(f"{f}:Q", title=t, format=",~f") for f, t in extra_tips]]
    cat = alt.Y if horizontal else alt.X
    val = alt.X if horizontal else alt.Y
    chart = alt.Chart(values(rows)).mark_bar(color="#3465a4").encode(
        **{"y" if horizontal else "x": cat(f"{category}:N", title=category_title, sort=sort,
                                          axis=alt.Axis(labelAngle=0 if horizontal else -40)),
           "x" if horizontal else "y": val(f"{value}:Q", title=value_title,
                                          axis=alt.Axis(format=value_format, tickMinStep=1))},
        tooltip=tips)
    return finish(chart, width, height or (max(120, 22 * len(rows)) if horizontal else 220))
