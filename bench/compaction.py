"""How long compaction takes for many small objects, against moto's S3 server on loopback.

    python bench/compaction.py [--songs 15000 100000] [--events 1000000]

For each count it writes that many song files (or events, in 30 daily log files: few large
objects, where typing rather than reading is the cost) to a moto bucket (generate_data.py), then times
what a Redshift run does before its COPY: list the prefix, read every object (16 threads), type
and check every record, write the gzip NDJSON parts, and upload them with the JSONPaths file
and the manifest. moto is far slower per request than S3 itself, so this is an upper bound on
the toolkit's side; the COPY of a few large parts is then Redshift's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sparkify_dwh import (  # noqa: E402
    console,
    dialects,
    redshift,
    s3,
    session,
    settings,
    sources,
    staging,
    warehouse,
)

OUT = ROOT / "bench" / "out"


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}"


def staging_columns() -> dict[str, list[staging.Column]]:
    config = OUT / "compaction.cfg"
    server = OUT / "servers" / "compaction"
    shutil.rmtree(server, ignore_errors=True)
    server.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[WAREHOUSE]\nEMBEDDED_DIR = {server}\n[CLUSTER]\nDB_NAME = bench\n")
    conn = warehouse.connect(settings.load_config(config))
    with conn.cursor() as cur:
        session.run_all(cur, dialects.POSTGRES.table_statements())
        columns = {table: staging.staging_columns(cur, table) for table in ("staging_events", "staging_songs")}
    conn.rollback()
    conn.close()
    return columns


def measure(source: str, count: int, endpoint: str, columns: dict[str, list[staging.Column]]) -> dict[str, Any]:
    env = dict(os.environ, DWH_S3_ENDPOINT_URL=endpoint, DWH_S3_REGION="us-east-1")
    bucket = f"compaction-{source}-{count}"
    table, folder = {"songs": ("staging_songs", "song_data"), "events": ("staging_events", "log_data")}[source]
    sizes = {"songs": ["--songs", str(count), "--events", "1000"], "events": ["--songs", "10", "--events", str(count)]}
    cfg = settings.load_config(ROOT / "dwh.cfg")
    cfg = cfg.replace("s3", endpoint_url=endpoint, region="us-east-1", work_prefix=f"s3://{bucket}/work")
    client = s3.s3_client(cfg)
    client.create_bucket(Bucket=bucket)
    days = ["--days", "1"] if source == "songs" else []
    subprocess.run([sys.executable, str(ROOT / "generate_data.py"), f"s3://{bucket}/data", *sizes[source], *days],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    started = time.perf_counter()
    listed = list(sources.list_objects(cfg, source, f"s3://{bucket}/data/{folder}"))
    listing = time.perf_counter() - started
    planned = list(enumerate(listed, start=1))
    work = Path(tempfile.mkdtemp(prefix="compaction-"))
    counts, rejects = staging.StageCounts(), staging.RejectSpool()
    stage = redshift.RedshiftStage(cfg, redshift.work_area(cfg, session.utc_now()), work, client, session.utc_now())
    parts = redshift.part_count(sum(obj.size for _, obj in planned), slices=4)
    written = redshift.compact(cfg, planned, columns[table], 1, rejects, counts, work, table, parts)
    compacted = time.perf_counter() - started
    names = [(f"{table}/{p.path.name}", p) for p in written]
    redshift.upload(client, stage.area, [(p.path, name) for name, p in names])
    redshift.put_json(client, stage.area, f"{table}.jsonpaths", redshift.jsonpaths(table))
    redshift.put_json(client, stage.area, f"{table}.manifest",
                      redshift.manifest(stage.area, [(n, p.path.stat().st_size) for n, p in names]))
    total = time.perf_counter() - started
    shutil.rmtree(work)
    assert counts.rows == count and rejects.count == 0
    return {"source": source, "records": count, "objects": len(planned), "parts": len(written),
            "listing_s": round(listing, 1),
            "read_type_write_s": round(compacted - listing, 1), "upload_s": round(total - compacted, 1),
            "total_s": round(total, 1), "objects_per_s": round(len(planned) / total),
            "records_per_s": round(count / total)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, nargs="*", default=[15_000, 100_000])
    parser.add_argument("--events", type=int, nargs="*", default=[])
    args = parser.parse_args()
    columns = staging_columns()
    moto, endpoint = start_moto()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    try:
        rows = [measure(source, count, endpoint, columns)
                for source, counts in (("songs", args.songs), ("events", args.events)) for count in counts]
    finally:
        moto.terminate()
    print(console.format_table(list(rows[0]), [list(r.values()) for r in rows]))


if __name__ == "__main__":
    main()
