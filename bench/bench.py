"""Benchmark: the toolkit's load against the floor, measured side by side in one run.

    python bench/bench.py [--events 1000000] [--songs 100000] [--users 5000] [--days 30]
                          [--small-events 250000] [--repeat 1]

For each size it generates the data once (cached under bench/out/), then, each on a fresh
embedded PostgreSQL server with the same settings:
  floor  the same server ingesting the same objects with nothing else: every event and every song
         object listed, read (the same way as the toolkit reads them) and COPY'd as one jsonb value
         per row into a one-column table;
  ours   python create_tables.py, then python etl.py, as a user runs them (subprocesses, so
         interpreter start-up and server start-up count), and a second etl.py that finds nothing new.
It prints both, the ratio, events per second and the peak memory of etl.py at both sizes (flat
memory means the larger run does not need more), then what finding bad records costs clean data:
the same load, in-process, with every check against a row function that checks nothing. Machines are noisy: compare
the ratios of one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dwh  # noqa: E402
import sources  # noqa: E402
import staging  # noqa: E402

OUT = ROOT / "bench" / "out"
FLOOR_COPY = "COPY {table} (doc) FROM STDIN WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"


def generate(events: int, songs: int, users: int, days: int) -> Path:
    data = OUT / f"data-{events}-{songs}-{users}-{days}"
    if not (data / "log_data").is_dir():
        shutil.rmtree(data, ignore_errors=True)
        subprocess.run([sys.executable, str(ROOT / "generate_data.py"), str(data), "--events", str(events),
                        "--songs", str(songs), "--users", str(users), "--days", str(days)], check=True)
    return data


def fresh_config(name: str, data: Path) -> Path:
    """A dwh.cfg for a new embedded server under bench/out/servers/name."""
    server = OUT / "servers" / name
    shutil.rmtree(server, ignore_errors=True)
    server.parent.mkdir(parents=True, exist_ok=True)
    config = OUT / f"{name}.cfg"
    config.write_text(f"[WAREHOUSE]\nTARGET = embedded\nEMBEDDED_DIR = {server}\n[CLUSTER]\nDB_NAME = bench\n"
                      f"[S3]\nLOG_DATA = {data / 'log_data'}\nSONG_DATA = {data / 'song_data'}\n")
    return config


def lines_of(objects: list[sources.SourceObject], cfg: object) -> object:
    for _, data in sources.read_objects(cfg, objects):  # type: ignore[arg-type]
        yield data if data.endswith(b"\n") else data + b"\n"


def floor(data: Path, name: str) -> dict[str, float]:
    """Seconds to COPY every object of each source, one jsonb value per row."""
    cfg = dwh.load_config(fresh_config(name, data))
    conn = dwh.connect(cfg)
    seconds = {}
    for source, key in (("events", "LOG_DATA"), ("songs", "SONG_DATA")):
        started = time.perf_counter()
        objects = list(sources.list_objects(cfg, source, cfg["S3"][key]))
        with dwh.transaction(conn) as cur:
            cur.execute(f"CREATE TABLE floor_{source} (doc jsonb)")
            staging.copy_in(cur, FLOOR_COPY.format(table=f"floor_{source}"), lines_of(objects, cfg))
        seconds[source] = time.perf_counter() - started
    conn.close()
    return seconds


def run_measured(command: list[str]) -> tuple[float, float, str]:
    """(seconds, peak resident memory in MB, stdout): the process and its worker processes, sampled
    every 20 ms (the embedded server runs on its own and is not counted)."""
    import threading

    import psutil

    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
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
    stdout, _ = proc.communicate()
    watcher.join()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with exit code {proc.returncode}")
    return seconds, peak / (1 << 20), stdout


def ours(data: Path, name: str) -> dict[str, float]:
    config = fresh_config(name, data)
    script = [sys.executable]
    create, _, _ = run_measured([*script, str(ROOT / "create_tables.py"), "--config", str(config)])
    load, peak, summary = run_measured([*script, str(ROOT / "etl.py"), "--config", str(config)])
    again, _, _ = run_measured([*script, str(ROOT / "etl.py"), "--config", str(config)])
    print(summary.rstrip())
    return {"create_tables": create, "etl": load, "etl_again": again, "peak_mb": peak}


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


def checking_overhead(data: Path) -> dict[str, float]:
    """etl.py's load, in this process, with every check against the same load with trusting_row:
    what finding the bad records costs clean data, end to end."""
    import etl

    results: dict[str, list[float]] = {"checked": [], "trusting": []}
    original = staging.RecordTyper.__init__

    def trusting_init(self: staging.RecordTyper, columns: list[staging.Column], run_id: int) -> None:
        original(self, columns, run_id)
        self._row = trusting_row(columns)  # type: ignore[assignment]

    for i in range(2):
        for label in ("checked", "trusting"):
            config = fresh_config(f"overhead-{label}-{i}", data)
            subprocess.run([sys.executable, str(ROOT / "create_tables.py"), "--config", str(config)], check=True,
                           stdout=subprocess.DEVNULL)
            cfg = dwh.load_config(config)
            conn = dwh.connect(cfg)
            staging.RecordTyper.__init__ = trusting_init if label == "trusting" else original  # type: ignore
            started = time.perf_counter()
            etl.load(conn, cfg)
            results[label].append(time.perf_counter() - started)
            staging.RecordTyper.__init__ = original  # type: ignore[method-assign]
            conn.close()
    return {label: min(runs) for label, runs in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--songs", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--small-events", type=int, default=250_000,
                        help="a smaller size (fewer days, a quarter of the songs) to show memory stays flat")
    parser.add_argument("--repeat", type=int, default=1, help="measure each side this many times, alternating")
    args = parser.parse_args()

    # The smaller size spans fewer days at the same events per day: the same object sizes, fewer objects.
    small_days = max(1, round(args.days * args.small_events / args.events))
    sizes = [(args.small_events, max(1, args.songs // 4), small_days), (args.events, args.songs, args.days)]
    report = []
    for events, songs, days in sizes:
        data = generate(events, songs, args.users, days)
        floors, mine = [], []
        for i in range(args.repeat):
            floors.append(floor(data, f"floor-{events}-{i}"))
            mine.append(ours(data, f"ours-{events}-{i}"))
        best_floor = min(floors, key=lambda f: f["events"] + f["songs"])
        best_ours = min(mine, key=lambda o: o["create_tables"] + o["etl"])
        floor_total = best_floor["events"] + best_floor["songs"]
        ours_total = best_ours["create_tables"] + best_ours["etl"]
        report.append({
            "events": events, "songs": songs, "days": days,
            "floor_events_s": round(best_floor["events"], 2), "floor_songs_s": round(best_floor["songs"], 2),
            "floor_total_s": round(floor_total, 2),
            "create_tables_s": round(best_ours["create_tables"], 2), "etl_s": round(best_ours["etl"], 2),
            "ours_total_s": round(ours_total, 2), "ratio": round(ours_total / floor_total, 2),
            "events_per_s": round(events / ours_total), "second_etl_s": round(best_ours["etl_again"], 2),
            "etl_peak_mb": round(max(o["peak_mb"] for o in mine), 1),
        })
    print(dwh.format_table(list(report[0]), [list(r.values()) for r in report]))
    overhead = checking_overhead(generate(args.events, args.songs, args.users, args.days))
    cost = overhead["checked"] / overhead["trusting"] - 1
    print(f"\nload of {args.events:,} events with every check: {overhead['checked']:.1f} s; trusting the input:"
          f" {overhead['trusting']:.1f} s; finding bad records costs {cost:+.1%}")
    (OUT / "results.json").write_text(json.dumps({"sizes": report, "checking": overhead}, indent=2))


if __name__ == "__main__":
    main()
