"""Garbled text is repaired on the way in ([ETL] REPAIR_TEXT), and `etl.py --json` reports runs.

326 of the real sample's 8,056 events carry mojibake: UTF-8 read as Latin-1, mostly twice
('BjÃ\\x83Â¶rk'). The expected repair is computed here without ftfy: a garbled value is one whose
characters are UTF-8 bytes read as Latin-1, and undoing that until it no longer applies gives the
text. Clean text, ASCII or not, is never changed. Compaction for Redshift repairs identically.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import SAMPLE, S3Server, Warehouse, _embedded_warehouse, one_line_error

import sql_queries as sql
from sparkify_dwh import demo_catalogue, redshift, settings, sources, staging
from sparkify_dwh.errors import ConfigError
from sparkify_dwh.staging import Column, RecordTyper, Reject

TEXT_FIELDS = {"staging_events": ["artist", "auth", "firstName", "gender", "lastName", "level", "location", "method",
                                  "page", "song", "userAgent"]}


def undone_by_hand(value: str) -> str:
    """The oracle: decode UTF-8-read-as-Latin-1 while it applies."""
    while True:
        try:
            decoded = value.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return value
        if decoded == value:
            return value
        value = decoded


def data_files(root: Path) -> list[Path]:
    """The JSON files of a sample folder, hidden ones (.ipynb_checkpoints) left out."""
    return sorted(p for p in root.rglob("*.json")
                  if not any(part.startswith(".") for part in p.relative_to(root).parts))


def sample_event_files() -> list[Path]:
    return data_files(SAMPLE / "log_data")


def sample_song_files() -> list[Path]:
    return data_files(SAMPLE / "song_data")


def garbled_sample_values() -> list[tuple[str, int, str, str, str]]:
    """(file, line, field, garbled value, its repair by hand) of every garbled value of the sample."""
    found = []
    for path in sample_event_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            for name, value in json.loads(line).items():
                if isinstance(value, str) and undone_by_hand(value) != value:
                    found.append((path.name, number, name, value, undone_by_hand(value)))
    return found


GARBLED = garbled_sample_values()


# --------------------------------------------------------------------------- repair_text, no server


@pytest.mark.fast
def test_the_sample_has_326_garbled_events_in_346_values() -> None:
    assert len({(name, line) for name, line, *_ in GARBLED}) == 326
    assert len(GARBLED) == 346
    assert {field for _, _, field, _, _ in GARBLED} == {"artist", "song"}


@pytest.mark.parametrize(("garbled", "repaired"), [
    ("Bj\u00c3\u0083\u00c2\u00b6rk", "Björk"),  # twice garbled: ö -> Ã¶ -> Ã\x83Â¶
    ("Expos\u00c3\u0083\u00c2\u00a9", "Exposé"),
    ("Beyonc\u00c3\u0083\u00c2\u00a9", "Beyoncé"),
    ("Sigur R\u00c3\u0083\u00c2\u00b3s", "Sigur Rós"),
    ("S\u00c3\u0083\u00c2\u00a5ng", "Sång"),  # ftfy alone stops at 'SÃ¥ng'
    ("EG GLE\u00c3\u0083\u00c2\u0090IST SO HV\u00c3\u0083\u00c2\u0098RT J\u00c3\u0083\u00c2\u0093LAKV\u00c3\u0083"
     "\u00c2\u0098LD", "EG GLEÐIST SO HVØRT JÓLAKVØLD"),
    ("1865 (96\u00c3\u0082\u00c2\u00ba In The Shade)", "1865 (96º In The Shade)"),
    ("De S\u00c3\u0083\u00c2\u00a3o Paulo \u00c3\u0083\u00c2\u0080 Bel\u00c3\u0083\u00c2\u00a9m",
     "De São Paulo À Belém"),
])
@pytest.mark.fast
def test_exact_strings_of_the_real_sample_are_repaired(garbled: str, repaired: str) -> None:
    assert garbled in {value for *_, value, _ in GARBLED}  # really in the sample
    assert staging.is_suspect(garbled)
    assert staging.repair_text(garbled) == repaired


@pytest.mark.fast
def test_every_garbled_value_of_the_sample_repairs_as_by_hand() -> None:
    wrong = [(value, by_hand, staging.repair_text(value)) for *_, value, by_hand in GARBLED
             if staging.repair_text(value) != by_hand]
    assert wrong == []
    assert all(staging.is_suspect(value) for *_, value, _ in GARBLED)


@pytest.mark.fast
def test_clean_text_is_never_changed() -> None:
    clean = ["Björk", "Beyoncé", "Sigur Rós", "Motörhead", "Mötley Crüe", "Ólafur Arnalds", "Café Tacuba",
             "¿Dónde va Chichi?", "Clementina Santafè", "東京", "Ночь", "ﬁne", "“quoted” – dash…", "Ｆｕｌｌ",
             "e\u0301", "&amp; <b>", "naïve façade", "Æon Flux", "Øresund", "Ångström", "Łukasz Dvořák", "ß",
             "Rock & Roll ®", "© 2008", "½ price", "×÷", "AC/DC", ""]
    # and every non-ASCII text of the sample's song files and of the generator's vocabulary
    for path in sample_song_files():
        clean += [v for v in json.loads(path.read_text(encoding="utf-8")).values() if isinstance(v, str)]
    clean += [w for w in demo_catalogue.FOREIGN_WORDS if not w.isascii()]
    for text in clean:
        assert staging.repair_text(text) == text, text
    assert not [text for text in clean if staging.is_suspect(text)]  # not even looked at


@pytest.mark.fast
def test_windows_1252_mojibake_is_repaired_too() -> None:
    for text in ["Don’t Stop", "Café – Bar", "Motörhead", "€100 … ‘quoted’"]:
        garbled = text.encode("utf-8").decode("windows-1252")
        assert staging.is_suspect(garbled)
        assert staging.repair_text(garbled) == text


# --------------------------------------------------------------------------- the typer, no server

ARTIST = Column("artist", "artist", "character varying", 512, False)
SONG = Column("song", "song", "character varying", 512, False)
LENGTH = Column("length", "length", "double precision", None, False, 0)


@pytest.mark.fast
def test_the_typer_repairs_counts_and_can_be_switched_off() -> None:
    typer = RecordTyper([ARTIST, SONG, LENGTH], run_id=4)
    garbled = {"artist": "Bj\u00c3\u0083\u00c2\u00b6rk", "song": "J\u00c3\u0083\u00c2\u00b3ga", "length": 305.6}
    assert typer.row(garbled, object_id=1, line=1, record_no=1) == "\x02".join(
        ["Björk", "Jóga", "305.6", "4", "1", "1", "1"])
    assert typer.repaired == 2
    assert typer.row({"artist": "Björk", "song": "Jóga", "length": 305.6}, 1, 2, 2).startswith("Björk\x02Jóga\x02")
    assert typer.repaired == 2  # clean text is not counted
    with pytest.raises(Reject, match=r"^length: -1\.0 is below 0$"):
        typer.row(dict(garbled, length=-1.0), 1, 3, 3)
    assert typer.repaired == 2  # a rejected record's values are not staged, so not counted
    off = RecordTyper([ARTIST, SONG, LENGTH], run_id=4, repair=False)
    assert off.row(garbled, 1, 1, 1).split("\x02")[:2] == [garbled["artist"], garbled["song"]]
    assert off.repaired == 0


@pytest.mark.fast
def test_repaired_text_is_measured_after_repair() -> None:
    """A garbled value too long for its column until repaired loads; the length test sees the repair."""
    six_bytes = Column("artist", "artist", "character varying", 6, False)
    typer = RecordTyper([six_bytes], run_id=1)
    assert typer.row({"artist": "\u00c3\u0083\u00c2\u00a9t\u00c3\u0083\u00c2\u00a9"}, 1, 1, 1).split("\x02")[0] == "été"
    with pytest.raises(Reject, match="longer than the column's 6"):
        RecordTyper([six_bytes], run_id=1, repair=False).row({"artist": "\u00c3\u0083\u00c2\u00a9t"}, 1, 1, 1)


@pytest.mark.fast
def test_repair_text_false_in_the_config(tmp_path: Path) -> None:
    config = tmp_path / "dwh.cfg"
    config.write_text("[ETL]\nREPAIR_TEXT = false\n")
    assert staging.new_typer(settings.load_config(config), [ARTIST], 1).row(
        {"artist": "Bj\u00c3\u0083\u00c2\u00b6rk"}, 1, 1, 1).startswith("Bj\u00c3\u0083")
    config.write_text("[ETL]\nREPAIR_TEXT = sometimes\n")
    with pytest.raises(ConfigError, match=r"^\[ETL\] REPAIR_TEXT is 'sometimes'; use true or false$"):
        settings.load_config(config)


# --------------------------------------------------------------------------- loads

PLANTED_SONG = {"num_songs": 1, "artist_id": "ARPLANTBJORK0001", "artist_latitude": None, "artist_longitude": None,
                "artist_location": "Reykjavík, Iceland", "artist_name": "Björk", "song_id": "SOPLANTJOGA00001",
                "title": "Jóga", "duration": 305.6, "year": 1997}


def planted_event(item: int, **fields: Any) -> dict[str, Any]:
    event = {"artist": None, "auth": "Logged In", "firstName": "Anna", "gender": "F", "itemInSession": item,
             "lastName": "Jónsdóttir", "length": None, "level": "free", "location": "Reykjavík", "method": "GET",
             "page": "Home", "registration": 1540000000000.0, "sessionId": 9001, "song": None, "status": 200,
             "ts": 1542240000000 + item * 1000, "userAgent": "Mozilla/5.0", "userId": "7001"}
    return event | fields


def garble(text: str) -> str:
    """Twice garbled, as in the real logs."""
    return text.encode().decode("latin-1").encode().decode("latin-1")


PLANTED_EVENTS = [
    # garbled artist and title: matches the planted song only once repaired
    planted_event(0, page="NextSong", artist=garble("Björk"), song=garble("Jóga"), length=305.6),
    # clean non-ASCII: matches as it is
    planted_event(1, page="NextSong", artist="Björk", song="Jóga", length=305.6),
    # a garbled location and last name on a page that is no play
    planted_event(2, location=garble("Reykjavík"), lastName=garble("Jónsdóttir")),
    # rejected: its raw text, garbled, is what rejects keeps
    planted_event(3, page="NextSong", artist=garble("Björk"), song=garble("Jóga"), length=305.6, ts="yesterday"),
]
PLANTED_REPAIRED = 4  # artist and song of item 0, location and last name of item 2


def write_planted(folder: Path) -> Path:
    """The planted data set: JSON escaped as in the real logs (ASCII bytes, \\u escapes)."""
    (folder / "log_data/2018/11").mkdir(parents=True)
    (folder / "song_data/P/L/A").mkdir(parents=True)
    (folder / "log_data/2018/11/2018-11-15-events.json").write_text("".join(json.dumps(e) + "\n"
                                                                            for e in PLANTED_EVENTS))
    (folder / "song_data/P/L/A/TRPLANT0001.json").write_text(json.dumps(PLANTED_SONG))
    return folder


@pytest.fixture(scope="module")
def planted_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_planted(tmp_path_factory.mktemp("planted"))


def module_warehouse(embedded_server: Path, tmp_path_factory: pytest.TempPathFactory, name: str,
                     ) -> Iterator[Warehouse]:
    workdir = tmp_path_factory.mktemp(name)
    yield from _embedded_warehouse(embedded_server, workdir, f"t_repair_{name}")


@pytest.fixture(scope="module")
def planted(embedded_server: Path, tmp_path_factory: pytest.TempPathFactory, planted_data: Path,
            ) -> Iterator[tuple[Warehouse, Any]]:
    """The planted data set loaded with repair on; the run's JSON summary."""
    for wh in module_warehouse(embedded_server, tmp_path_factory, "planted"):
        wh.settings["ETL"]["MAX_REJECTS"] = "1"
        wh.run("create_tables.py")
        proc = wh.load(planted_data / "log_data", planted_data / "song_data", "--json")
        yield wh, json.loads(proc.stdout)


