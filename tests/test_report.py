"""report.py: the numbers behind the panels, and the page in a real browser.

The numbers are checked against figures computed here, in plain Python, from the raw JSON files
of the real sample (deduplicated by event identity, text repaired as loading repairs it), on the
embedded server and on the machine's PostgreSQL; and against planted.json on generated data,
whose funnel and churn answers the generator counted as it wrote them. The page is opened in
Debian's chromium with every request outside the file blocked and counted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE, SampleTemplates, Warehouse, _warehouse_of_kind, raw_events

TEAM_SCREENSHOT = Path("/tmp/team/report.png")
# The real sample's figures (each test also computes its own from the raw files)
EXPECTED_PAID_FIRST, EXPECTED_PAID_LAST, EXPECTED_SESSION_MEDIAN = 15, 22, 7.9
HOSTILE_SONG = "</script><script>window.__pwned = 'script'; alert(1)</script>"
HOSTILE_ARTIST = "<img src=x onerror=\"window.__pwned = 'img'; alert(2)\">"
HOSTILE_SONG_2 = "Innocent <svg onload=alert(3)> & \u2028 line \u2029 separators"


# --------------------------------------------------------------------------- the raw sample, in plain Python


def plays_of(events: list[dict]) -> list[dict]:
    return [e for e in events if e["page"] == "NextSong"]


def expected_top_songs(events: list[dict]) -> dict[tuple[str, str], tuple[int, int]]:
    plays, listeners = Counter(), defaultdict(set)
    for e in plays_of(events):
        plays[(e["song"], e["artist"])] += 1
        listeners[(e["song"], e["artist"])].add(e["user"])
    return {key: (count, len(listeners[key])) for key, count in plays.items()}


def expected_funnel(events: list[dict]) -> dict[str, int]:
    """The shared definitions (GUIDE), over the whole sample, event by event."""
    by_user = defaultdict(list)
    for e in events:
        if e["user"] is not None:
            by_user[e["user"]].append(e)
    counts = Counter()
    for user_events in by_user.values():
        free_plays = [e["start"] for e in user_events if e["page"] == "NextSong" and e["level"] == "free"]
        if free_plays:
            counts["free_listeners"] += 1
            upgrades = [e["start"] for e in user_events if e["page"] == "Upgrade" and e["start"] >= min(free_plays)]
            if upgrades:
                counts["upgrade_page"] += 1
                if any(e["page"] == "Submit Upgrade" and e["start"] >= min(upgrades) for e in user_events):
                    counts["submit_upgrade"] += 1
        if any(e["level"] == "paid" for e in user_events):
            counts["paid_users"] += 1
            downgrades = [e["start"] for e in user_events if e["page"] == "Downgrade"]
            if downgrades:
                counts["downgrade_page"] += 1
                if any(e["page"] == "Submit Downgrade" and e["start"] >= min(downgrades) for e in user_events):
                    counts["submit_downgrade"] += 1
    return {k: counts[k] for k in ("free_listeners", "upgrade_page", "submit_upgrade", "paid_users",
                                   "downgrade_page", "submit_downgrade")}


def state_of(location: str | None) -> str | None:
    """'Dallas-Fort Worth-Arlington, TX' -> 'TX'; 'New York-Newark-Jersey City, NY-NJ-PA' -> 'NY'."""
    if not location or ", " not in location:
        return None
    state = location.split(", ")[1].split("-")[0]
    return state if len(state) == 2 else None


# --------------------------------------------------------------------------- fixtures


def empty_warehouse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                    kind: str) -> Iterator[Warehouse]:
    workdir = tmp_path_factory.mktemp(f"report-{kind}")
    name = f"t_report_{re.sub(r'[^a-z0-9]+', '_', request.node.name.lower())[:24]}_{kind}_{os.getpid()}"
    warehouses = _warehouse_of_kind(request, kind, workdir, name)
    yield next(warehouses)
    next(warehouses, None)  # drops the database


def loaded_warehouse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kind: str,
                     log_data: Path, song_data: Path) -> Iterator[Warehouse]:
    for warehouse in empty_warehouse(request, tmp_path_factory, kind):
        warehouse.run("create_tables.py")
        warehouse.load(log_data, song_data)
        yield warehouse


@pytest.fixture(scope="module", params=["embedded", "postgres"])
def sample_report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  sample_templates: SampleTemplates):
    """The real sample on each server (a copy of the session's loaded template), and report.py --json's
    document for it."""
    for warehouse in empty_warehouse(request, tmp_path_factory, request.param):
        sample_templates.copy_into(warehouse)
        document = json.loads(warehouse.run("report.py", "--json").stdout)
        yield warehouse, document


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return raw_events(SAMPLE / "log_data")


# --------------------------------------------------------------------------- the numbers, on the real sample


def test_json_has_every_panel_under_its_stable_key(sample_report) -> None:
    _, document = sample_report
    for key in ("kpis", "daily", "stickiness", "levels", "lifecycle", "retention", "funnel", "churn", "sessions",
                "heatmap", "top_songs", "top_artists", "trending_songs", "trending_artists", "geography", "devices",
                "engagement", "demographics", "errors", "freshness", "forecast"):
        assert key in document, key
    assert document["period"] == {"from": "2018-11-01", "to": "2018-11-30", "days": 30}
    # The sample has no cancellations and only 30 days: both panels say so rather than show nothing.
    assert document["churn"]["churned_users"] == 0 and "Cancellation Confirmation" in document["churn"]["message"]
    assert "30 days" in document["forecast"]["message"] or "trends" in document["forecast"]["message"].lower()
    assert document["freshness"]["last_run"]["outcome"] == "succeeded"


def test_kpis_and_stickiness_equal_the_raw_files(sample_report, events) -> None:
    _, document = sample_report
    k = document["kpis"]
    active = defaultdict(set)
    for e in events:
        if e["user"] is not None:
            active[e["start"].date()].add(e["user"])
    last = max(active)
    window = lambda days, end: set().union(*(active.get(end - dt.timedelta(d), set()) for d in range(days)))  # noqa: E731
    assert k["plays"]["value"] == len(plays_of(events)) == 6820
    # The latest day (2018-11-30, its events stop at 19:54) is partial: DAU is for the day before.
    complete = last - dt.timedelta(days=1)
    assert k["dau"]["day"] == complete.isoformat() == "2018-11-29"
    assert k["dau"]["value"] == len(active[complete])
    assert k["wau"]["value"] == len(window(7, last))
    assert k["mau"]["value"] == len(window(28, last))
    assert k["active_users"] == len(set().union(*active.values())) == 97
    assert k["churned_users"]["value"] == 0
    assert k["plays"]["change"] is None and k["previous_period"]["in_data"] is False  # nothing loaded before
    # Stickiness counts MAU from spans of user-days; here, by brute force over every window.
    assert [(r["activity_date"], r["dau"], r["mau"]) for r in document["stickiness"]] == [
        (day.isoformat(), len(active[day]), len(window(28, day))) for day in sorted(active)]


def test_heatmap_cells_equal_the_raw_files(sample_report, events) -> None:
    _, document = sample_report
    cells = Counter((e["start"].isoweekday(), e["start"].hour) for e in plays_of(events))
    assert len(document["heatmap"]) == 7 * 24
    assert {(c["weekday"], c["hour"]): c["plays"] for c in document["heatmap"]} == {
        (day, hour): cells.get((day, hour), 0) for day in range(1, 8) for hour in range(24)}
    # Per day of the weekday: November 2018 has five Thursdays and Fridays, four of the others.
    november = [dt.date(2018, 11, 1) + dt.timedelta(days=i) for i in range(30)]
    weekdays = Counter(day.isoweekday() for day in november)
    assert weekdays[4] == weekdays[5] == 5 and weekdays[1] == 4
    assert {(c["weekday"], c["hour"]): c["plays_per_day"] for c in document["heatmap"]} == {
        (day, hour): round(cells.get((day, hour), 0) / weekdays[day], 2) for day in range(1, 8) for hour in range(24)}


# --------------------------------------------------------------------------- the definitions, on the real sample
# Each computed here from the raw JSON, event by event, by the rule as the README states it.


def registered_at(events: list[dict]) -> dict[int, dt.datetime]:
    """Each user's registration (epoch ms; the earliest), or their first event where it is missing."""
    found: dict[int, dt.datetime] = {}
    for e in events:
        if e["user"] is None:
            continue
        when = (dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=e["registration"])
                if e.get("registration") is not None else None)
        if when is not None:
            found[e["user"]] = min(found.get(e["user"], when), when)
    for e in sorted((e for e in events if e["user"] is not None), key=lambda e: e["start"]):
        found.setdefault(e["user"], e["start"])
    return found


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def test_new_users_and_cohorts_by_registration(sample_report, events) -> None:
    _, document = sample_report
    registered = registered_at(events)
    first, last = dt.date(2018, 11, 1), dt.date(2018, 11, 30)
    new = {u for u, when in registered.items() if first <= when.date() <= last}
    assert document["kpis"]["new_users"]["value"] == len(new) == 19  # of 97 active: the rest registered before
    # Cohorts: new users by ISO week of registration, with every week from theirs to the last, 0% too.
    active_weeks = defaultdict(set)
    for e in events:
        if e["user"] is not None:
            active_weeks[monday(e["day"])].add(e["user"])
    expected = []
    for week in sorted({monday(registered[u].date()) for u in new}):
        members = {u for u in new if monday(registered[u].date()) == week}
        cells = []
        for since in range((monday(last) - week).days // 7 + 1):
            active = len(members & active_weeks[week + dt.timedelta(weeks=since)])
            cells.append((since, active, round(active / len(members), 4)))
        expected.append((week.isoformat(), len(members), cells))
    cohorts = document["retention"]["cohorts"]
    assert [(c["cohort"], c["users"], [(w["weeks_since"], w["users"], w["share"]) for w in c["weeks"]])
            for c in cohorts] == expected
    assert sum(c["users"] for c in cohorts) == len(new)
    assert [len(c["weeks"]) for c in cohorts] == [5]  # Oct 29 .. Nov 26: every week has its cell
    # The data starts on a Thursday and its last day is partial: the first and last weeks are marked.
    assert cohorts[0]["partial"] is True
    assert [w["partial"] for w in cohorts[0]["weeks"]] == [True, False, False, False, True]
    # Lifecycle's "new" is the same rule by week: active users registered that ISO week (its days
    # before the data too).
    assert {r["week"]: r["new"] for r in document["lifecycle"]} == {
        w.isoformat(): sum(1 for u in active_weeks[w] if monday(registered[u].date()) == w)
        for w in sorted(active_weeks)}


def test_paid_subscribers_from_the_complete_log(sample_report, events) -> None:
    """Paid on day D: registered by the end of D, no Cancellation Confirmation as the last event by
    then, and the level in force then paid (before the first event: that event's level)."""
    _, document = sample_report
    registered = registered_at(events)
    by_user = defaultdict(list)
    for e in events:
        if e["user"] is not None and e.get("level"):
            by_user[e["user"]].append(e)

    def paid_on(day: dt.date) -> int:
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
        count = 0
        for user, evs in by_user.items():
            evs.sort(key=lambda e: (e["start"], e["sessionId"], e["itemInSession"]))
            if registered[user] > end:
                continue
            seen = [e for e in evs if e["start"] <= end]
            if seen and seen[-1]["page"] == "Cancellation Confirmation":
                continue
            count += (seen[-1] if seen else evs[0])["level"] == "paid"
        return count

    days = {d["activity_date"]: d["paid_subscribers"] for d in document["levels"]["days"]}
    assert days["2018-11-01"] == paid_on(dt.date(2018, 11, 1))
    assert days["2018-11-30"] == paid_on(dt.date(2018, 11, 30))
    assert days == {day: paid_on(dt.date.fromisoformat(day)) for day in days}
    assert (days["2018-11-01"], days["2018-11-30"]) == (EXPECTED_PAID_FIRST, EXPECTED_PAID_LAST)


def test_the_latest_day_is_partial(sample_report, events) -> None:
    _, document = sample_report
    last = max(e["day"] for e in events)
    assert max(e["start"] for e in events) == dt.datetime(2018, 11, 30, 19, 54, 24, 796000)  # stops mid-evening
    assert [d["activity_date"] for d in document["daily"]["days"] if d["partial"]] == [last.isoformat()]
    assert document["kpis"]["dau"]["day"] == "2018-11-29"
    # Stickiness: the first 27 days' 28-day windows reach back before the data.
    windows = [(r["activity_date"], r["partial_window"]) for r in document["stickiness"]]
    assert windows == [((dt.date(2018, 11, 1) + dt.timedelta(days=i)).isoformat(), i < 27) for i in range(30)]


def test_sessions_end_when_their_last_event_ends(sample_report, events) -> None:
    """A session lasts from its first event to the end of its last: a NextSong ends at ts + length."""
    import statistics

    _, document = sample_report
    sessions = defaultdict(list)
    for e in events:
        if e["user"] is not None:
            sessions[(e["user"], e["sessionId"])].append(e)

    def end(e: dict) -> dt.datetime:
        if e["page"] == "NextSong" and e["length"] is not None:
            return e["start"] + dt.timedelta(milliseconds=round(e["length"] * 1000))
        return e["start"]

    seconds = [(max(end(e) for e in evs) - min(e["start"] for e in evs)).total_seconds() for evs in sessions.values()]
    s = document["sessions"]
    assert s["sessions"] == len(seconds)
    assert s["median_minutes"] == round(statistics.median(seconds) / 60, 2) == EXPECTED_SESSION_MEDIAN
    under_5 = sum(1 for x in seconds if x < 300)
    assert s["length_buckets"][0]["sessions"] == under_5
    assert sum(1 for x in seconds if x == 0) < 301  # "0 minutes" was 301 of 911 when sessions stopped at the last start


@pytest.fixture(scope="module")
def late_registrant(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The real sample plus user 9001, who registers on 2018-11-06, plays that day and never again."""
    copy = tmp_path_factory.mktemp("registrant") / "sample"
    shutil.copytree(SAMPLE, copy)
    template = json.loads((copy / "log_data/2018/11/2018-11-06-events.json").read_text().splitlines()[0])
    registered = 1541505600000  # 2018-11-06 12:00 UTC
    lines = [json.dumps({**template, "userId": "9001", "registration": registered, "sessionId": 900100,
                         "itemInSession": i, "ts": registered + 60_000 * (i + 1), "page": "NextSong",
                         "song": "Late Song", "artist": "Late Artist", "length": 200.0}) for i in range(3)]
    (copy / "log_data/2018/11/2018-11-06-registrant.json").write_text("\n".join(lines) + "\n")
    for warehouse in loaded_warehouse(request, tmp_path_factory, "embedded", copy / "log_data", copy / "song_data"):
        yield raw_events(copy / "log_data"), json.loads(warehouse.run("report.py", "--json").stdout)


def test_a_cohort_has_its_0_percent_cells(late_registrant) -> None:
    """A cohort none of whose users came back: every week after its first is a cell at 0%."""
    events, document = late_registrant
    registered = registered_at(events)
    week = monday(dt.date(2018, 11, 6))
    members = {u for u, when in registered.items() if monday(when.date()) == week}
    assert members == {9001}
    active = defaultdict(set)
    for e in events:
        if e["user"] is not None:
            active[monday(e["day"])].add(e["user"])
    expected = [(since, len(members & active[week + dt.timedelta(weeks=since)])) for since in range(4)]
    assert expected == [(0, 1), (1, 0), (2, 0), (3, 0)]
    cohort = next(c for c in document["retention"]["cohorts"] if c["cohort"] == week.isoformat())
    assert [(w["weeks_since"], w["users"]) for w in cohort["weeks"]] == expected
    assert [w["share"] for w in cohort["weeks"]] == [1.0, 0.0, 0.0, 0.0]
    assert document["kpis"]["new_users"]["value"] == 20 == sum(c["users"] for c in document["retention"]["cohorts"])


def test_top_songs_by_text_with_distinct_listeners(sample_report, events) -> None:
    _, document = sample_report
    expected = expected_top_songs(events)
    top = document["top_songs"]
    assert len(top) == 20
    # Ranks follow plays; ties at the cut may be ordered by the server's collation, so the plays
    # column is compared as a whole and each row's figures by its own song.
    assert [row["plays"] for row in top] == sorted((p for p, _ in expected.values()), reverse=True)[:20]
    for row in top:
        assert (row["plays"], row["listeners"]) == expected[(row["song"], row["artist"])], row
    assert top[0]["song"] == "You're The One" and top[0]["artist"] == "Dwight Yoakam"
    assert (top[0]["plays"], top[0]["listeners"]) == (37, 22)
    assert any(row["artist"] == "Björk" for row in top)  # mojibake in the raw file, repaired text here


def test_funnel_equals_the_raw_files(sample_report, events) -> None:
    _, document = sample_report
    assert document["funnel"]["counts"] == expected_funnel(events)
    steps = document["funnel"]["upgrade"]
    assert steps[1]["rate_from_previous"] == round(steps[1]["users"] / steps[0]["users"], 4)


def test_geography_by_state_equals_the_raw_files(sample_report, events) -> None:
    _, document = sample_report
    users, plays = defaultdict(set), Counter()
    for e in events:
        state = state_of(e.get("location"))
        if e["user"] is not None and state:
            users[state].add(e["user"])
            plays[state] += e["page"] == "NextSong"
    assert {r["state"]: (r["users"], r["plays"]) for r in document["geography"]} == {
        s: (len(u), plays[s]) for s, u in users.items()}
    california = next(r for r in document["geography"] if r["state"] == "CA")
    assert california == {"state": "CA", "users": len(users["CA"]), "plays": plays["CA"]}
    # A multi-state metro counts for its first state: "New York-Newark-Jersey City, NY-NJ-PA" is NY's.
    assert any(e["location"].endswith(", NY-NJ-PA") for e in events if e.get("location"))
    assert "NJ" not in users or all(not e["location"].endswith("NY-NJ-PA") for e in events
                                    if e.get("location") and state_of(e["location"]) == "NJ")


def test_demographics_equal_the_raw_files(sample_report, events) -> None:
    _, document = sample_report
    latest, gender, plays = {}, {}, Counter()
    for e in sorted((e for e in events if e["user"] is not None),
                    key=lambda e: (e["ts"], e["sessionId"], e["itemInSession"])):
        latest[e["user"]] = e["level"]
        gender[e["user"]] = e["gender"] or gender.get(e["user"])
        plays[e["user"]] += e["page"] == "NextSong"
    expected = Counter()
    expected_plays = Counter()
    for user, level in latest.items():
        expected[(gender[user], level)] += 1
        expected_plays[(gender[user], level)] += plays[user]
    assert {(r["gender"], r["level"]): (r["users"], r["plays"]) for r in document["demographics"]} == {
        key: (count, expected_plays[key]) for key, count in expected.items()}


def test_a_period_limits_every_panel(sample_report, events) -> None:
    warehouse, _ = sample_report
    document = json.loads(warehouse.run("report.py", "--json", "--from", "2018-11-16", "--to", "2018-11-30").stdout)
    period = [e for e in events if dt.date(2018, 11, 16) <= e["start"].date() <= dt.date(2018, 11, 30)]
    before = [e for e in events if dt.date(2018, 11, 1) <= e["start"].date() <= dt.date(2018, 11, 15)]
    k = document["kpis"]
    assert k["plays"]["value"] == len(plays_of(period))
    assert k["plays"]["previous"] == len(plays_of(before))  # the 15 days before are in the data
    assert k["plays"]["change"] == len(plays_of(period)) - len(plays_of(before))
    assert document["funnel"]["counts"] == expected_funnel(period)
    assert sum(c["plays"] for c in document["heatmap"]) == len(plays_of(period))
    assert document["daily"]["days"][0]["activity_date"] == "2018-11-16"


def test_bad_periods_get_one_line(sample_report) -> None:
    warehouse, _ = sample_report
    proc = warehouse.run("report.py", "--from", "2018-11-20", "--to", "2018-11-10", check=False)
    assert proc.returncode == 1 and proc.stderr.strip() == "error: --from 2018-11-20 is after --to 2018-11-10"
    proc = warehouse.run("report.py", "--from", "yesterday", check=False)
    assert proc.returncode == 2 and "expected a date as YYYY-MM-DD, not 'yesterday'" in proc.stderr


# --------------------------------------------------------------------------- planted behaviour


@pytest.fixture(scope="module")
def planted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("planted") / "data"
    subprocess.run([sys.executable, str(ROOT / "generate_data.py"), str(out), "--days", "42", "--users", "150",
                    "--songs", "300", "--events", "40000", "--plant"], check=True, capture_output=True, cwd=ROOT)
    answers = json.loads((out / "planted.json").read_text())
    for warehouse in loaded_warehouse(request, tmp_path_factory, "embedded", out / "log_data", out / "song_data"):
        yield warehouse, answers, json.loads(warehouse.run("report.py", "--json").stdout)


DOCS_SCREENSHOT = ROOT / "docs" / "dashboard.png"  # README's picture: DWH_UPDATE_SCREENSHOT=1 writes it anew


def test_the_demo_like_dashboard_draws_every_chart_and_marks_what_is_partial(planted, browser, tmp_path: Path) -> None:
    """Generated data like the demo's, in chromium: every chart drawn, no error; the latest day
    and the partial windows drawn apart; the screenshot is the one README shows."""
    warehouse, _, document = planted
    out = tmp_path / "demo.html"
    warehouse.run("report.py", "--out", str(out))
    page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=0.45)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(out.as_uri())
    page.wait_for_function("""() => [...document.querySelectorAll('.chart')].every(
        c => c.querySelector('svg, canvas') || c.textContent.includes('could not be drawn'))""", timeout=60_000)
    assert page.eval_on_selector_all(".chart", "cs => cs.filter(c => !c.querySelector('svg, canvas')).length") == 0
    assert problems == []
    assert [d["partial"] for d in document["daily"]["days"]][-2:] == [False, True]
    assert sum(r["partial_window"] for r in document["stickiness"]) == 27
    assert "last complete day" in page.inner_text("#panel-kpis")
    page.close()


@pytest.fixture(scope="module")
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The demo's generator (run.sh demo: --lifecycle, weekly rhythm, shocks) on fewer users and days."""
    out = tmp_path_factory.mktemp("demo") / "data"
    subprocess.run([sys.executable, str(ROOT / "generate_data.py"), str(out), "--lifecycle", "--days", "70",
                    "--start", "2018-10-01", "--users", "400", "--songs", "1500", "--events", "90000",
                    "--weekly", "0.3", "--shocks", "0.05"], check=True, capture_output=True, cwd=ROOT)
    for warehouse in loaded_warehouse(request, tmp_path_factory, "embedded", out / "log_data", out / "song_data"):
        yield warehouse, json.loads(warehouse.run("report.py", "--json").stdout)


def test_the_demo_dashboard_has_data_in_every_panel(demo, browser, tmp_path: Path) -> None:
    """The demo's data in chromium: every chart drawn, no panel empty, forecasts for all three
    series; the screenshot is the one README shows (DWH_UPDATE_SCREENSHOT=1 writes it anew)."""
    warehouse, document = demo
    assert all(document["forecast"]["forecast"][s] for s in ("plays", "active_users", "paid_users"))
    assert len(document["retention"]["cohorts"]) >= 8 and document["churn"]["weekly"]
    assert document["kpis"]["new_users"]["value"] > 0
    out = tmp_path / "demo.html"
    warehouse.run("report.py", "--out", str(out))
    page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=0.45)
    page.goto(out.as_uri())
    page.wait_for_function("""() => [...document.querySelectorAll('.chart')].every(
        c => c.querySelector('svg, canvas') || c.textContent.includes('could not be drawn'))""", timeout=60_000)
    assert page.eval_on_selector_all(".chart", "cs => cs.filter(c => !c.querySelector('svg, canvas')).length") == 0
    assert page.eval_on_selector_all(".empty", "es => es.map(e => e.textContent)") == []
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    if os.environ.get("DWH_UPDATE_SCREENSHOT"):
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copy(shot, DOCS_SCREENSHOT)
    assert DOCS_SCREENSHOT.stat().st_size < 400_000  # README's picture stays small


def test_funnel_and_churn_equal_what_was_planted(planted) -> None:
    _, answers, document = planted
    assert document["funnel"]["counts"] == answers["funnel"]
    weekly = {w["week"]: w["churned_users"] for w in document["churn"]["weekly"] if w["churned_users"]}
    assert weekly == answers["churned_by_week"]
    assert document["kpis"]["churned_users"]["value"] == len(answers["churned_users"])
    assert document["churn"]["behaviour"]["churned"]["users"] == len(answers["churned_users"])
    assert document["period"]["days"] == answers["days"]


# --------------------------------------------------------------------------- SQL that Redshift would accept


# --------------------------------------------------------------------------- the page, in a real browser


def hostile_log(path: Path, template: dict) -> None:
    """A day of plays whose titles and artist are markup, enough of them to top the charts."""
    lines = []
    for i in range(120):
        song, artist = [(HOSTILE_SONG, "Hostile Artist"), ("Plain Song", HOSTILE_ARTIST),
                        (HOSTILE_SONG_2, "Hostile Artist")][i % 3]
        lines.append(json.dumps({**template, "song": song, "artist": artist, "sessionId": 990000 + i // 10,
                                 "itemInSession": i % 10, "ts": template["ts"] + 1000 * i, "page": "NextSong"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def hostile_page(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The real sample plus a log file of hostile titles, loaded, and report.py's page for it."""
    copy = tmp_path_factory.mktemp("hostile") / "sample"
    shutil.copytree(SAMPLE, copy)
    day = copy / "log_data/2018/11/2018-11-30-events.json"
    template = json.loads(day.read_text().splitlines()[0])
    hostile_log(copy / "log_data/2018/11/2018-11-30-hostile.json", template)
    for warehouse in loaded_warehouse(request, tmp_path_factory, "embedded", copy / "log_data", copy / "song_data"):
        out = warehouse.workdir / "report.html"
        proc = warehouse.run("report.py", "--out", str(out))
        last_line = proc.stderr.splitlines()[-1]
        assert re.fullmatch(rf"wrote {re.escape(str(out))} \([\d,]+ KB\) in [\d.]+ s", last_line)
        yield out, out.read_text(encoding="utf-8")


def chart_specs(page_html: str) -> dict:
    match = re.search(r'<script type="application/json" id="chart-specs">(.*?)</script>', page_html, re.DOTALL)
    return json.loads(match.group(1))


def mark_units(spec: dict) -> Iterator[dict]:
    if "mark" in spec:
        yield spec
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for child in spec.get(key, []):
            yield from mark_units(child)


def test_the_page_is_self_contained_and_every_mark_has_a_tooltip(hostile_page) -> None:
    _, page_html = hostile_page
    assert len(page_html.encode()) < 2 << 20
    assert page_html.count("window.vegaEmbed=") == 1  # the bundle, inlined once
    markup = re.sub(r"(<script[^>]*>).*?</script>", r"\1</script>", page_html, flags=re.DOTALL)
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", markup, re.IGNORECASE)  # nothing loaded
    specs = chart_specs(page_html)
    assert len(specs) >= 15
    for chart_id, spec in specs.items():
        assert "url" not in json.dumps(spec.get("data", {})), chart_id  # data inline, never fetched
        for unit in mark_units(spec):
            assert "tooltip" in unit.get("encoding", {}), f"{chart_id}: a {unit['mark']} mark has no tooltip"
    # Markup in the data never reaches the page as markup: escaped in tables, \u003c in the JSON.
    assert HOSTILE_SONG not in page_html and HOSTILE_ARTIST not in page_html
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned" in page_html


def test_users_appear_by_id_only(hostile_page, events) -> None:
    _, page_html = hostile_page
    text = page_html[page_html.index("<main>"):page_html.index("<script>")]
    others = " ".join(str(e.get(k) or "") for e in events for k in ("song", "artist", "location", "userAgent"))
    names = {e[k] for e in events for k in ("firstName", "lastName") if e.get(k)}
    assert len(names) > 50
    for name in names:
        if not re.search(rf"\b{re.escape(name)}\b", others):  # a name that is not also a song or a place
            assert not re.search(rf"\b{re.escape(name)}\b", text), name


def test_the_page_renders_offline_and_hostile_text_runs_nothing(hostile_page, browser, tmp_path: Path) -> None:
    path, page_html = hostile_page
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside, problems, dialogs = [], [], []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    def only_the_file(route) -> None:
        if route.request.url == path.as_uri():
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_file)
    page.goto(path.as_uri())
    page.wait_for_function("""() => [...document.querySelectorAll('.chart')].every(
        c => c.querySelector('svg, canvas') || c.textContent.includes('could not be drawn'))""", timeout=60_000)
    charts = page.eval_on_selector_all(".chart", "cs => cs.map(c => [c.id, !!c.querySelector('svg, canvas')])")
    assert len(charts) == len(chart_specs(page_html))
    assert [chart_id for chart_id, drawn in charts if not drawn] == []
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    if TEAM_SCREENSHOT.parent.is_dir():
        shutil.copy(tmp_path / "report.png", TEAM_SCREENSHOT)
    assert problems == [] and outside == [] and dialogs == []
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert page.evaluate("document.querySelectorAll('script').length") == 3
    cells = page.eval_on_selector_all("#panel-top_songs td", "tds => tds.map(td => td.textContent)")
    assert HOSTILE_SONG in cells and HOSTILE_SONG_2 in cells
    artists = page.eval_on_selector_all("#panel-top_artists td", "tds => tds.map(td => td.textContent)")
    assert HOSTILE_ARTIST in artists
    page.close()
