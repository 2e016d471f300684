"""Benchmark: the toolkit's load against the floor, and what a run costs in a big warehouse.

    python bench/bench.py [--sizes 1m,10m] [--rounds 2] [--postgres-url URL]
                          [--no-analytics-compare] [--insight] [--checking]

Sizes (the data is generated once and cached under bench/out/):
  1m    1,000,000 events over 30 days, 100,000 song files, 5,000 users
  10m  10,000,000 events over 300 days, 300,000 song files, 50,000 users
The last day's log file is held back: the warehouse is loaded without it, then gets it as "one
new day". Each round measures, each on a fresh warehouse (a new embedded server, or with
--postgres-url a new database on that server):
  floor      the same server ingesting the same objects with nothing else: every event and song
             object listed, read (as the toolkit reads them) and COPY'd as one jsonb value per row;
  ours       python create_tables.py, then python etl.py, as a user runs them (subprocesses, so
             interpreter and server start-up count), with its peak memory (etl.py and its workers);
             then etl.py again (nothing new), then etl.py with the new day (incremental, big);
  no-analytics  the same full load and new day with DWH_BENCH_NO_ANALYTICS=1 (the star schema only):
             etl.py with the layer over etl.py without it is what maintaining the layer costs;
  songs-only a warehouse loaded with the songs and no events, then the same new day (incremental,
             small): the day into the big warehouse over the day into this one is the
             incremental-day ratio (1.0: a run costs what is new, whatever the warehouse holds);
  insight    (--insight) trends.py and report.py on the loaded warehouse, when they exist.
Floor and ours alternate within a round and swap order between rounds; every figure is the
median over the rounds, and each ratio is taken within a round (machines are noisy: compare
ratios, not absolute times across runs). Results go to bench/out/results-<size>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sparkify_dwh import (  # noqa: E402
    console,
    session,
    settings,
    sources,
    staging,
    warehouse,
)

OUT = ROOT / "bench" / "out"
FLOOR_COPY = "COPY {table} (doc) FROM STDIN WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"
SIZES = {  # name -> (events, songs, users, days)
    "smoke": (20_000, 2_000, 200, 5),  # a quick check of the bench itself
    "1m": (1_000_000, 100_000, 5_000, 30),
    "10m": (10_000_000, 300_000, 50_000, 300),
}


# --------------------------------------------------------------------------- data


def generate(events: int, songs: int, users: int, days: int) -> Path:
    data = OUT / f"data-{events}-{songs}-{users}-{days}"
    if not (data / "log_data").is_dir():
        shutil.rmtree(data, ignore_errors=True)
        subprocess.run([sys.executable, str(ROOT / "generate_data.py"), str(data), "--events", str(events),
                        "--songs", str(songs), "--users", str(users), "--days", str(days)], check=True)
    return data


def day_files(data: Path) -> list[Path]:
    return sorted((data / "log_data").rglob("*-events.json"))


def log_view(data: Path, name: str, days: list[Path]) -> Path:
    """A log_data folder holding hard links to the given day files (same layout, no copying)."""
    view = OUT / "views" / name / "log_data"
    shutil.rmtree(view.parent, ignore_errors=True)
    view.mkdir(parents=True)
    for day in days:
        add_day(data, view, day)
    return view


def add_day(data: Path, view: Path, day: Path) -> None:
    target = view / day.relative_to(data / "log_data")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.link(day, target)


# --------------------------------------------------------------------------- warehouses


class Target:
    """Fresh warehouses for the bench: embedded servers, or databases on a PostgreSQL server."""

    def __init__(self, postgres_url: str | None) -> None:
        self.url = urlparse(postgres_url) if postgres_url else None

    def fresh_config(self, name: str, logs: Path, songs: Path) -> Path:
        config = OUT / "configs" / f"{name}.cfg"
        config.parent.mkdir(parents=True, exist_ok=True)
        source = f"[S3]\nLOG_DATA = {logs}\nSONG_DATA = {songs}\n"
        if self.url is None:
            server = OUT / "servers" / name
            shutil.rmtree(server, ignore_errors=True)
            server.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(f"[WAREHOUSE]\nTARGET = embedded\nEMBEDDED_DIR = {server}\n[CLUSTER]\nDB_NAME = bench\n"
                              + source)
        else:
            database = f"bench_{name.replace('-', '_')}"
            self.recreate_database(database)
            config.write_text(f"[WAREHOUSE]\nTARGET = postgres\n[CLUSTER]\nHOST = {self.url.hostname}\n"
                              f"DB_PORT = {self.url.port or 5432}\nDB_NAME = {database}\n"
                              f"DB_USER = {unquote(self.url.username or 'postgres')}\n" + source)
        return config

    def env(self) -> dict[str, str]:
        """The password, if the URL has one, goes by environment, never into a file."""
        env = dict(os.environ)
        if self.url is not None and self.url.password:
            env["DWH_CLUSTER_DB_PASSWORD"] = unquote(self.url.password)
        return env

    def recreate_database(self, database: str) -> None:
        import psycopg2

        assert self.url is not None
        admin = psycopg2.connect(host=self.url.hostname, port=self.url.port or 5432,
                                 user=unquote(self.url.username or "postgres"),
                                 password=unquote(self.url.password) if self.url.password else None,
                                 dbname=self.url.path.lstrip("/") or "postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{database}"')
            cur.execute(f'CREATE DATABASE "{database}"')
        admin.close()

    def discard(self, name: str) -> None:
        """Free the disk a finished warehouse used (its server has stopped with its last script)."""
        if self.url is None:
            shutil.rmtree(OUT / "servers" / name, ignore_errors=True)


# --------------------------------------------------------------------------- measuring


def run_measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(seconds, peak resident memory in MB, stdout): the process and its worker processes, sampled
    every 20 ms (the warehouse server runs on its own and is not counted)."""
    import psutil

    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0
    watched = psutil.Process(proc.pid)

    def watch() -> None:
        nonlocal peak
        while proc.poll() is None:
            try:
                family = [watched, *watched.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in family if p.name() != "postgres"))
            except psutil.Error:
                pass
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    stdout, stderr = proc.communicate()
    watcher.join()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with exit code {proc.returncode}: {stderr.strip()[-500:]}")
    return seconds, peak / (1 << 20), stdout