def test_a_garbled_play_matches_its_song_once_repaired(planted: tuple[Warehouse, Any]) -> None:
    wh, _ = planted
    assert wh.query("SELECT item_in_session, song_id, artist_id FROM songplays ORDER BY item_in_session") == [
        (0, "SOPLANTJOGA00001", "ARPLANTBJORK0001"), (1, "SOPLANTJOGA00001", "ARPLANTBJORK0001")]
    assert wh.query("SELECT item_in_session, artist, song, location, last_name FROM staging_events"
                    " ORDER BY item_in_session") == [
        (0, "Björk", "Jóga", "Reykjavík", "Jónsdóttir"), (1, "Björk", "Jóga", "Reykjavík", "Jónsdóttir"),
        (2, None, None, "Reykjavík", "Jónsdóttir")]
    assert wh.query("SELECT user_id, last_name FROM users") == [(7001, "Jónsdóttir")]
    assert wh.query("SELECT name, location FROM artists") == [("Björk", "Reykjavík, Iceland")]


def test_the_run_counts_repaired_values_and_rejects_keep_the_raw_text(planted: tuple[Warehouse, Any]) -> None:
    wh, summary = planted
    assert wh.query("SELECT events_staged, songs_staged, rows_rejected, values_repaired FROM etl_runs") == [
        (3, 1, 1, PLANTED_REPAIRED)]
    assert summary["values_repaired"] == PLANTED_REPAIRED
    assert summary["sources"]["events"]["values_repaired"] == PLANTED_REPAIRED
    assert summary["sources"]["songs"]["values_repaired"] == 0
    ((reason, record),) = wh.query("SELECT reason, record FROM rejects")
    assert reason == "ts: 'yesterday' is not an integer"
    assert record == json.dumps(PLANTED_EVENTS[3])  # as written: the garbled text, escaped as in the file
    assert json.loads(record)["artist"] == garble("Björk")
    status = wh.run("etl.py", "--status").stdout.splitlines()
    header = next(line for line in status if "songplays+" in line).split()
    row = next(line for line in status if line.split()[:1] == ["1"]).split()
    assert header[header.index("repaired") - 1] == "rejected"
    assert row[header.index("rejected"):header.index("repaired") + 1] == ["1", str(PLANTED_REPAIRED)]


