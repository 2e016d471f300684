"""The dashboard's panels, in reading order. Each panel is one unit: its key (in --json and the
page), its title, the line saying what it counts, its numbers (from its SQL in sql_queries,
section 8), its charts, and its template. Adding a panel: its SQL, its functions and a Panel
here, its template in templates/, and its place in PANELS.

Half-width panels come in pairs in PANELS, so the page's grid has no holes. A panel's numbers
are what --json prints under its key; its chart and view functions read the whole document
(a chart may draw another panel's numbers), and only when the page shows them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import sql_queries as sql
from sparkify_dwh import session, trends

from .charts import (
    LEVEL_COLOURS,
    LEVELS,
    Spec,
    bars,
    date_tip,
    finish,
    level_colour,
    multi_line,
    series_chart,
    utc_date,
    values,
    week_axis,
    week_label,
)
from .numbers import AFTER, APART, MAIN, TOP, Inputs, Listeners, Period, Row, change, fetch, plain, ratio
from .text import SERIES_NAMES, model_name, moment, p_value_text, percent, show

FORECAST_MIN_DAYS = trends.needed_days(14)  # trends.py's default horizon: 28 days to train, 14 ahead, 7 origins
FORECAST_HISTORY = 56  # days of history the Forecast panel's chart shows before its forecast
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
SESSION_MINUTES = [0, 5, 15, 30, 60, 120, 240]  # REPORT_SESSION_LENGTHS' buckets (lower bounds)
SESSION_SONGS = [0, 1, 2, 5, 10, 20, 50, 100]  # REPORT_SESSION_SONGS' buckets (lower bounds)
ACTIONS = ["thumbs_up", "thumbs_down", "add_to_playlist", "add_friend", "adverts"]

Numbers = dict[str, Any]  # the whole --json document


@dataclasses.dataclass(frozen=True)
class Panel:
    """One panel of the page."""

    key: str  # under this key in --json; its section is #panel-KEY
    title: str
    definition: str  # the line under the title: what the panel counts (its template may add to it)
    numbers: Callable[[Inputs], Any]  # its numbers, as --json prints them
    template: str  # its HTML, a template in templates/ extending panel.html.j2
    chart: Callable[[Numbers], list[Spec]] | None = None  # its charts, drawn when its template asks
    view: Callable[[Any], dict[str, Any]] | None = None  # its numbers shaped for its template (as `v`)
    wide: bool = False  # the page's whole width, else half of it
    stage: str = MAIN  # where its numbers are computed: MAIN, APART or AFTER (see numbers.py)


# --------------------------------------------------------------------------- complete days


def last_day(inputs: Inputs) -> dt.date:
    """The latest day of data: partial until a later day's data is loaded (its events stop at the
    last one loaded so far)."""
    return dt.date.fromisoformat(inputs.data["last_day"])


def dau_day(inputs: Inputs, period: Period) -> dt.date:
    """The day the DAU card counts: the period's last complete day (the period's last day, or the
    day before it when that is the partial latest day of data)."""
    return min(period.date_to, last_day(inputs) - dt.timedelta(days=1))


def week_is_partial(inputs: Inputs, monday: dt.date) -> bool:
    """Whether an ISO week has days outside the period's complete days: its first week when the
    period (or the data) starts after a Monday, its last when it ends before a Sunday or on the
    partial latest day."""
    first = max(inputs.period.date_from, dt.date.fromisoformat(inputs.data["first_day"]))
    last = min(inputs.period.date_to, last_day(inputs) - dt.timedelta(days=1))
    return monday < first or monday + dt.timedelta(days=6) > last


# --------------------------------------------------------------------------- Key figures


def kpi_values(inputs: Inputs, period: Period) -> Row:
    """The KPIs of one period, from its users (report_period_users, made again for it)."""
    params = period.params(dau_day=dau_day(inputs, period))
    session.execute(inputs.cur, sql.REPORT_PERIOD_USERS_DROP)
    session.execute(inputs.cur, sql.REPORT_PERIOD_USERS, params)
    (row,) = fetch(inputs.cur, sql.REPORT_KPIS, params)
    row["paid_share"] = ratio(row["paid_users"], row["active_users"])
    row["dau_day"] = params["dau_day"].isoformat()
    return row


def kpis(inputs: Inputs) -> dict[str, Any]:
    """The headline numbers, each against the period of the same length before (when the data
    covers all of it: a part-covered period would show a fall that is only missing data)."""
    before_period = inputs.period.previous()
    covered = before_period.date_from >= dt.date.fromisoformat(inputs.data["first_day"])
    before = kpi_values(inputs, before_period) if covered else {}
    now = kpi_values(inputs, inputs.period)  # last: the churn and demographics panels read its users
    names = ["plays", "dau", "wau", "mau", "paid_share", "new_users", "churned_users"]
    result: dict[str, Any] = {name: change(now[name], before.get(name)) for name in names}
    result["dau"]["day"] = now["dau_day"]  # the last complete day: the latest day of data is partial
    result["dau"]["previous_day"] = before.get("dau_day")
    result["active_users"] = now["active_users"]
    result["previous_period"] = {**before_period.as_json(), "in_data": covered}
    return result


KPI_CARDS = [("plays", "Plays", ","), ("dau", "DAU", ","), ("wau", "WAU (last 7 days)", ","),
             ("mau", "MAU (last 28 days)", ","), ("paid_share", "Paid share of active users", "%"),
             ("new_users", "New users", ","), ("churned_users", "Churned users", ",")]


def kpi_cards(k: dict[str, Any]) -> dict[str, Any]:
    cards = []
    for key, title, kind in KPI_CARDS:
        item = k[key]
        if item["change"] is None:
            delta = "no earlier period of this length in the data"
        elif kind == "%":
            delta = f"{100 * item['change']:+.1f} points vs {percent(item['previous'])}"
        else:
            pct = f" ({item['change_pct']:+.1f}%)" if item["change_pct"] is not None else ""
            delta = f"{item['change']:+,}{pct} vs {item['previous']:,}"
        if key == "dau":
            title = f"DAU on {item['day']} (last complete day)"
        cards.append({"title": title, "value": percent(item["value"]) if kind == "%" else show(item["value"]),
                      "delta": delta})
    return {"cards": cards}


KPIS = Panel("kpis", "Key figures", "Plays; DAU = users with any event on the last complete day (the latest day "
             "of data is partial); WAU and MAU = users with any event in the 7 and 28 days to the period's end; "
             "paid share = active users whose last active day was paid; new users = users whose registration "
             "falls in the period (their first event where it is missing); churned = users reaching Cancellation "
             "Confirmation. Each against the period of the same length before.", kpis, "kpis.html.j2",
             view=kpi_cards, wide=True)


# --------------------------------------------------------------------------- Daily activity


def forecast_rows(trends: dict[str, Any] | None, series: str) -> list[Row]:
    return list(((trends or {}).get("forecast") or {}).get(series) or [])


def daily(inputs: Inputs) -> dict[str, Any]:
    latest = last_day(inputs).isoformat()
    return {"days": [{**{k: d[k] for k in ("activity_date", "plays", "active_users")},
                      "partial": d["activity_date"] == latest} for d in inputs.days],
            "forecast": {"plays": forecast_rows(inputs.trends, "plays"),
                         "active_users": forecast_rows(inputs.trends, "active_users")}}


def daily_charts(n: Numbers) -> list[Spec]:
    days, fc = n["daily"]["days"], n["daily"]["forecast"]
    return [
        series_chart([{"date": d["activity_date"], "value": d["plays"], "partial": d["partial"]} for d in days],
                     fc["plays"], "plays"),
        series_chart([{"date": d["activity_date"], "value": d["active_users"], "partial": d["partial"]}
                      for d in days], fc["active_users"], "active users"),
    ]


DAILY = Panel("daily", "Daily activity", "Plays (NextSong events) and active users (logged-in users with any "
              "event) per UTC day; the latest day of data is partial (grey, hollow) until a later day is loaded",
              daily, "daily.html.j2", daily_charts, wide=True)


# --------------------------------------------------------------------------- Stickiness


def stickiness(inputs: Inputs) -> list[Row]:
    rows = inputs.fetch(sql.REPORT_STICKINESS)
    first = dt.date.fromisoformat(inputs.data["first_day"])
    for row in rows:
        row["dau_mau"] = ratio(row["dau"], row["mau"])
        # Before day 28 of the data the 28-day window reaches back before it: MAU is partial.
        row["partial_window"] = dt.date.fromisoformat(row["activity_date"]) - dt.timedelta(days=27) < first
        row["partial_day"] = row["activity_date"] == inputs.data["last_day"]
    return rows


def stickiness_chart(n: Numbers) -> list[Spec]:
    import altair as alt

    rows = [{**r, "window": "partial" if r["partial_window"] or r["partial_day"] else "full 28 days"}
            for r in n["stickiness"]]
    base = alt.Chart(values(rows)).encode(
        x=utc_date("activity_date", "day (UTC)", len(rows)),
        y=alt.Y("dau_mau:Q", title="DAU / 28-day MAU", axis=alt.Axis(format="%")),
        tooltip=[date_tip("activity_date"), alt.Tooltip("dau:Q", title="DAU"),
                 alt.Tooltip("mau:Q", title="28-day MAU"), alt.Tooltip("dau_mau:Q", title="DAU/MAU", format=".1%"),
                 alt.Tooltip("window:N", title="window")])
    line = base.mark_line(color="#3465a4", strokeWidth=1.5)
    dots = base.mark_point(filled=True, size=30 if len(rows) <= 62 else 12).encode(
        color=alt.Color("window:N", title="28-day window",
                        scale=alt.Scale(domain=["full 28 days", "partial"], range=["#3465a4", "#babdb6"]),
                        legend=alt.Legend(orient="bottom", symbolOpacity=1)))
    return [finish(alt.layer(line, dots), 900)]


STICKINESS = Panel("stickiness", "Stickiness", "DAU/MAU: users with any event that day as a share of the users "
                   "with any event in the 28 days up to it. Points whose 28-day window reaches back before the data "
                   "(its first 27 days), and the partial latest day, are grey.", stickiness,
                   "stickiness.html.j2", stickiness_chart, wide=True, stage=APART)


# --------------------------------------------------------------------------- Free and paid


def paid_subscribers(inputs: Inputs) -> dict[str, int]:
    """Paid subscribers at the end of each day with plays: the level history's changes (each from
    its day, or the day before when it falls exactly at midnight; a user's first period from their
    registration) summed up to that day."""
    session.execute(inputs.cur, "REPORT_PAID_CHANGES")  # by name: the text is TREND_PAID_CHANGES'
    changes = sorted((day - dt.timedelta(days=at_midnight), int(change))
                     for day, at_midnight, change in inputs.cur.fetchall())
    result, total, i = {}, 0, 0
    for d in sorted(inputs.days, key=lambda d: d["activity_date"]):
        day = dt.date.fromisoformat(d["activity_date"])
        while i < len(changes) and changes[i][0] <= day:
            total, i = total + changes[i][1], i + 1
        if d["plays"]:  # as hour_plays has them: the days with plays
            result[d["activity_date"]] = total
    return result


def levels(inputs: Inputs) -> dict[str, Any]:
    subscribers = paid_subscribers(inputs)
    return {"days": [{
        "activity_date": d["activity_date"], "paid_users": d["paid_users"], "free_users": d["free_users"],
        "paid_plays_per_user": ratio(d["paid_plays"], d["paid_users"], digits=2),
        "free_plays_per_user": ratio(d["free_plays"], d["free_users"], digits=2),
        "paid_subscribers": subscribers.get(d["activity_date"]),
    } for d in inputs.days]}


def levels_charts(n: Numbers) -> list[Spec]:
    days = n["levels"]["days"]
    users = [{"activity_date": d["activity_date"], "series": name, "value": d[key]} for d in days
             for key, name in (("free_users", "free (active)"), ("paid_users", "paid (active)")) if d[key] is not None]
    # Subscribers on a chart of their own: they add up over months, and on the active users'
    # scale they would flatten the daily lines.
    subscribers = [{"activity_date": d["activity_date"], "series": "paid subscribers", "value": d["paid_subscribers"]}
                   for d in days if d["paid_subscribers"] is not None]
    plays = [{"activity_date": d["activity_date"], "series": name, "value": d[key]} for d in days
             for key, name in (("free_plays_per_user", "free"), ("paid_plays_per_user", "paid")) if d[key] is not None]
    return [multi_line(users, "activity_date", "day (UTC)", "active users", "users", width=360,
                       colours={"free (active)": LEVEL_COLOURS[0], "paid (active)": LEVEL_COLOURS[1]}),
            multi_line(subscribers, "activity_date", "day (UTC)", "paid subscribers", "users", width=300,
                       colours={"paid subscribers": "#a40000"}),
            multi_line(plays, "activity_date", "day (UTC)", "plays per active user", "level", ",.1f", width=360,
                       colours=dict(zip(LEVELS[:2], LEVEL_COLOURS[:2], strict=True)))]


FREE_AND_PAID = Panel("levels", "Free and paid", "Active users by the level of their day's last event; paid "
                     "subscribers = users registered by the end of the day, not cancelled, whose level in force then "
                     "is paid (before a user's first event, that event's level: the log is complete); and plays per "
                     "active user.", levels, "levels.html.j2", levels_charts, wide=True)


# --------------------------------------------------------------------------- User lifecycle


def data_week(inputs: Inputs) -> dt.date:
    first = dt.date.fromisoformat(inputs.data["first_day"])
    return first - dt.timedelta(days=first.weekday())


def lifecycle(inputs: Inputs) -> list[Row]:
    weeks: dict[str, Row] = {}
    for row in inputs.fetch(sql.REPORT_LIFECYCLE, data_week=data_week(inputs)):
        monday = dt.date.fromisoformat(row["week"])
        week = weeks.setdefault(row["week"], {"week": row["week"], "new": 0, "returning": 0,
                                              "resurrected": 0, "dormant": 0,
                                              "partial": week_is_partial(inputs, monday)})
        week[row["status"]] = row["users"]
    return [weeks[w] for w in sorted(weeks)]


def lifecycle_chart(n: Numbers) -> list[Spec]:
    import altair as alt

    rows = n["lifecycle"]
    long = [{"week": week_label(r["week"]) + ("*" if r["partial"] else ""), "status": s,
             "users": -r[s] if s == "dormant" else r[s], "count": r[s]}
            for r in rows for s in ("new", "returning", "resurrected", "dormant")]
    order = ["new", "returning", "resurrected", "dormant"]
    chart = alt.Chart(values(long)).mark_bar().encode(
        x=alt.X("week:O", title="ISO week starting (Monday; * partial)",
                sort=[week_label(r["week"]) + ("*" if r["partial"] else "") for r in rows],
                axis=week_axis(len(rows))),
        y=alt.Y("users:Q", title="users (dormant below zero)"),
        color=alt.Color("status:N", title="status", sort=order,
                        scale=alt.Scale(domain=order, range=["#4e9a06", "#3465a4", "#f57900", "#cc0000"])),
        order=alt.Order("status:N"),
        tooltip=[alt.Tooltip("week:O", title="week"), alt.Tooltip("status:N"), alt.Tooltip("count:Q", title="users")])
    return [finish(chart)]


LIFECYCLE = Panel("lifecycle", "User lifecycle", "Active users per ISO week: new (registered that week), "
                  "returning (active or registered the week before; in the data's first week, everyone registered "
                  "earlier), resurrected (back after a gap) and dormant (active the week before, not this week). "
                  "Weeks with days outside the data or the period, or the partial latest day, are marked *.",
                  lifecycle, "lifecycle.html.j2",
                  lifecycle_chart)


# --------------------------------------------------------------------------- Retention cohorts


def retention(inputs: Inputs) -> dict[str, Any]:
    """Cohorts by ISO week of registration (users registered before the data are in none), each
    with a cell for every week from its own to the period's last, 0% included."""
    first = dt.date.fromisoformat(inputs.data["first_day"])
    last_week = inputs.params()["week_to"]
    active: dict[str, dict[int, int]] = {}
    sizes: dict[str, int] = {}
    for row in inputs.fetch(sql.REPORT_RETENTION, data_from=first):
        since = (dt.date.fromisoformat(row["week"]) - dt.date.fromisoformat(row["cohort"])).days // 7
        sizes[row["cohort"]] = sizes.get(row["cohort"], 0) + row["joined"]
        if since >= 0:
            active.setdefault(row["cohort"], {})[since] = row["users"]
    cohorts = []
    for name in sorted(sizes):
        monday = dt.date.fromisoformat(name)
        weeks = []
        for since in range((last_week - monday).days // 7 + 1):
            users = active.get(name, {}).get(since, 0)
            weeks.append({"weeks_since": since, "users": users, "share": ratio(users, sizes[name]),
                          "partial": week_is_partial(inputs, monday + dt.timedelta(weeks=since))})
        cohorts.append({"cohort": name, "users": sizes[name], "partial": week_is_partial(inputs, monday),
                        "weeks": weeks})
    return {"cohorts": cohorts}


def retention_chart(n: Numbers) -> list[Spec]:
    import altair as alt

    cohorts = n["retention"]["cohorts"]
    label = {c["cohort"]: c["cohort"] + ("*" if c["partial"] else "") for c in cohorts}
    cells = [{"cohort": label[c["cohort"]], "cohort_users": c["users"], **w,
              "week": "partial (days outside the data or the period)" if w["partial"] else "whole"}
             for c in cohorts for w in c["weeks"]]
    columns = 1 + max((w["weeks_since"] for c in cohorts for w in c["weeks"]), default=0)
    # Months of cohorts: cells too small for their percentage (the tooltip has it), rows thinner.
    labelled = columns <= 16 and len(cohorts) <= 24
    base = alt.Chart(values(cells)).encode(
        x=alt.X("weeks_since:O", title="weeks since the week of registration",
                axis=alt.Axis(labelAngle=0, labelOverlap=True)),
        y=alt.Y("cohort:O", title="cohort (ISO week of registration; * partial)",
                sort=[label[c["cohort"]] for c in cohorts]),
        tooltip=[alt.Tooltip("cohort:O", title="cohort"), alt.Tooltip("cohort_users:Q", title="cohort users"),
                 alt.Tooltip("weeks_since:O", title="weeks since"), alt.Tooltip("users:Q", title="active"),
                 alt.Tooltip("share:Q", title="retained", format=".0%"), alt.Tooltip("week:N", title="week")])
    rects = base.mark_rect().encode(
        color=alt.Color("share:Q", title="retained", scale=alt.Scale(scheme="blues", domain=[0, 1]),
                        legend=alt.Legend(format="%")),
        stroke=alt.condition("datum.partial", alt.value("#cc0000"), alt.value(None)),
        strokeDash=alt.condition("datum.partial", alt.value([3, 2]), alt.value([1, 0])),
        strokeWidth=alt.condition("datum.partial", alt.value(1.5), alt.value(0)))
    text = base.mark_text(fontSize=10).encode(text=alt.Text("share:Q", format=".0%"),
                                              color=alt.condition("datum.share > 0.6", alt.value("white"),
                                                                  alt.value("black")))
    chart = alt.layer(rects, text) if labelled else rects
    return [finish(chart, 360 if labelled else max(360, 10 * columns),
                   max(120, (24 if labelled else 12) * len(cohorts)))]


RETENTION = Panel("retention", "Retention cohorts", "Cohorts = new users by ISO week of registration (users "
                  "registered before the data are in none); each cell = the share of the cohort with any event in "
                  "that week since, 0% included. Partial weeks (days outside the data or the period, or the partial "
                  "latest day) are outlined in red dashes; hover a cell for its figures.", retention,
                  "retention.html.j2", retention_chart)


# --------------------------------------------------------------------------- Churn


def behaviour(row: Row) -> Row:
    return {
        "users": row["users"], "active_days": row["active_days"], "plays": row["plays"],
        "thumbs_down_share": ratio(row["thumbs_down"], (row["thumbs_up"] or 0) + (row["thumbs_down"] or 0)),
        "adverts_per_play": ratio(row["adverts"], row["plays"]),
        "errors_per_100_plays": ratio(row["errors"], row["plays"], 100, 3),
        "sessions_per_day": ratio(row["sessions"], row["active_days"], digits=3),
        "songs_per_session": ratio(row["plays"], row["sessions"], digits=2),
    }


def churn(inputs: Inputs) -> dict[str, Any]:
    weekly = inputs.fetch(sql.REPORT_CHURN_WEEKLY)
    for week in weekly:
        week["churn_rate"] = ratio(week["churned_users"], week["active_users"])
    groups = {r["cohort"]: behaviour(r) for r in inputs.fetch(sql.REPORT_CHURN_BEHAVIOUR)}
    churned = (groups.get("churned") or {}).get("users", 0)
    result = {"weekly": weekly, "churned_users": churned, "behaviour": groups}
    if not churned:
        result["message"] = "No user reached Cancellation Confirmation in this period."
    return result


def churn_chart(n: Numbers) -> list[Spec]:
    import altair as alt

    weekly = [{**w, "week": week_label(w["week"])} for w in n["churn"]["weekly"]]
    tips = [alt.Tooltip("week:O", title="week"), alt.Tooltip("churned_users:Q", title="churned users"),
            alt.Tooltip("active_users:Q", title="active users"), alt.Tooltip("churn_rate:Q", title="churn rate",
                                                                              format=".1%")]
    base = alt.Chart(values(weekly)).encode(
        x=alt.X("week:O", title="ISO week starting (Monday)", sort=[w["week"] for w in weekly],
                axis=week_axis(len(weekly))), tooltip=tips)
    chart = alt.layer(
        base.mark_bar(color="#cc0000", opacity=0.7).encode(
            y=alt.Y("churned_users:Q", title="churned users", axis=alt.Axis(tickMinStep=1))),
        base.mark_line(point=True, color="#2e3436").encode(
            y=alt.Y("churn_rate:Q", title="churn rate", axis=alt.Axis(format="%"))),
    ).resolve_scale(y="independent")
    return [finish(chart)]


def churn_groups(c: dict[str, Any]) -> dict[str, Any]:
    return {"rows": [{"group": name, **c["behaviour"][name],
                      "thumbs_down": percent(c["behaviour"][name]["thumbs_down_share"]),
                      "adverts": percent(c["behaviour"][name]["adverts_per_play"])}
                     for name in ("churned", "retained") if name in c["behaviour"]]}


CHURN = Panel("churn", "Churn", "Users reaching Cancellation Confirmation per ISO week, the weekly churn rate, and "
              "how the users who churned in the period behaved against the others.", churn, "churn.html.j2",
              churn_chart, churn_groups, wide=True)


# --------------------------------------------------------------------------- Upgrade and downgrade funnel


def funnel(inputs: Inputs) -> dict[str, Any]:
    (counts,) = inputs.fetch(sql.REPORT_FUNNEL)
    counts = {k: int(v or 0) for k, v in counts.items()}

    def steps(names: list[tuple[str, str]]) -> list[Row]:
        first, before, out = counts[names[0][0]], None, []
        for key, label in names:
            out.append({"step": key, "label": label, "users": counts[key],
                        "rate_from_previous": ratio(counts[key], before) if before is not None else None,
                        "rate_from_start": ratio(counts[key], first)})
            before = counts[key]
        return out

    return {
        "counts": counts,
        "upgrade": steps([("free_listeners", "Free listener"), ("upgrade_page", "Upgrade page"),
                          ("submit_upgrade", "Submit Upgrade")]),
        "downgrade": steps([("paid_users", "Paid user"), ("downgrade_page", "Downgrade page"),
                            ("submit_downgrade", "Submit Downgrade")]),
    }


def funnel_charts(n: Numbers) -> list[Spec]:
    out = []
    for side in ("upgrade", "downgrade"):
        steps = [{**s, "share": s["rate_from_start"]} for s in n["funnel"][side]]
        out.append(bars(steps, "label", "step", "users", "users", sort=None, width=360,
                        extra_tips=[("rate_from_previous", "share of the step before")]))
    return out


def funnel_steps(f: dict[str, Any]) -> dict[str, Any]:
    return {"steps": [{**s, "previous": percent(s["rate_from_previous"]), "start": percent(s["rate_from_start"])}
                      for s in f["upgrade"] + f["downgrade"]]}


FUNNEL = Panel("funnel", "Upgrade and downgrade funnel", "Free listeners who then visited Upgrade and then submitted "
               "it, in that order; paid users who visited Downgrade and then submitted it.", funnel, "funnel.html.j2",
               funnel_charts, funnel_steps)


# --------------------------------------------------------------------------- Engagement


def engagement(inputs: Inputs) -> dict[str, Any]:
    rows = inputs.fetch(sql.REPORT_ENGAGEMENT)
    total = {"level": "all", **{k: sum(r[k] or 0 for r in rows) for k in ["plays", *ACTIONS]}}
    out = []
    for row in [*rows, total]:
        out.append({"level": row["level"], "plays": row["plays"],
                    **{k: row[k] for k in ACTIONS},
                    **{f"{k}_per_100_plays": ratio(row[k], row["plays"], 100, 2) for k in ACTIONS}})
    result = {"by_level": out[:-1], "all": out[-1]}
    if not any(total[k] for k in ACTIONS):
        result["message"] = ("No Thumbs Up, Thumbs Down, Add to Playlist, Add Friend or Roll Advert events in this "
                             "period.")
    return result


def engagement_chart(n: Numbers) -> list[Spec]:
    import altair as alt

    names = {"thumbs_up": "Thumbs Up", "thumbs_down": "Thumbs Down", "add_to_playlist": "Add to Playlist",
             "add_friend": "Add Friend", "adverts": "Roll Advert"}
    rows = [{"level": r["level"], "action": names[k], "per_100": r[f"{k}_per_100_plays"], "count": r[k]}
            for r in [*n["engagement"]["by_level"], n["engagement"]["all"]] for k in ACTIONS
            if r[f"{k}_per_100_plays"] is not None]
    chart = alt.Chart(values(rows)).mark_bar().encode(
        y=alt.Y("action:N", title=None, sort=list(names.values())),
        yOffset=alt.YOffset("level:N"),
        x=alt.X("per_100:Q", title="per 100 plays"),
        color=level_colour(with_all=True),
        tooltip=[alt.Tooltip("action:N"), alt.Tooltip("level:N"), alt.Tooltip("per_100:Q", title="per 100 plays"),
                 alt.Tooltip("count:Q", title="events", format=",")])
    return [finish(chart, 340, 260)]


ENGAGEMENT = Panel("engagement", "Engagement", "Thumbs up and down, adds to playlists, friends added and adverts "
                   "rolled, per 100 plays, by level.", engagement, "engagement.html.j2", engagement_chart,
                   stage=APART)


# --------------------------------------------------------------------------- Sessions


def median(counts: dict[float, int]) -> float | None:
    """PERCENTILE_CONT(0.5) of values given as value -> how many: the middle value, or the two
    middle ones interpolated, in PostgreSQL's own arithmetic (first + fraction * (second - first))."""
    n = sum(counts.values())
    if not n:
        return None
    position = 0.5 * (n - 1)
    first_row, second_row = math.floor(position), math.ceil(position)
    found: dict[int, float] = {}
    seen = 0
    for value in sorted(counts):
        for row in (first_row, second_row):
            if seen <= row < seen + counts[value]:
                found[row] = float(value)
        seen += counts[value]
    first, second = found[first_row], found[second_row]
    return first if first_row == second_row else first + (position - first_row) * (second - first)


def user_day_shapes(inputs: Inputs) -> tuple[Row, list[Row]]:
    """The medians of sessions and plays per user-day, and the user-days by sessions (4: four or more)."""
    sessions_count: dict[float, int] = {}
    plays_count: dict[float, int] = {}
    buckets: dict[int, Row] = {}
    for r in inputs.fetch(sql.REPORT_USER_DAY_SHAPES):
        if r["sessions"] is not None:
            sessions_count[r["sessions"]] = sessions_count.get(r["sessions"], 0) + r["user_days"]
        if r["plays"] is not None:
            plays_count[r["plays"]] = plays_count.get(r["plays"], 0) + r["user_days"]
        bucket = buckets.setdefault(min(r["sessions"], 4), {"sessions": min(r["sessions"], 4), "user_days": 0,
                                                            "plays": None})
        bucket["user_days"] += r["user_days"]
        if r["plays"] is not None:
            bucket["plays"] = (bucket["plays"] or 0) + r["plays"] * r["user_days"]
    medians = {"median_sessions": median(sessions_count), "median_plays": median(plays_count)}
    return medians, [buckets[b] for b in sorted(buckets)]


def bucket_label(bounds: list[int], i: int, unit: str) -> str:
    """Bucket i of these lower bounds: '5–14 min' (minutes run up to the next bound), '2–4 songs',
    '1 song', '100+ songs'."""
    if i + 1 == len(bounds):
        return f"{bounds[i]}+ {unit}"
    low, high = bounds[i], bounds[i + 1] - (0 if unit == "min" else 1)
    if low == high:
        return f"{low} {unit.rstrip('s') if low == 1 else unit}"
    return f"{low}–{high} {unit}"


def sessions(inputs: Inputs) -> dict[str, Any]:
    (summary,) = inputs.fetch(sql.REPORT_SESSIONS)
    plays = {r["plays"]: r["sessions"] for r in inputs.fetch(sql.REPORT_SESSION_PLAYS)}
    medians, per_day = user_day_shapes(inputs)
    lengths: dict[int, int] = {}
    songs: dict[int, int] = {}
    for r in inputs.fetch(sql.REPORT_SESSION_BUCKETS):
        lengths[r["length_bucket"]] = lengths.get(r["length_bucket"], 0) + r["sessions"]
        songs[r["songs_bucket"]] = songs.get(r["songs_bucket"], 0) + r["sessions"]
    seconds = summary["median_seconds"]
    return {
        "sessions": summary["sessions"],
        "median_minutes": round(seconds / 60, 2) if seconds is not None else None,
        "median_songs": median(plays),  # PERCENTILE_CONT(0.5) of plays: a statement of its own on Redshift
        "mean_songs": round(summary["mean_plays"], 2) if summary["mean_plays"] is not None else None,
        "median_sessions_per_user_day": medians["median_sessions"],
        "median_plays_per_user_day": medians["median_plays"],
        "length_buckets": [{"order": i, "bucket": bucket_label(SESSION_MINUTES, i, "min"),
                            "sessions": lengths.get(b, 0)} for i, b in enumerate(SESSION_MINUTES)],
        "songs_buckets": [{"order": i, "bucket": bucket_label(SESSION_SONGS, i, "songs"), "sessions": songs.get(b, 0)}
                          for i, b in enumerate(SESSION_SONGS)],
        "per_user_day": [{"sessions": "4+" if r["sessions"] == 4 else str(r["sessions"]),
                          "user_days": r["user_days"], "plays": r["plays"]} for r in per_day],
    }


def session_charts(n: Numbers) -> list[Spec]:
    s = n["sessions"]
    return [bars(s["length_buckets"], "bucket", "session length", "sessions", "sessions", horizontal=False,
                 sort=[b["bucket"] for b in s["length_buckets"]], width=280),
            bars(s["songs_buckets"], "bucket", "songs in the session", "sessions", "sessions", horizontal=False,
                 sort=[b["bucket"] for b in s["songs_buckets"]], width=280),
            bars(s["per_user_day"], "sessions", "sessions in a user's day", "user_days", "user-days",
                 horizontal=False, sort=None, width=160)]


SESSIONS = Panel("sessions", "Sessions", "A session = a logged-in user's events with one session id; it lasts from "
                 "its first event to the end of its last (a song ends at its start plus its length, any other event "
                 "at its time). Sessions that started in the period: length, songs played, and sessions per "
                 "user-day.", sessions, "sessions.html.j2", session_charts, wide=True, stage=APART)


# --------------------------------------------------------------------------- When people listen


def weekdays_in(period: Period) -> dict[int, int]:
    """How many of each ISO weekday (1 = Monday) the period has."""
    counts = dict.fromkeys(range(1, 8), 0)
    for i in range(period.days):
        counts[(period.date_from + dt.timedelta(days=i)).isoweekday()] += 1
    return counts


def heatmap(inputs: Inputs) -> list[Row]:
    """Plays per hour and ISO weekday, and per day of that weekday (a month with five Fridays
    does not make Friday look busiest)."""
    plays = {(r["weekday"], r["hour"]): r["plays"] for r in inputs.fetch(sql.REPORT_HEATMAP)}
    days = weekdays_in(inputs.period)
    return [{"weekday": day, "day": WEEKDAYS[day - 1], "hour": hour, "plays": plays.get((day, hour), 0),
             "days": days[day], "plays_per_day": ratio(plays.get((day, hour), 0), days[day], digits=2)}
            for day in range(1, 8) for hour in range(24)]


def heatmap_chart(n: Numbers) -> list[Spec]:
    import altair as alt

    chart = alt.Chart(values(n["heatmap"])).mark_rect().encode(
        x=alt.X("hour:O", title="hour of the day (UTC)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("day:O", title="weekday", sort=WEEKDAYS),
        color=alt.Color("plays_per_day:Q", title="plays per day", scale=alt.Scale(scheme="oranges")),
        tooltip=[alt.Tooltip("day:O", title="weekday"), alt.Tooltip("hour:O", title="hour (UTC)"),
                 alt.Tooltip("plays_per_day:Q", title="plays per day", format=",.1f"),
                 alt.Tooltip("plays:Q", title="plays", format=","),
                 alt.Tooltip("days:Q", title="such weekdays in the period")])
    return [finish(chart, 900, 200)]


HEATMAP = Panel("heatmap", "When people listen", "Plays per day by hour of the day (UTC) and ISO weekday: each "
                "cell's plays divided by the number of that weekday in the period.", heatmap,
                "heatmap.html.j2", heatmap_chart, wide=True, stage=APART)


# --------------------------------------------------------------------------- Top songs and artists


def ranked(rows: list[Row], listeners: Listeners, song: bool) -> list[Row]:
    """A top list with its ranks and listeners, the columns in the order of --json."""
    out = []
    for i, r in enumerate(rows, start=1):
        count = listeners.get((r["artist"], r["song"] if song else None), 0)
        row: Row = {"rank": i}
        for name, value in r.items():
            row[name] = value
            if name == ("plays" if song else "songs"):
                row["listeners"] = count
        out.append({**row, "plays_per_listener": ratio(r["plays"], count, digits=2)})
    return out


def top_songs(inputs: Inputs) -> list[Row]:
    return ranked(inputs.songs, inputs.listeners, song=True)


def top_artists(inputs: Inputs) -> list[Row]:
    return ranked(inputs.artists, inputs.listeners, song=False)


TOP_SONGS = Panel("top_songs", "Top songs", "Most played songs by the events' own song and artist text, with their "
                  "distinct listeners and the song id where a song file matches.", top_songs, "top_songs.html.j2",
                  wide=True, stage=AFTER)
TOP_ARTISTS = Panel("top_artists", "Top artists", "Most played artists, with their distinct listeners and songs "
                    "played.", top_artists, "top_artists.html.j2", stage=AFTER)


# --------------------------------------------------------------------------- Where listeners are


def geography(inputs: Inputs) -> list[Row]:
    return inputs.fetch(sql.REPORT_GEOGRAPHY)


def geography_chart(n: Numbers) -> list[Spec]:
    return [bars(n["geography"][:25], "state", "US state", "users", "active users", sort="-x",
                 extra_tips=[("plays", "plays")])]


GEOGRAPHY = Panel("geography", "Where listeners are", "Active users and plays by US state, from the events' location "
                  "(a metro spanning states counts for its first state).", geography, "geography.html.j2",
                  geography_chart)


# --------------------------------------------------------------------------- Trending songs and artists


def trending(key: str) -> Callable[[Inputs], dict[str, Any]]:
    """The numbers of a trending list (trends.py's trending_songs or trending_artists)."""

    def numbers(inputs: Inputs) -> dict[str, Any]:
        rows = list((inputs.trends or {}).get(key) or [])
        result: dict[str, Any] = {"items": rows}
        if inputs.trends_problem:
            result["message"] = inputs.trends_problem
        elif not rows:
            result["message"] = ((inputs.trends or {}).get("trending_window") or {}).get("message") or (
                "Nothing is trending: no song or artist has enough plays and listeners in the last 7 days.")
        return result

    return numbers


def trending_items(t: dict[str, Any]) -> dict[str, Any]:
    return {"items": [{**item, "rank": i, "p_value": p_value_text(item.get("p_value")),
                       "q_value": p_value_text(item.get("q_value"))}
                      for i, item in enumerate(t["items"][:TOP], start=1)]}


TRENDING = ("Listed only when significant: plays in the last 7 days against the 21 days before, by an exact binomial "
            "test against the overall traffic, with the false-discovery rate held at 5% (Benjamini-Hochberg q ≤ 0.05 "
            "over every one played in the 28 days), at least 3 listeners; ranked by a score shrunk towards no change.")
TRENDING_SONGS = Panel("trending_songs", "Trending songs", TRENDING, trending("trending_songs"),
                       "trending_songs.html.j2", view=trending_items, wide=True)
TRENDING_ARTISTS = Panel("trending_artists", "Trending artists", TRENDING, trending("trending_artists"),
                         "trending_artists.html.j2", view=trending_items)


# --------------------------------------------------------------------------- Devices


def devices(inputs: Inputs) -> dict[str, list[Row]]:
    result: dict[str, list[Row]] = {"os": [], "browser": [], "device_type": []}
    for row in inputs.fetch(sql.REPORT_DEVICES):
        result[row.pop("dimension")].append(row)
    return result


def device_charts(n: Numbers) -> list[Spec]:
    d = n["devices"]
    return [bars(d["os"][:12], "name", "operating system", "users", "active users", width=190,
                 extra_tips=[("plays", "plays")]),
            bars(d["browser"][:12], "name", "browser", "users", "active users", width=190,
                 extra_tips=[("plays", "plays")])]


DEVICES = Panel("devices", "Devices", "Active users by operating system and browser, from their user agents.",
                devices, "devices.html.j2", device_charts)


# --------------------------------------------------------------------------- Demographics


def demographics(inputs: Inputs) -> list[Row]:
    return inputs.fetch(sql.REPORT_DEMOGRAPHICS)  # reads the period's users, which the KPIs made


def demographics_chart(n: Numbers) -> list[Spec]:
    import altair as alt

    chart = alt.Chart(values(n["demographics"])).mark_bar().encode(
        x=alt.X("gender:N", title="gender", axis=alt.Axis(labelAngle=0)), xOffset=alt.XOffset("level:N"),
        y=alt.Y("users:Q", title="active users", axis=alt.Axis(tickMinStep=1)),
        color=level_colour(),
        tooltip=[alt.Tooltip("gender:N"), alt.Tooltip("level:N"), alt.Tooltip("users:Q", title="users"),
                 alt.Tooltip("plays:Q", title="plays", format=",")])
    return [finish(chart, 300)]


DEMOGRAPHICS = Panel("demographics", "Demographics", "Active users by gender and level (on their last active day).",
                     demographics, "demographics.html.j2", demographics_chart)


# --------------------------------------------------------------------------- Errors and help


def errors(inputs: Inputs) -> dict[str, Any]:
    days = inputs.fetch(sql.REPORT_ERRORS)
    for day in days:
        day["errors_per_1000_events"] = ratio(day["errors"], day["events"], 1000, 3)
        day["help_per_1000_events"] = ratio(day["help"], day["events"], 1000, 3)
    events, errs, helps = (sum(d[k] for d in days) for k in ("events", "errors", "help"))
    return {"days": days, "events": events, "errors": errs, "help": helps,
            "errors_per_1000_events": ratio(errs, events, 1000, 3),
            "help_per_1000_events": ratio(helps, events, 1000, 3)}


def errors_chart(n: Numbers) -> list[Spec]:
    rows = [{"activity_date": d["activity_date"], "series": name, "value": d[key]} for d in n["errors"]["days"]
            for key, name in (("errors_per_1000_events", "Error"), ("help_per_1000_events", "Help"))
            if d[key] is not None]
    return [multi_line(rows, "activity_date", "day (UTC)", "pages per 1,000 events", "page", ",.1f")]


ERRORS = Panel("errors", "Errors and help", "Error and Help pages per 1,000 events of logged-in users", errors,
               "errors.html.j2", errors_chart, stage=APART)


# --------------------------------------------------------------------------- Forecast


def forecast(inputs: Inputs) -> dict[str, Any]:
    trends, data = inputs.trends, inputs.data
    result: dict[str, Any] = {
        "forecast": (trends or {}).get("forecast") or {"plays": [], "active_users": [], "paid_users": []},
        "backtest": (trends or {}).get("backtest") or {},
    }
    if inputs.trends_problem:
        result["message"] = inputs.trends_problem
    elif not any(result["forecast"].get(s) for s in ("plays", "active_users", "paid_users")):
        result["message"] = (trends or {}).get("message") or (
            f"Only {data['days_with_events']} days of data: a 14-day forecast needs at least {FORECAST_MIN_DAYS} (28"
            " to train, 14 ahead, from 7 backtest origins)." if data["days_with_events"] < FORECAST_MIN_DAYS
            else "trends.py stored no forecast.")
    return result


def paid_forecast_chart(n: Numbers) -> list[Spec]:
    history = [{"date": d["activity_date"], "value": d["paid_subscribers"]} for d in n["levels"]["days"]
               if d["paid_subscribers"] is not None]
    # The last weeks only (Free and paid has the whole history): room for the forecast's band.
    return [series_chart(history[-FORECAST_HISTORY:], n["forecast"]["forecast"].get("paid_users") or [],
                         "paid subscribers")]


def backtest_rows(f: dict[str, Any]) -> dict[str, Any]:
    return {"rows": [{**scores, "series": SERIES_NAMES.get(name, name), "model": model_name(scores.get("model")),
                      **{c: percent(scores.get(c), 0) for c in ("coverage80", "coverage95")}}
                     for name, scores in f["backtest"].items() if isinstance(scores, dict)]}


FORECAST = Panel("forecast", "Forecast", f"Paid subscribers in the last {FORECAST_HISTORY} days of the period, with "
                 "their forecast and its 80% and 95% intervals (plays and active users are in Daily activity), and "
                 "how each series' published model scored in a rolling-origin backtest at the published horizon "
                 "against seasonal-naive (MASE: lower is better); the intervals come from the model's own backtest "
                 "errors, and cover 80%/95% is the share of backtest days they held.", forecast, "forecast.html.j2",
                 paid_forecast_chart, backtest_rows, wide=True)


# --------------------------------------------------------------------------- Data freshness


def freshness(inputs: Inputs) -> dict[str, Any]:
    session.execute(inputs.cur, sql.REPORT_LAST_EVENT)
    (last_event,) = inputs.cur.fetchone()
    runs = fetch(inputs.cur, sql.REPORT_RECENT_RUNS, {"limit": 5})
    return {"last_event": plain(last_event), "last_run": runs[0] if runs else None, "recent_runs": runs,
            "trends_computed_at": plain((inputs.trends or {}).get("computed_at")),
            "generated_at": session.utc_now().isoformat(sep=" ", timespec="seconds")}


def freshness_facts(f: dict[str, Any]) -> dict[str, Any]:
    run = f["last_run"] or {}
    return {
        "facts": [("Last event loaded", moment(f["last_event"])), ("Last load run", run.get("run_id")),
                  ("Its outcome", run.get("outcome")), ("Its checks", run.get("checks") or "not run"),
                  ("It finished at", moment(run.get("finished_at"))), ("Records it rejected", run.get("rows_rejected")),
                  ("Trends computed at", moment(f["trends_computed_at"]) or "–"),
                  ("Page written at", f["generated_at"] + " UTC")],
        "runs": [{**r, "started_at": moment(r["started_at"])} for r in f["recent_runs"]],
    }


FRESHNESS = Panel("freshness", "Data freshness", "The last event and load behind this page, and whether that load "
                  "passed its checks, so you know how far to trust it.", freshness, "freshness.html.j2",
                  view=freshness_facts, wide=True)


# --------------------------------------------------------------------------- the page's order

PANELS: list[Panel] = [
    KPIS, DAILY, STICKINESS, FREE_AND_PAID, LIFECYCLE, RETENTION, CHURN, FUNNEL, ENGAGEMENT, SESSIONS, HEATMAP,
    TOP_SONGS, TOP_ARTISTS, GEOGRAPHY, TRENDING_SONGS, TRENDING_ARTISTS, DEVICES, DEMOGRAPHICS, ERRORS, FORECAST,
    FRESHNESS,
]