def script(name: str, config: Path, *args: str) -> list[str]:
    return [sys.executable, str(ROOT / name), "--config", str(config), *args]


def lines_of(objects: list[sources.SourceObject], cfg: object) -> object:
    for _, data in sources.read_objects(cfg, objects):  # type: ignore[arg-type]
        yield data if data.endswith(b"\n") else data + b"\n"


def floor_in_process(config: Path) -> dict[str, float]:
    """Seconds to COPY every object of each source, one jsonb value per row."""
    cfg = settings.load_config(config)
    conn = warehouse.connect(cfg)
    seconds = {}
    for source in ("events", "songs"):
        started = time.perf_counter()
        objects = list(sources.list_objects(cfg, source, cfg.source(source)))
        with session.transaction(conn) as cur:
            cur.execute(f"CREATE TABLE floor_{source} (doc jsonb)")
            staging.copy_in(cur, FLOOR_COPY.format(table=f"floor_{source}"), lines_of(objects, cfg))
        seconds[source] = time.perf_counter() - started
    conn.close()
    return seconds


def floor(target: Target, name: str, logs: Path, songs: Path) -> dict[str, float]:
    """The floor in its own process, so its server stops (and its disk can go) when it is done."""
    config = target.fresh_config(name, logs, songs)
    proc = subprocess.run([sys.executable, __file__, "--floor-config", str(config)], check=True,
                          capture_output=True, text=True, env=target.env())
    target.discard(name)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ours(target: Target, name: str, data: Path, base_days: list[Path], new_day: Path,
         insight: bool) -> dict[str, float]:
    """The full load (without the new day), a run with nothing new, then the new day."""
    logs = log_view(data, name, base_days)
    config = target.fresh_config(name, logs, data / "song_data")
    env = target.env()
    create, _, _ = run_measured(script("create_tables.py", config), env)
    load, peak, summary = run_measured(script("etl.py", config), env)
    print(summary.strip().splitlines()[0])
    again, _, again_out = run_measured(script("etl.py", config), env)
    assert "0 event and 0 song objects" in again_out, again_out
    add_day(data, logs, new_day)
    day, _, _ = run_measured(script("etl.py", config), env)
    result = {"create_tables": create, "etl": load, "peak_mb": peak, "nothing_new": again, "new_day": day}
    if insight:
        result |= insight_timings(config, env)
    target.discard(name)
    return result


def insight_timings(config: Path, env: dict[str, str]) -> dict[str, float]:
    """trends.py and report.py on the loaded warehouse, where those scripts exist."""
    timings = {}
    for name, args in (("trends.py", ()), ("report.py", ("--out", str(OUT / "report.html")))):
        if (ROOT / name).exists():
            timings[name.removesuffix(".py")], _, _ = run_measured(script(name, config, *args), env)
        else:
            print(f"({name} is not there: not timed)")
    return timings