def test_repair_text_false_stages_the_text_as_it_came(embedded_server: Path,
                                                      tmp_path_factory: pytest.TempPathFactory,
                                                      planted_data: Path) -> None:
    for wh in module_warehouse(embedded_server, tmp_path_factory, "off"):
        wh.settings["ETL"].update(MAX_REJECTS="1", REPAIR_TEXT="false")
        wh.run("create_tables.py")
        proc = wh.load(planted_data / "log_data", planted_data / "song_data")
        assert "; 1 rejected; 0 text values repaired" in proc.stdout
        assert wh.query("SELECT item_in_session, song_id FROM songplays ORDER BY item_in_session") == [
            (0, None), (1, "SOPLANTJOGA00001")]
        assert wh.scalar("SELECT artist FROM staging_events WHERE item_in_session = 0") == garble("Björk")
        assert wh.scalar("SELECT values_repaired FROM etl_runs") == 0


def test_typing_workers_repair_and_count_alike(planted: tuple[Warehouse, Any], embedded_server: Path,
                                              tmp_path_factory: pytest.TempPathFactory, planted_data: Path) -> None:
    """[ETL] WORKERS = 2 types in worker processes: the same rows, the same count."""
    columns = ", ".join(sql.STAGING_FIELDS["staging_events"])
    for wh in module_warehouse(embedded_server, tmp_path_factory, "workers"):
        wh.settings["ETL"].update(MAX_REJECTS="1", WORKERS="2")
        wh.run("create_tables.py")
        wh.load(planted_data / "log_data", planted_data / "song_data")
        assert wh.scalar("SELECT values_repaired FROM etl_runs") == PLANTED_REPAIRED
        rows = f"SELECT {columns} FROM staging_events ORDER BY item_in_session"
        assert wh.query(rows) == planted[0].query(rows)


