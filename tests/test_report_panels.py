"""The dashboard's panels without a server: each panel is whole (key, title, definition, numbers,
template), its numbers come from its SQL's rows (here hand-made, through a cursor that answers
each statement with fixed rows), its charts are Vega-Lite, and its template escapes everything.

Fast: no database, no browser, no Vega bundle (a stand-in is inlined). The page in a real browser
on a real warehouse is tests/test_report.py's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest

import sql_queries as sql
from sparkify_dwh.report import document, page, panels, text
from sparkify_dwh.report.numbers import AFTER, APART, MAIN, Inputs, Period, change, finite, json_default, plain, ratio
from sparkify_dwh.report.panels import PANELS

pytestmark = pytest.mark.fast  # no server: the fast tier (pytest -m fast)

TEMPLATES = Path(page.__file__).parent / "templates"
HOSTILE = "<script>window.__pwned = 1</script>"
D1, D2 = dt.date(2018, 11, 1), dt.date(2018, 11, 2)
MONDAY = dt.date(2018, 10, 29)

Column = namedtuple("Column", "name")


class FakeCursor:
    """Answers each statement of sql_queries with the rows given for its text (none if not given)."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]]) -> None:
        self.answers = answers
        self.executed: list[str] = []
        self.description: list[Column] = []
        self.rows: list[tuple] = []
        self.rowcount = 0

    def execute(self, statement: str, params: Any = None) -> None:
        self.executed.append(statement)
        rows = self.answers.get(statement, [])
        self.description = [Column(name) for name in (rows[0] if rows else {})]
        self.rows = [tuple(row.values()) for row in rows]
        self.rowcount = len(rows)

    def fetchall(self) -> list[tuple]:
        return self.rows

    def fetchone(self) -> tuple | None:
        return self.rows[0] if self.rows else None


def answers() -> dict[str, list[dict[str, Any]]]:
    """A small two-day warehouse, as the panels' queries would answer for it."""
    return {
        sql.REPORT_KPIS: [{"plays": 120, "dau": 5, "wau": 8, "mau": 9, "active_users": 9, "paid_users": 3,
                           "new_users": 9, "churned_users": 1}],
        sql.REPORT_STICKINESS: [{"activity_date": D1, "dau": 4, "mau": 4}, {"activity_date": D2, "dau": 5, "mau": 8}],
        sql.REPORT_PAID_CHANGES: [{"day": D1, "at_midnight": 0, "change": 2},
                                  {"day": D2, "at_midnight": 1, "change": 1}],
        sql.REPORT_LIFECYCLE: [{"week": MONDAY, "status": "new", "users": 9},
                               {"week": MONDAY, "status": "returning", "users": 0}],
        sql.REPORT_RETENTION: [{"cohort": MONDAY, "week": MONDAY, "users": 8, "joined": 8},
                               {"cohort": MONDAY + dt.timedelta(days=-7), "week": MONDAY, "users": 1,
                                "joined": 1}],
        sql.REPORT_CHURN_WEEKLY: [{"week": MONDAY, "active_users": 9, "churned_users": 1}],
        sql.REPORT_CHURN_BEHAVIOUR: [
            {"cohort": "churned", "users": 1, "active_days": 2, "plays": 10, "sessions": 2, "thumbs_up": 1,
             "thumbs_down": 3, "adverts": 2, "errors": 0},
            {"cohort": "retained", "users": 8, "active_days": 12, "plays": 110, "sessions": 15, "thumbs_up": 9,
             "thumbs_down": 1, "adverts": 5, "errors": 1}],
        sql.REPORT_FUNNEL: [{"free_listeners": 6, "upgrade_page": 4, "submit_upgrade": 1, "paid_users": 3,
                             "downgrade_page": 1, "submit_downgrade": None}],
        sql.REPORT_ENGAGEMENT: [
            {"level": "free", "plays": 70, "thumbs_up": 5, "thumbs_down": 2, "add_to_playlist": 1, "add_friend": 0,
             "adverts": 7},
            {"level": "paid", "plays": 50, "thumbs_up": 5, "thumbs_down": 2, "add_to_playlist": 3, "add_friend": 1,
             "adverts": 0}],
        sql.REPORT_SESSIONS: [{"sessions": 17, "median_seconds": 1500, "median_plays": 6, "mean_plays": 7.0588}],
        sql.REPORT_USER_DAY_SHAPES: [{"sessions": 1, "plays": 5, "user_days": 8},
                                     {"sessions": 2, "plays": 12, "user_days": 3},
                                     {"sessions": 6, "plays": 30, "user_days": 1}],
        sql.REPORT_SESSION_BUCKETS: [{"length_bucket": 15, "songs_bucket": 5, "sessions": 12},
                                     {"length_bucket": 60, "songs_bucket": 10, "sessions": 5}],
        sql.REPORT_HEATMAP: [{"weekday": 4, "hour": 9, "plays": 70}, {"weekday": 5, "hour": 21, "plays": 50}],
        sql.REPORT_GEOGRAPHY: [{"state": "CA", "users": 5, "plays": 80}, {"state": HOSTILE, "users": 4, "plays": 40}],
        sql.REPORT_DEVICES: [{"dimension": "os", "name": "Windows", "users": 6, "plays": 90},
                             {"dimension": "browser", "name": "Firefox", "users": 6, "plays": 90},
                             {"dimension": "device_type", "name": "Desktop", "users": 9, "plays": 120}],
        sql.REPORT_DEMOGRAPHICS: [{"gender": "F", "level": "free", "users": 5, "plays": 70},
                                  {"gender": "M", "level": "paid", "users": 4, "plays": 50}],
        sql.REPORT_ERRORS: [{"activity_date": D1, "events": 80, "errors": 1, "help": 2},
                            {"activity_date": D2, "events": 90, "errors": 0, "help": 1}],
        sql.REPORT_LAST_EVENT: [{"max": dt.datetime(2018, 11, 2, 23, 59, 1, 123456)}],
        sql.REPORT_RECENT_RUNS: [{"run_id": 1, "started_at": dt.datetime(2018, 11, 3, 1, 0, 0, 5),
                                  "finished_at": dt.datetime(2018, 11, 3, 1, 0, 9, 5), "outcome": "succeeded",
                                  "checks": None, "objects_loaded": 2, "events_staged": 170, "rows_rejected": 0}],
    }


