"""Benchmark: what maintaining the analytics layer adds to a load, side by side in one run.

    python bench/analytics.py [--data FOLDER] [--events 1000000] [--songs 20000] [--users 1000]
                              [--days 30] [--rounds 2] [--servers FOLDER]

Loads the same data (generated once, cached under bench/out/, unless --data names a folder) into
a fresh embedded server each time, as a user runs it (create_tables.py, then a timed etl.py),
alternating a run without the analytics layer (DWH_BENCH_NO_ANALYTICS=1, which only this
benchmark sets) and one with it, --rounds times each. Prints every run's seconds, the medians
and their ratio: issue 7 asks for at most 1.10. Machines are noisy: compare ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench import OUT, generate  # noqa: E402

MODES = {"without": {"DWH_BENCH_NO_ANALYTICS": "1"}, "with": {}}


def fresh_config(servers: Path, name: str, data: Path) -> Path:
    server = servers / name
    shutil.rmtree(server, ignore_errors=True)
    server.parent.mkdir(parents=True, exist_ok=True)
    config = servers / f"{name}.cfg"
    config.write_text(f"[WAREHOUSE]\nTARGET = embedded\nEMBEDDED_DIR = {server}\n[CLUSTER]\nDB_NAME = bench\n"
                      f"[S3]\nLOG_DATA = {data / 'log_data'}\nSONG_DATA = {data / 'song_data'}\n")
    return config


def load_seconds(servers: Path, name: str, data: Path, mode: str) -> tuple[float, str]:
    """Seconds of one etl.py run into a fresh warehouse, and what it said on stderr."""
    config = fresh_config(servers, name, data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWH_")} | MODES[mode]
    subprocess.run([sys.executable, str(ROOT / "create_tables.py"), "--config", str(config)], check=True,
                   env=env, capture_output=True)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "etl.py"), "--config", str(config)], env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"etl.py ({mode}) failed: {proc.stderr.strip().splitlines()[-1]}")
    shutil.rmtree(servers / name, ignore_errors=True)
    return seconds, proc.stderr


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a folder with log_data/ and song_data/ (default: generated)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--songs", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--servers", type=Path, default=OUT / "servers", help="where the fresh servers go")
    return parser.parse_args()


def main() -> None:
    args = parse_arguments()
    data = args.data or generate(args.events, args.songs, args.users, args.days)
    seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
    for round_no in range(1, args.rounds + 1):
        for mode in MODES:
            took, said = load_seconds(args.servers, f"analytics-{mode}", data, mode)
            seconds[mode].append(took)
            steps = [line.strip() for line in said.splitlines() if line.startswith("  ") or "analytics" in line]
            print(f"round {round_no}, {mode} the analytics layer: {took:.1f} s", *steps, sep="\n    ")
    medians = {mode: statistics.median(values) for mode, values in seconds.items()}
    print(f"median without: {medians['without']:.1f} s, with: {medians['with']:.1f} s,"
          f" ratio {medians['with'] / medians['without']:.3f} (issue 7: at most 1.10)")


if __name__ == "__main__":
    main()