def no_analytics(target: Target, name: str, data: Path, base_days: list[Path], new_day: Path) -> dict[str, float]:
    """As ours, without the analytics layer: the full load, then the new day."""
    logs = log_view(data, name, base_days)
    config = target.fresh_config(name, logs, data / "song_data")
    env = target.env() | {"DWH_BENCH_NO_ANALYTICS": "1"}
    create, _, _ = run_measured(script("create_tables.py", config), env)
    load, peak, _ = run_measured(script("etl.py", config), env)
    add_day(data, logs, new_day)
    day, _, _ = run_measured(script("etl.py", config), env)
    target.discard(name)
    return {"create_tables": create, "etl": load, "peak_mb": peak, "new_day": day}


def songs_only(target: Target, name: str, data: Path, new_day: Path) -> dict[str, float]:
    """A warehouse holding only the songs, then the same new day."""
    logs = log_view(data, name, [])
    config = target.fresh_config(name, logs, data / "song_data")
    env = target.env()
    run_measured(script("create_tables.py", config), env)
    load, _, _ = run_measured(script("etl.py", config), env)
    add_day(data, logs, new_day)
    day, _, _ = run_measured(script("etl.py", config), env)
    target.discard(name)
    return {"songs_load": load, "new_day": day}


# --------------------------------------------------------------------------- what finding bad records costs


def trusting_row(columns: list[staging.Column]) -> object:
    """A row function that converts each field to COPY text and checks nothing: no type, range,
    length or control-character test (bad input would break the COPY or load wrong values)."""
    code = ["def row(record):", "    get = record.get", "    fields = []"]
    for col in columns:
        kind = staging.column_kind(col)
        text = {"integer": "v if v.__class__ is str else str(int(v))", "float": "repr(v)", "text": "v"}[kind]
        code.append(f"    v = get({col.field!r})")
        code.append(f"    fields.append('' if v is None or v == '' else {text})")
    code.append("    return DELIMITER.join(fields)")
    namespace = {"DELIMITER": staging.DELIMITER}
    exec("\n".join(code), namespace)  # our own column list
    return namespace["row"]