DAYS = [{"activity_date": "2018-11-01", "plays": 60, "active_users": 4, "paid_users": 1, "free_users": 3,
         "paid_plays": 20, "free_plays": 40},
        {"activity_date": "2018-11-02", "plays": 60, "active_users": 5, "paid_users": 2, "free_users": 3,
         "paid_plays": 30, "free_plays": 30}]
TRENDS = {
    "computed_at": "2018-11-03 01:00:10.5",
    "forecast": {"plays": [{"date": "2018-11-03", "value": 61.0, "lo80": 50.0, "hi80": 70.0, "lo95": 45.0,
                            "hi95": 75.0}],
                 "active_users": [], "paid_users": [{"date": "2018-11-03", "value": 3.0, "lo80": 2.0, "hi80": 4.0,
                                                     "lo95": 1.0, "hi95": 5.0}]},
    "backtest": {"plays": {"model": "holt_winters", "mase": 0.8, "mase_baseline": 1.0, "smape": 20.0,
                           "smape_baseline": 25.0, "origins": 6, "note": HOSTILE}},
    "trending_songs": [{"song": HOSTILE, "artist": "A", "score": 2.5, "plays": 30, "expected": 10.0, "listeners": 5,
                        "p_value": 0.0001}],
    "trending_artists": [],
    "trending_window": {"message": "Nothing is trending in two days."},
}


def make_document(rows: dict[str, list[dict[str, Any]]], days: list[dict[str, Any]],
                  trends: dict[str, Any] | None) -> dict[str, Any]:
    """The --json document, every panel's numbers computed from these rows by its own function,
    the stages in the order panel_numbers runs them."""
    period = Period(D1, D2)
    data = {"first_day": "2018-11-01", "last_day": "2018-11-02", "days_with_events": 2}
    inputs = Inputs(FakeCursor(rows), period, data, trends, None if trends else "Trends could not be computed.")
    inputs.songs = [{"song": HOSTILE, "artist": "<b>Artist</b>", "song_id": None, "plays": 12}] if days else []
    inputs.artists = [{"artist": "<b>Artist</b>", "plays": 12, "songs": 1}] if days else []
    inputs.days = days
    inputs.listeners = {("<b>Artist</b>", HOSTILE): 3, ("<b>Artist</b>", None): 4}
    numbers = {}
    for stage in (MAIN, APART, AFTER):
        numbers |= {p.key: p.numbers(inputs) for p in PANELS if p.stage == stage}
    return {"period": period.as_json(), "data": data, **{p.key: numbers[p.key] for p in PANELS}}


@pytest.fixture(scope="module")
def small() -> dict[str, Any]:
    return make_document(answers(), DAYS, TRENDS)