# --------------------------------------------------------------------------- the real sample, and --json


def sample_records() -> dict[str, int]:
    """Records per source of the sample, counted over the raw files."""
    events = sum(1 for p in sample_event_files() for line in p.read_text().splitlines() if line.strip())
    return {"events": events, "songs": len(sample_song_files())}


@pytest.fixture(scope="module")
def sample(embedded_server: Path, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[Warehouse, Any, Any]]:
    """The real sample loaded with --json, then loaded again (nothing new)."""
    for wh in module_warehouse(embedded_server, tmp_path_factory, "sample"):
        wh.run("create_tables.py")
        first = wh.load(SAMPLE / "log_data", SAMPLE / "song_data", "--json")
        second = wh.load(SAMPLE / "log_data", SAMPLE / "song_data", "--json")
        yield wh, first, second


def test_the_sample_is_staged_repaired(sample: tuple[Warehouse, Any, Any]) -> None:
    wh, _, _ = sample
    by_place = {(r[0], r[1]): r[2:] for r in wh.query(
        "SELECT o.object_key, e.source_line, e.artist, e.song FROM staging_events e"
        " JOIN loaded_objects o ON o.object_id = e.object_id WHERE e.artist IS NOT NULL")}
    for name, line, field, _, repaired in GARBLED:
        key = str(next(p for p in sample_event_files() if p.name == name))
        artist, song = by_place[(key, line)]
        assert {"artist": artist, "song": song}[field] == repaired
    assert by_place[(str(SAMPLE / "log_data/2018/11/2018-11-02-events.json"), 112)][0] == "Björk"
    texts = wh.query("SELECT artist, song FROM staging_events WHERE artist IS NOT NULL")
    assert not [t for row in texts for t in row if t and staging.is_suspect(t)]
    assert wh.query("SELECT values_repaired FROM etl_runs ORDER BY run_id") == [(346,), (0,)]
    # The star schema's figures are those of DESIGN.md: the repaired plays match none of the 71 songs.
    assert wh.counts()["songplays"] == 6820 and wh.scalar("SELECT COUNT(song_id) FROM songplays") == 1


