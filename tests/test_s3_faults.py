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


def test_throttling_is_survived_and_reported_once(through: Warehouse, moto_server: S3Server,
                                                  clean: dict[str, object]) -> None:
    """Item 8: S3 answering 503 SlowDown to 20% of requests (listings too), 500 to 5% and resetting
    5%: the load finishes, the same as a clean one, and says once that S3 is throttling. (Before:
    adaptive retries' client-side rate limiter made such a load take minutes, and nothing said why.)"""
    rates = {"slowdown": 0.2, "error500": 0.05, "reset": 0.05}
    with FaultProxy(moto_server.endpoint_url, rates, seed=11, objects_only=False) as proxy:
        proc = load_through(through, proxy)
    assert proxy.counts["slowdown"] > 10 and proxy.counts["error500"] and proxy.counts["reset"], proxy.counts
    assert fingerprint(through) == clean
    notices = [line for line in proc.stderr.splitlines() if "throttl" in line.lower()]
    assert notices == ["S3 is throttling requests (503 SlowDown): retrying with backoff, the load goes on"
                       " more slowly"], proc.stderr