def checking_overhead(target: Target, data: Path) -> dict[str, float]:
    """etl.py's load, in this process, with every check against the same load with trusting_row:
    what finding the bad records costs clean data, end to end."""
    from sparkify_dwh import load

    results: dict[str, list[float]] = {"checked": [], "trusting": []}
    original = staging.RecordTyper.__init__

    def trusting_init(self: staging.RecordTyper, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        self._row = trusting_row(self.source_columns)  # type: ignore[assignment]

    for i in range(2):
        for label in ("checked", "trusting"):
            name = f"overhead-{label}-{i}"
            config = target.fresh_config(name, data / "log_data", data / "song_data")
            subprocess.run(script("create_tables.py", config), check=True, stdout=subprocess.DEVNULL, env=target.env())
            cfg = settings.load_config(config)
            conn = warehouse.connect(cfg)
            staging.RecordTyper.__init__ = trusting_init if label == "trusting" else original  # type: ignore
            started = time.perf_counter()
            load.load(conn, cfg)
            results[label].append(time.perf_counter() - started)
            staging.RecordTyper.__init__ = original  # type: ignore[method-assign]
            conn.close()
    return {label: min(runs) for label, runs in results.items()}


# --------------------------------------------------------------------------- report


def median(rounds: list[dict[str, float]], key: str) -> float | None:
    values = [r[key] for r in rounds if key in r]
    return round(statistics.median(values), 2) if values else None


def bench_size(target: Target, size: str, spec: tuple[int, int, int, int], rounds: int, args: argparse.Namespace,
               ) -> dict[str, object]:
    events, songs, users, days = spec
    data = generate(events, songs, users, days)
    all_days = day_files(data)
    base_days, new_day = all_days[:-1], all_days[-1]
    objects = len(base_days) + sum(1 for _ in (data / "song_data").rglob("*.json"))
    measured = []
    for i in range(rounds):
        print(f"--- {size}, round {i + 1} of {rounds}")
        r: dict[str, float] = {}
        for label in ("floor", "ours") if i % 2 == 0 else ("ours", "floor"):
            name = f"{label}-{size}-{i}"
            if label == "floor":
                result = floor(target, name, log_view(data, name, base_days), data / "song_data")
            else:
                result = ours(target, name, data, base_days, new_day, args.insight)
            r |= {f"{label}_{k}": v for k, v in result.items()}
            print(f"{label}: " + ", ".join(f"{k} {v:.2f}" for k, v in result.items()))
        if not args.no_analytics_compare:
            result = no_analytics(target, f"plain-{size}-{i}", data, base_days, new_day)
            r |= {f"plain_{k}": v for k, v in result.items()}
            print("no analytics: " + ", ".join(f"{k} {v:.2f}" for k, v in result.items()))
        result = songs_only(target, f"songs-{size}-{i}", data, new_day)
        r |= {f"songs_{k}": v for k, v in result.items()}
        print("songs only: " + ", ".join(f"{k} {v:.2f}" for k, v in result.items()))
        r["floor_total"] = r["floor_events"] + r["floor_songs"]
        r["ours_total"] = r["ours_create_tables"] + r["ours_etl"]
        r["ratio"] = r["ours_total"] / r["floor_total"]
        if "plain_etl" in r:
            r["plain_total"] = r["plain_create_tables"] + r["plain_etl"]
            r["plain_ratio"] = r["plain_total"] / r["floor_total"]
            r["analytics_ratio"] = r["ours_etl"] / r["plain_etl"]  # what maintaining the layer costs a load
            r["analytics_day_ratio"] = r["ours_new_day"] / r["plain_new_day"]  # and a new day
        r["new_day_ratio"] = r["ours_new_day"] / r["songs_new_day"]
        measured.append(r)
    keys = sorted({k for r in measured for k in r})
    summary: dict[str, object] = {"size": size, "events": events, "songs": songs, "users": users, "days": days,
                                  "objects": objects, "new_day_events": sum(1 for _ in new_day.open()),
                                  "rounds": rounds}
    summary |= {k: median(measured, k) for k in keys}
    summary["ours_peak_mb"] = round(max(r["ours_peak_mb"] for r in measured), 1)
    summary["per_round"] = measured
    return summary


def print_report(results: list[dict[str, object]], target: str) -> None:
    rows = []
    for s in results:
        def fig(key: str, unit: str = " s", s: dict[str, object] = s) -> str:
            value = s.get(key)
            return "–" if value is None else f"{value}{unit}"

        rows.append([f"{s['events']:,} events, {s['songs']:,} songs ({s['objects']:,} objects)", s["rounds"],
                     f"{fig('floor_total')} ({fig('floor_events', '')} + {fig('floor_songs', '')})",
                     f"{fig('ours_total')} ({fig('ours_create_tables', '')} + {fig('ours_etl', '')})",
                     fig("ratio", "×"), fig("plain_total"), fig("plain_ratio", "×"),
                     f"{fig('analytics_ratio', '×')} / {fig('analytics_day_ratio', '×')}", fig("ours_nothing_new"),
                     f"{s['new_day_events']:,} events: {fig('ours_new_day')} vs {fig('songs_new_day')}",
                     fig("new_day_ratio", "×"), fig("ours_peak_mb", " MB"), fig("ours_trends"), fig("ours_report")])
    print(f"\nMedians ({target}):")
    print(console.format_table(["size", "rounds", "floor (events + songs)", "ours (create_tables + etl)", "ratio",
                            "ours without analytics", "ratio", "analytics cost: load / new day", "nothing new",
                            "one new day: big vs songs-only",
                            "ratio", "peak memory", "trends.py", "report.py"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1m", help="comma-separated: 1m, 10m (default: 1m)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per size; figures are medians (default: 2)")
    parser.add_argument("--postgres-url", metavar="URL",
                        help="bench on this PostgreSQL server (a fresh database per warehouse), e.g."
                             " postgresql://postgres@127.0.0.1:5432/postgres; default: the embedded server")
    parser.add_argument("--no-analytics-compare", action="store_true",
                        help="skip the full load without the analytics layer")
    parser.add_argument("--insight", action="store_true", help="also time trends.py and report.py, where present")
    parser.add_argument("--checking", action="store_true",
                        help="also measure what finding bad records costs clean data (two extra loads per side)")
    parser.add_argument("--floor-config", help=argparse.SUPPRESS)  # internal: the floor, in its own process
    args = parser.parse_args()
    if args.floor_config:
        print(json.dumps(floor_in_process(Path(args.floor_config))))
        return
    target = Target(args.postgres_url)
    label = "PostgreSQL at " + (target.url.hostname or "") if target.url else "embedded server"
    results = []
    for size in args.sizes.split(","):
        result = bench_size(target, size, SIZES[size], args.rounds, args)
        (OUT / f"results-{size}.json").write_text(json.dumps(result, indent=2))
        results.append(result)
        print_report(results, label)
    if args.checking:
        events, songs, users, days = SIZES[args.sizes.split(",")[0]]
        overhead = checking_overhead(target, generate(events, songs, users, days))
        cost = overhead["checked"] / overhead["trusting"] - 1
        print(f"\nload with every check: {overhead['checked']:.1f} s; trusting the input:"
              f" {overhead['trusting']:.1f} s; finding bad records costs {cost:+.1%}")


if __name__ == "__main__":
    main()