def test_etl_json_is_one_document_on_stdout(sample: tuple[Warehouse, Any, Any]) -> None:
    wh, first, second = sample
    doc = json.loads(first.stdout)  # the whole of stdout is one JSON document
    assert "staged events: 30 objects, 8,056 rows, 0 rejected, 346 text values repaired" in first.stderr
    assert "{" not in first.stderr  # progress stays on stderr, the document on stdout
    files = {"events": sample_event_files(), "songs": sample_song_files()}
    records = sample_records()
    assert doc["outcome"] == "succeeded" and doc["run_id"] == 1 and doc["seconds"] > 0
    assert doc["sources"] == {
        source: {"objects": len(files[source]), "bytes": sum(p.stat().st_size for p in files[source]),
                 "rows_staged": records[source], "values_repaired": 346 if source == "events" else 0}
        for source in ("songs", "events")}
    assert (doc["rows_staged"], doc["rows_rejected"], doc["values_repaired"]) == (
        records["events"] + records["songs"], 0, 346)
    now = wh.counts()
    assert doc["tables"] == {t: {"rows_added": now[t], "rows_now": now[t]} for t in sql.STAR_TABLES}
    assert doc["checks"] is None
    again = json.loads(second.stdout)
    assert again["run_id"] == 2 and again["values_repaired"] == 0 and again["rows_staged"] == 0
    assert again["sources"]["events"] == {"objects": 0, "bytes": 0, "rows_staged": 0, "values_repaired": 0}
    assert again["tables"] == {t: {"rows_added": 0, "rows_now": now[t]} for t in sql.STAR_TABLES}