@pytest.fixture(scope="module")
def empty() -> dict[str, Any]:
    """A period with nothing in it: only the aggregates' one row each, zeros and NULLs."""
    rows = {sql.REPORT_KPIS: answers()[sql.REPORT_KPIS],
            sql.REPORT_FUNNEL: [dict.fromkeys(answers()[sql.REPORT_FUNNEL][0], 0)],
            sql.REPORT_SESSIONS: [{"sessions": 0, "median_seconds": None, "median_plays": None, "mean_plays": None}],
            sql.REPORT_LAST_EVENT: [{"max": None}]}
    return make_document(rows, [], None)


def section(page_html: str, key: str) -> str:
    match = re.search(rf'<section class="panel[^"]*" id="panel-{key}">.*?</section>', page_html, re.DOTALL)
    assert match, key
    return match.group(0)


# --------------------------------------------------------------------------- each panel is whole


def test_every_panel_has_a_unique_key_a_title_a_definition_and_a_template() -> None:
    keys = [p.key for p in PANELS]
    assert len(keys) == len(set(keys)) == 21
    for panel in PANELS:
        assert re.fullmatch(r"[a-z][a-z_]*", panel.key), panel.key
        assert panel.title.strip() and panel.definition.strip(), panel.key
        assert (TEMPLATES / panel.template).is_file(), panel.template
        assert panel.stage in (MAIN, APART, AFTER), panel.key
        assert "{% extends \"panel.html.j2\" %}" in (TEMPLATES / panel.template).read_text(), panel.template
    # Half-width panels come in pairs, so the grid has no holes.
    halves = 0
    for panel in PANELS:
        if panel.wide:
            assert halves % 2 == 0, f"{panel.key}: a half-width panel before it has no partner"
        else:
            halves += 1
    assert halves % 2 == 0


def test_every_template_file_belongs_to_a_panel_or_the_page() -> None:
    used = {p.template for p in PANELS} | {"page.html.j2", "panel.html.j2", "macros.html.j2"}
    assert {path.name for path in TEMPLATES.glob("*.j2")} == used


def test_the_document_has_every_panel_under_its_key_and_is_strict_json(small, empty) -> None:
    for doc in (small, empty):
        assert list(doc) == ["period", "data", *[p.key for p in PANELS]]
        json.dumps(doc, allow_nan=False, default=json_default)  # raises on NaN and on what JSON cannot hold


# --------------------------------------------------------------------------- numbers from hand-made rows


def test_numbers_follow_their_rows(small) -> None:
    assert small["kpis"]["plays"] == {"value": 120, "previous": None, "change": None, "change_pct": None}
    assert small["kpis"]["paid_share"]["value"] == ratio(3, 9)
    assert [r["dau_mau"] for r in small["stickiness"]] == [1.0, 0.625]
    assert [d["paid_subscribers"] for d in small["levels"]["days"]] == [3, 3]  # D2's change counts from D1
    assert small["lifecycle"] == [{"week": "2018-10-29", "new": 9, "returning": 0, "resurrected": 0, "dormant": 0,
                                   "partial": True}]  # the data starts on a Thursday
    # A cohort has a cell for every week to the period's last, 0% included; partial weeks marked.
    assert small["retention"]["cohorts"] == [
        {"cohort": "2018-10-22", "users": 1, "partial": True,  # (a week before the data: partial too)
         "weeks": [{"weeks_since": 0, "users": 0, "share": 0.0, "partial": True},
                   {"weeks_since": 1, "users": 1, "share": 1.0, "partial": True}]},
        {"cohort": "2018-10-29", "users": 8, "partial": True,
         "weeks": [{"weeks_since": 0, "users": 8, "share": 1.0, "partial": True}]}]
    # The latest day (D2) is partial: the DAU card is for D1.
    assert [d["partial"] for d in small["daily"]["days"]] == [False, True]
    assert small["kpis"]["dau"]["day"] == "2018-11-01"
    assert [r["partial_window"] for r in small["stickiness"]] == [True, True]
    # Per day of the weekday: D1 is a Thursday, D2 a Friday, one each in the period.
    assert {(c["weekday"], c["hour"]): c["plays_per_day"] for c in small["heatmap"] if c["plays"]} == {
        (4, 9): 70.0, (5, 21): 50.0}
    assert [s["rate_from_previous"] for s in small["funnel"]["upgrade"]] == [None, 0.6667, 0.25]
    assert small["funnel"]["counts"]["submit_downgrade"] == 0
    assert small["churn"]["behaviour"]["churned"]["thumbs_down_share"] == 0.75 and "message" not in small["churn"]
    assert small["engagement"]["all"]["thumbs_up_per_100_plays"] == round(100 * 10 / 120, 2)
    assert len(small["heatmap"]) == 7 * 24 and sum(c["plays"] for c in small["heatmap"]) == 120
    s = small["sessions"]
    assert (s["median_minutes"], s["median_sessions_per_user_day"], s["median_plays_per_user_day"]) == (25.0, 1.0, 5.0)
    assert [b["bucket"] for b in s["length_buckets"]] == ["0–5 min", "5–15 min", "15–30 min", "30–60 min",
                                                          "60–120 min", "120–240 min", "240+ min"]
    assert [b["bucket"] for b in s["songs_buckets"]][:3] == ["0 songs", "1 song", "2–4 songs"]
    assert s["per_user_day"][-1] == {"sessions": "4+", "user_days": 1, "plays": 30}
    assert small["top_songs"][0] == {"rank": 1, "song": HOSTILE, "artist": "<b>Artist</b>", "song_id": None,
                                     "plays": 12, "listeners": 3, "plays_per_listener": 4.0}
    assert small["top_artists"][0]["listeners"] == 4 and list(small["top_artists"][0])[3] == "songs"
    assert small["errors"]["errors_per_1000_events"] == ratio(1, 170, 1000, 3)
    assert small["freshness"]["last_event"] == "2018-11-02 23:59:01.123456"
    assert small["forecast"]["backtest"]["plays"]["mase"] == 0.8 and "message" not in small["forecast"]
    assert small["trending_artists"]["message"] == "Nothing is trending in two days."


