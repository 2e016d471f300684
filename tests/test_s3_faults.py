"""S3 misbehaving, for real: the sample is loaded from moto's S3 server through a fault proxy of
our own on loopback (tests/s3_fault_proxy.py) that resets connections, answers 500 and 503 SlowDown,
and cuts or corrupts response bodies. Every load must give exactly the tables of a clean load,
and an object that stays unreadable must become a reject of its own that the next run retries."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLE, S3Server, Warehouse, _embedded_warehouse, one_line_error
from s3_fault_proxy import FaultProxy
from test_load_sample import SAMPLE_COUNTS, upload_sample
from test_rerun import STAR_FINGERPRINT

from sparkify_dwh import sources

BUCKET = "sparkify-faults"
LOG_DATA, SONG_DATA = f"s3://{BUCKET}/udacity/log_data", f"s3://{BUCKET}/udacity/song_data"
HANG_GUARD = 180  # seconds: a load that hangs fails the test instead of the whole suite; never a measurement

# Staging as content: every column but the run and the object id (keys differ between sources).
STAGING_FINGERPRINT = {
    table: f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT {columns} FROM {table}) t"
    for table, columns in {
        "staging_events": "artist, auth, first_name, gender, item_in_session, last_name, length, level, location,"
                          " method, page, registration, session_id, song, status, ts, user_agent, user_id,"
                          " source_line",
        "staging_songs": "num_songs, artist_id, artist_latitude, artist_longitude, artist_location, artist_name,"
                         " song_id, title, duration, year, source_line",
    }.items()
}


def fingerprint(wh: Warehouse) -> dict[str, object]:
    queries = STAR_FINGERPRINT | STAGING_FINGERPRINT
    return {name: wh.scalar(query) for name, query in queries.items()} | {"counts": wh.counts()}


@pytest.fixture(scope="module")
def bucket(moto_server: S3Server) -> str:
    upload_sample(moto_server, BUCKET)
    return BUCKET


@pytest.fixture(scope="module")
def clean(bucket: str, moto_server: S3Server, embedded_server: Path,
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The fingerprint of the sample loaded from S3 with nothing in the way."""
    warehouses = _embedded_warehouse(embedded_server, tmp_path_factory.mktemp("clean"), "t_s3_faults_clean")
    wh = next(warehouses)
    try:
        wh.extra_env.update(moto_server.env)
        wh.run("create_tables.py")
        wh.load(LOG_DATA, SONG_DATA)
        assert wh.counts() == SAMPLE_COUNTS
        return fingerprint(wh)
    finally:
        next(warehouses, None)


@pytest.fixture
def through(embedded: Warehouse, moto_server: S3Server, bucket: str) -> Iterator[Warehouse]:
    embedded.extra_env.update(moto_server.env)
    embedded.run("create_tables.py")
    yield embedded