def test_etl_json_reports_a_failed_run(embedded_server: Path, tmp_path_factory: pytest.TempPathFactory,
                                       planted_data: Path) -> None:
    for wh in module_warehouse(embedded_server, tmp_path_factory, "failed"):
        wh.run("create_tables.py")
        proc = wh.load(planted_data / "log_data", planted_data / "song_data", "--json", check=False)
        assert proc.returncode == 1
        doc = json.loads(proc.stdout)
        assert doc["outcome"] == "failed" and doc["run_id"] == 1
        assert doc["message"].startswith("run 1 failed: 1 of 5 records rejected, more than MAX_REJECTS = 0 allows")
        assert one_line_error(proc) == f"error: {doc['message']}"


def test_etl_json_with_checks(planted: tuple[Warehouse, Any], planted_data: Path) -> None:
    wh, _ = planted
    proc = wh.load(planted_data / "log_data", planted_data / "song_data", "--json",
                   env={"DWH_ETL_RUN_CHECKS": "true"})
    doc = json.loads(proc.stdout)
    assert doc["checks"] == "passed" and doc["rows_staged"] == 0
    assert "checks: all" in proc.stderr


# --------------------------------------------------------------------------- Redshift compaction


def test_compaction_repairs_as_the_postgresql_path(planted: tuple[Warehouse, Any], s3: S3Server,
                                                   planted_data: Path, tmp_path: Path) -> None:
    """The planted data from moto's S3, compacted for Redshift: the same repaired rows and count."""
    wh, _ = planted
    client = s3.client()
    s3.make_bucket("repair")
    for path in sorted(p for p in planted_data.rglob("*") if p.is_file()):
        client.upload_file(str(path), "repair", path.relative_to(planted_data).as_posix())
    with wh.connect() as conn, conn.cursor() as cur:
        columns = staging.staging_columns(cur, "staging_events")
    fields = list(sql.STAGING_FIELDS["staging_events"].values())
    staged = sorted(wh.query(f"SELECT {', '.join(sql.STAGING_FIELDS['staging_events'])} FROM staging_events"
                             " WHERE run_id = 1"), key=repr)
    for repair, expected_repaired in (("true", PLANTED_REPAIRED), ("false", 0)):
        cfg = settings.load_config(wh.write_config(ETL={"REPAIR_TEXT": repair}))
        planted_objects = list(enumerate(sources.list_objects(cfg, "events", "s3://repair/log_data"), start=1))
        counts, rejects = staging.StageCounts(), staging.RejectSpool()
        folder = tmp_path / repair
        folder.mkdir()
        parts = redshift.compact(cfg, iter(planted_objects), columns, 1, rejects, counts, folder, "staging_events", 1)
        records = [orjson.loads(line) for p in parts for line in gzip.decompress(p.path.read_bytes()).splitlines()]
        assert (counts.rows, counts.rejected, counts.repaired) == (3, 1, expected_repaired)
        compacted = sorted((tuple(r[f] for f in fields) for r in records), key=repr)
        if repair == "true":
            assert compacted == staged
        else:
            assert [r["artist"] for r in records] == [garble("Björk"), "Björk", None]
        rejects.file.seek(0)
        assert json.dumps(garble("Björk")).encode() in rejects.file.read()  # the record as written