def test_an_empty_period_says_why_rather_than_showing_nothing(empty) -> None:
    assert empty["churn"]["message"] == "No user reached Cancellation Confirmation in this period."
    assert empty["engagement"]["message"].startswith("No Thumbs Up")
    assert empty["forecast"]["message"] == empty["trending_songs"]["message"] == "Trends could not be computed."
    assert empty["sessions"]["median_sessions_per_user_day"] is None and empty["top_songs"] == []


def test_the_sessions_median_is_percentile_cont() -> None:
    assert panels.median({}) is None
    assert panels.median({3: 1}) == 3.0
    assert panels.median({1: 1, 2: 1}) == 1.5
    assert panels.median({1: 2, 10: 2}) == 5.5
    assert panels.median({1: 3, 10: 1}) == 1.0


def test_the_numbers_helpers() -> None:
    assert ratio(None, 3) is None and ratio(1, 0) is None and ratio(1, 3) == 0.3333
    assert change(10, 8) == {"value": 10, "previous": 8, "change": 2, "change_pct": 25.0}
    assert finite({"a": [float("nan"), 1.5, (float("inf"),)]}) == {"a": [None, 1.5, [None]]}
    from decimal import Decimal

    assert plain(Decimal("2")) == 2 and plain(Decimal("2.5")) == 2.5
    assert plain(dt.datetime(2018, 11, 1)) == "2018-11-01" and plain(D1) == "2018-11-01"
    with pytest.raises(TypeError):
        json_default(object())


def test_the_top_listeners_are_one_query_only_when_there_are_top_lists() -> None:
    cursor = FakeCursor({sql.REPORT_TOP_LISTENERS: [{"artist": "A", "song": None, "listeners": 4}]})
    inputs = Inputs(cursor, Period(D1, D2), {})
    assert document.top_listeners(inputs) == {} and cursor.executed == []
    inputs.artists = [{"artist": "A", "plays": 5, "songs": 1}]
    assert document.top_listeners(inputs) == {("A", None): 4} and cursor.executed == [sql.REPORT_TOP_LISTENERS]


# --------------------------------------------------------------------------- charts


def mark_units(spec: dict) -> list[dict]:
    units = [spec] if "mark" in spec else []
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for child in spec.get(key, []):
            units += mark_units(child)
    return units


@pytest.mark.parametrize("panel", [p for p in PANELS if p.chart], ids=lambda p: p.key)
def test_each_chart_is_vega_lite_with_its_data_inline_and_tooltips(panel, small) -> None:
    specs = panel.chart(small)
    assert specs
    for spec in specs:
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
        json.dumps(spec, allow_nan=False)
        assert "url" not in json.dumps(spec.get("data", {}))
        assert mark_units(spec)
        for unit in mark_units(spec):
            assert "tooltip" in unit["encoding"], f"{panel.key}: a {unit['mark']} mark has no tooltip"
            assert unit.get("data", spec.get("data", {})).get("values") is not None


# --------------------------------------------------------------------------- templates