def load_through(wh: Warehouse, proxy: FaultProxy, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """etl.py of the sample from S3 through the proxy."""
    wh.extra_env["DWH_S3_ENDPOINT_URL"] = proxy.url
    wh.settings["S3"].update({"LOG_DATA": LOG_DATA, "SONG_DATA": SONG_DATA})
    return wh.run("etl.py", check=check, timeout=HANG_GUARD)


def rejects(wh: Warehouse) -> list[tuple]:
    return wh.query("SELECT run_id, object_key, line, record_no, reason FROM rejects ORDER BY run_id, object_key")


def test_cut_and_reset_bodies_are_read_again(through: Warehouse, moto_server: S3Server,
                                             clean: dict[str, object]) -> None:
    """Item 7: a body that ends early (IncompleteRead) or whose connection is reset half way."""
    with FaultProxy(moto_server.endpoint_url, {"truncate": 0.2, "reset_body": 0.1}, seed=7) as proxy:
        proc = load_through(through, proxy)
    assert proxy.counts["truncate"] > 0 and proxy.counts["reset_body"] > 0, proxy.counts
    assert fingerprint(through) == clean, proc.stderr
    assert rejects(through) == []


@pytest.mark.parametrize("checksums", [True, False], ids=["with-checksums", "without-checksums"])
def test_short_or_corrupt_bodies_are_caught_by_length_and_etag(through: Warehouse, moto_server: S3Server,
                                                               clean: dict[str, object], checksums: bool) -> None:
    """Item 7: a body cut short where HTTP cannot tell (its headers agree), or with a byte changed,
    is caught and read again: by botocore's checksum where the store sends one, else by the listed
    size and the ETag (an MD5 for these objects)."""
    with FaultProxy(moto_server.endpoint_url, {"short": 0.15, "corrupt": 0.15}, seed=3,
                    strip_checksums=not checksums) as proxy:
        proc = load_through(through, proxy)
    assert proxy.counts["short"] > 0 and proxy.counts["corrupt"] > 0, proxy.counts
    assert fingerprint(through) == clean, proc.stderr
    assert rejects(through) == []


@pytest.mark.parametrize("workers", ["0", "1"], ids=["read-by-the-main-process", "read-by-a-worker"])
def test_throttling_is_survived_and_reported_once(through: Warehouse, moto_server: S3Server,
                                                  clean: dict[str, object], workers: str) -> None:
    """Item 8: S3 answering 503 SlowDown to 20% of requests (listings too), 500 to 5% and resetting
    5%: the load finishes, the same as a clean one, and says once that S3 is throttling. (Before:
    adaptive retries' client-side rate limiter made such a load take minutes, and nothing said why.)
    With a worker process reading, only object reads are broken: the worker counts, the main process tells."""
    rates = {"slowdown": 0.2, "error500": 0.05, "reset": 0.05}
    through.settings["ETL"]["WORKERS"] = workers
    with FaultProxy(moto_server.endpoint_url, rates, seed=11, objects_only=workers == "1") as proxy:
        proc = load_through(through, proxy)
    assert proxy.counts["slowdown"] > 10 and proxy.counts["error500"] and proxy.counts["reset"], proxy.counts
    assert fingerprint(through) == clean
    notices = [line for line in proc.stderr.splitlines() if "throttl" in line.lower()]
    assert notices == ["S3 is throttling requests (503 SlowDown): retrying with backoff, the load goes on"
                       " more slowly"], proc.stderr


GONE = "song_data/A/A/B/TRAABJV128F1460C49.json"  # deleted after the listing (404 NoSuchKey)
BROKEN = "log_data/2018/11/2018-11-07-events.json"  # every read of it breaks off half way


def test_an_object_s3_cannot_give_is_a_reject_the_next_run_retries(through: Warehouse, moto_server: S3Server,
                                                                   clean: dict[str, object]) -> None:
    """Item 10 on S3: an object gone since the listing, and one whose every read breaks off, are each
    a reject of their own (object, reason) counted against MAX_REJECTS; the good objects load; they
    are not recorded as loaded, and the next run loads them."""
    always = {GONE: "gone", BROKEN: "truncate"}
    day = sum(1 for line in (SAMPLE / BROKEN).read_text().splitlines() if line.strip())  # events of 11-07
    records = 8056 - day + 70 + 2  # what was read, and the two objects
    with FaultProxy(moto_server.endpoint_url, always=always) as proxy:
        failed = load_through(through, proxy, check=False)
        assert f"2 of {records:,} records rejected, more than MAX_REJECTS = 0 allows" in one_line_error(failed)
        assert through.counts()["staging_events"] == 0
        through.settings["ETL"]["MAX_REJECTS"] = "2"
        proc = load_through(through, proxy)
    assert proxy.counts["truncate"] == 2 * sources.READ_ATTEMPTS, proxy.counts  # bounded: 8 reads a run
    assert "2 rejected" in proc.stdout
    reasons = {
        f"s3://{BUCKET}/udacity/{GONE}": "unreadable object: it vanished since it was listed; the next run tries"
                                         " again",
        f"s3://{BUCKET}/udacity/{BROKEN}": "unreadable object: the response broke off or was damaged (An error"
                                           " occurred while reading from response stream: ('Connection broken:"
                                           " IncompleteRead(",
    }
    for run_id in (1, 2):  # the failed run keeps its rejects too
        found = [(key, line, record_no) for r, key, line, record_no, _ in rejects(through) if r == run_id]
        assert found == [(key, None, 0) for key in sorted(reasons)]
    for _, key, _, _, reason in rejects(through):
        assert reason.startswith(reasons[key]) and reason.endswith("the next run tries again"), reason
    counts = through.counts()
    assert counts["staging_songs"] == 70 and counts["staging_events"] == 8056 - day
    assert through.scalar("SELECT COUNT(*) FROM loaded_objects") == 99
    # S3 is well again: the next run loads exactly the two objects, and the tables are a clean load's.
    with FaultProxy(moto_server.endpoint_url) as proxy:
        again = load_through(through, proxy)
    assert "1 event and 1 song objects" in again.stdout
    assert fingerprint(through) == clean