def test_each_template_escapes_its_title_definition_and_data(small) -> None:
    env = page.environment()
    for panel in PANELS:
        hostile = dataclasses.replace(panel, title=HOSTILE, definition=HOSTILE)
        html = page.render_panel(env, hostile, small, page.Charts())
        assert "<script" not in html, panel.key
        assert html.count("&lt;script&gt;window.__pwned = 1&lt;/script&gt;") >= 2, panel.key
        assert f'id="panel-{panel.key}"' in html


def test_the_page_has_every_panel_in_order_and_every_chart_it_draws(small) -> None:
    html = page.render_html(small, bundle="window.vegaEmbed=function(){};")
    found = re.findall(r'<section class="panel( wide)?" id="panel-([a-z_]+)">', html)
    assert [(key, bool(wide)) for wide, key in found] == [(p.key, p.wide) for p in PANELS]
    specs = json.loads(re.search(r'<script type="application/json" id="chart-specs">(.*?)</script>', html,
                                 re.DOTALL).group(1))
    assert re.findall(r'<div class="chart" id="(chart-\d+)">', html) == list(specs)
    assert len(specs) == sum(len(p.chart(small)) for p in PANELS if p.chart)
    assert html.count("<script") == 3 and "<img" not in html
    # Data in tables and sentences as text; in the specs as \u003c.
    assert HOSTILE not in html and "&lt;script&gt;window.__pwned" in section(html, "top_songs")
    assert "&lt;b&gt;Artist&lt;/b&gt;" in section(html, "top_artists")
    assert "\\u003cscript\\u003e" in html
    assert "Compared with 2018-10-30 to 2018-10-31. Active users in the period: 9." in re.sub(r"\s+", " ", html)
    daily = re.sub(r"\s+", " ", section(html, "daily"))
    assert "a later day is loaded, then the forecast (orange, dashed)" in daily
    assert "1 errors and 3 help pages in 170 events." in re.sub(r"\s+", " ", section(html, "errors"))
    assert "<td class=\"num\">&lt;0.001</td>" in section(html, "trending_songs")
    assert ">Holt-Winters<" in section(html, "forecast")


def test_an_empty_page_draws_no_chart_and_says_why(empty) -> None:
    html = page.render_html(empty, bundle="")
    assert '<div class="chart"' not in html
    for key, message in [("daily", "No events in this period."), ("stickiness", "No events."),
                         ("lifecycle", "No weeks in the period."),
                         ("retention", "No user registered in this period (users registered before the data are "
                                       "in no cohort)."), ("sessions", "No sessions."),
                         ("heatmap", "No plays in this period."), ("top_songs", "No plays in this period."),
                         ("geography", "No locations."), ("devices", "No user agents."), ("demographics", "No users."),
                         ("funnel", "No listeners in this period."),
                         ("forecast", "Trends could not be computed.")]:
        assert f'<p class="empty">{message}</p>' in section(html, key).replace("&#39;", "'"), key
    assert re.search(r'<p class="what">Plays \(NextSong events\) and active users [^<]* per UTC day;[^<]*\.</p>', html)


def test_script_json_cannot_end_its_element() -> None:
    shown = page.script_json({"a": "</script><!-- & \u2028\u2029", "day": D1})
    assert "<" not in shown and ">" not in shown and "&" not in shown
    assert "\u2028" not in shown and "\u2029" not in shown
    assert json.loads(shown) == {"a": "</script><!-- & \u2028\u2029", "day": "2018-11-01"}


def test_code_that_could_end_its_element_is_not_inlined() -> None:
    with pytest.raises(Exception, match="cannot inline"):
        page.inlined("x = '</SCRIPT>'", "script")
    with pytest.raises(Exception, match="cannot inline"):
        page.inlined("<!-- x", "script")
    assert page.inlined("a { color: red }", "style") == "a { color: red }"


def test_numbers_as_the_page_shows_them() -> None:
    assert [text.show(v) for v in (None, 1234, 2.5, True, "<b>")] == ["–", "1,234", "2.50", "True", "<b>"]
    assert [text.short(v) for v in (None, 2.0, 2.5, 1234.125)] == ["–", "2", "2.5", "1,234.12"]
    assert text.percent(0.1234) == "12.3%" and text.percent(None) == "–"
    assert [text.p_value_text(v) for v in (None, 0.0001, 0.25)] == ["–", "<0.001", "0.250"]
    assert text.model_name("holt_winters") == "Holt-Winters" and text.model_name("seasonal_naive") == "seasonal naive"
    assert text.moment("2026-12-02 07:39:32.567757") == "2026-12-02 07:39:32" and text.moment(None) is None
