"""A folder source as real folders are: symbolic links (loops, into the source, out of it), names
that are not UTF-8, paths too long for a key, sub-folders that cannot be listed, files that cannot
be read or that vanish, gzip that is corrupt, and files edited in place. Each bad entry costs only
itself, with one line naming it; an unreadable object is a reject the next run tries again."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE, Warehouse, one_line_error
from test_load_sample import SAMPLE_COUNTS

from sparkify_dwh import settings, sources

MOVED_SONG = "A/A/B/TRAABJV128F1460C49.json"  # moved out of the source and linked back in from outside


def copy_sample(dest: Path) -> tuple[Path, Path]:
    logs, songs = dest / "log_data", dest / "song_data"
    shutil.copytree(SAMPLE / "log_data", logs, ignore=shutil.ignore_patterns(".*"))
    shutil.copytree(SAMPLE / "song_data", songs, ignore=shutil.ignore_patterns(".*"))
    return logs, songs


def age(root: Path, seconds: float = 600) -> None:
    """Every folder under root as modified `seconds` ago (so a listing may record them as loaded)."""
    past = time.time() - seconds
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]:
        os.utime(folder, (past, past))


def hostile_tree(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """The sample with every kind of bad entry added; (logs, songs, {path: expected skip reason})."""
    logs, songs = copy_sample(tmp_path / "source")
    outside = tmp_path / "outside"
    (outside / "more").mkdir(parents=True)
    shutil.move(songs / MOVED_SONG, outside / "more" / Path(MOVED_SONG).name)
    real_logs, real_songs = logs.resolve(), songs.resolve()
    expected: dict[str, str] = {}
    # A loop back to an ancestor, and a link to a folder of the source (its files, twice).
    (logs / "2018" / "loop").symlink_to(logs)
    expected[f"{real_logs}/2018/loop"] = f"a symbolic link loop: it leads back to {real_logs}"
    (logs / "latest").symlink_to(logs / "2018" / "11")
    expected[f"{real_logs}/latest"] = f"a symbolic link to {real_logs}/2018/11, which is listed under its own path"
    # A link to a file of the source; a link to itself; a link to nothing.
    (logs / "2018" / "first.json").symlink_to(logs / "2018/11/2018-11-01-events.json")
    expected[f"{real_logs}/2018/first.json"] = (f"a symbolic link to {real_logs}/2018/11/2018-11-01-events.json,"
                                                " which is listed under its own path")
    (songs / "self.json").symlink_to(songs / "self.json")
    expected[f"{real_songs}/self.json"] = "a symbolic link that leads nowhere (Too many levels of symbolic links)"
    (songs / "gone.json").symlink_to(tmp_path / "nowhere.json")
    expected[f"{real_songs}/gone.json"] = "a symbolic link that leads nowhere (No such file or directory)"
    # Out of the source: followed, once, however many links lead there.
    (songs / "extra").symlink_to(outside)
    (songs / "A" / "extra-again").symlink_to(outside)
    expected[f"{real_songs}/extra"] = "a symbolic link to a folder listed already (a loop, or a second link to it)"
    # A file name that is not UTF-8, and a path longer than a key holds.
    song = (SAMPLE / "song_data" / MOVED_SONG).read_bytes()
    bad_name = os.fsencode(str(songs / "A")) + b"/caf\xe9.json"
    Path(os.fsdecode(bad_name)).write_bytes(song)
    expected[f"{real_songs}/A/caf\\xe9.json"] = "its name is not UTF-8 text; rename it"
    deep = real_songs / "B" / "/".join(["d" * 200] * 4)  # a folder that fits, a file that does not
    deep.mkdir(parents=True)
    name = "T" * (1024 - len(str(deep))) + ".json"
    assert len(str(deep)) < 1000 and len(name) < 250
    (deep / name).write_bytes(song)
    expected[str(deep / name)] = "its path is 1,030 bytes, longer than the 1,024 an object key can hold"
    return logs, songs, expected


def skipped(stderr: str) -> dict[str, str]:
    lines = [line.removeprefix("skipped ") for line in stderr.splitlines() if line.startswith("skipped ")]
    found = dict(line.split(": ", 1) for line in lines)
    assert len(found) == len(lines), stderr  # each once
    return found


def list_keys(location: Path, *, as_root_may: bool = True) -> tuple[list[str], str]:
    """sources.list_objects of a folder, in a process of its own: keys and stderr. as_root_may=False:
    without root's power to read any folder (setpriv drops it), when the tests run as root."""
    command = [sys.executable]
    if not as_root_may and os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root, and no setpriv to list folders without root's override")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", sys.executable]
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from sparkify_dwh import settings, sources\n"
              "cfg = settings.load_config(sys.argv[1] + '/dwh.cfg', warn=False)\n"
              "for o in sources.list_objects(cfg, 'songs', sys.argv[2]): print(o.key)\n")
    proc = subprocess.run([*command, "-c", script, str(ROOT), str(location)], capture_output=True, text=True,
                          timeout=60, env={k: v for k, v in os.environ.items() if not k.startswith("DWH_")})
    assert proc.returncode == 0, proc.stderr
    return sorted(proc.stdout.splitlines()), proc.stderr


def sample_keys(root: Path, folder: str) -> list[str]:
    """The keys of the sample's data files of `folder` (log_data, song_data), as copied to root."""
    return sorted(str(root.resolve() / p.relative_to(SAMPLE / folder)) for p in (SAMPLE / folder).rglob("*.json")
                  if not any(part.startswith(".") for part in p.relative_to(SAMPLE).parts))


def test_a_hostile_folder_lists_every_good_file_once_and_names_each_bad_entry(tmp_path: Path) -> None:
    logs, songs, expected = hostile_tree(tmp_path)
    log_keys, log_err = list_keys(logs)
    song_keys, song_err = list_keys(songs)
    assert log_keys == sample_keys(logs, "log_data")
    real_songs = songs.resolve()
    wanted_songs = [k for k in sample_keys(songs, "song_data") if k != f"{real_songs}/{MOVED_SONG}"]
    assert song_keys == sorted([*wanted_songs, f"{real_songs}/A/extra-again/more/{Path(MOVED_SONG).name}"])
    assert skipped(log_err) | skipped(song_err) == expected


def test_a_sub_folder_that_cannot_be_listed_is_skipped(tmp_path: Path) -> None:
    songs = copy_sample(tmp_path / "source")[1]
    locked = songs / "A" / "B"
    locked.chmod(0)
    try:
        keys, err = list_keys(songs, as_root_may=False)
    finally:
        locked.chmod(0o755)
    assert keys == [k for k in sample_keys(songs, "song_data") if not k.startswith(f"{locked.resolve()}/")]
    assert skipped(err) == {str(locked.resolve()): "cannot be listed (Permission denied)"}


def test_a_hostile_folder_loads_the_rest(embedded: Warehouse, tmp_path: Path) -> None:
    """Before: the first bad entry ended the run with a generic exception line (or the files under a
    link loaded twice)."""
    logs, songs, expected = hostile_tree(tmp_path)
    embedded.run("create_tables.py")
    proc = embedded.load(logs, songs)
    assert embedded.counts() == SAMPLE_COUNTS
    assert skipped(proc.stderr) == expected
    assert embedded.scalar("SELECT COUNT(*) FROM loaded_objects") == 101
    again = embedded.load(logs, songs)  # nothing new, and the bad entries named again
    assert "0 event and 0 song objects" in again.stdout
    assert skipped(again.stderr) == expected


def test_a_file_edited_in_place_to_the_same_size_loads_again(embedded: Warehouse, tmp_path: Path) -> None:
    """Item 17: files are identified by path, size and modification time."""
    logs, songs = copy_sample(tmp_path / "source")
    age(tmp_path / "source")
    embedded.run("create_tables.py")
    embedded.load(logs, songs)
    # Saved by an editor that writes a new file and renames it over the old one: the folder changes.
    day = logs / "2018/11/2018-11-11-events.json"
    text = day.read_text()
    edited = text.replace('"level":"free"', '"level":"paid"', 1)
    assert edited != text and len(edited) == len(text)
    day.with_suffix(".tmp").write_text(edited)
    os.replace(day.with_suffix(".tmp"), day)
    proc = embedded.load(logs, songs)
    assert "1 event and 0 song objects" in proc.stdout
    # Rewritten in place (the folder's time stays): found by the next full listing.
    age(tmp_path / "source")
    embedded.load(logs, songs)  # records the folders as they are now
    song = songs / MOVED_SONG
    data = song.read_bytes()
    song.write_bytes(data.replace(b'"year": 1986', b'"year": 1987'))
    os.utime(song, ns=(time.time_ns() + 5_000_000_000,) * 2)  # past any coarse clock tick
    assert len(song.read_bytes()) == len(data)
    full = embedded.run("etl.py", "--full-listing")
    assert "0 event and 1 song objects" in full.stdout
    runs = embedded.query("SELECT objects_loaded FROM etl_runs ORDER BY run_id")
    assert runs == [(101,), (1,), (0,), (1,)]


def test_a_corrupt_gzip_is_a_reject_of_its_own_until_it_is_fixed(embedded: Warehouse, tmp_path: Path) -> None:
    """Item 10: an object that cannot be read fails the run only past MAX_REJECTS, as a reject of its
    own (object, record 0, reason); within the limit the good objects load; the next run tries it again
    (also when its folder's time did not change), through worker processes as well."""
    logs, songs = copy_sample(tmp_path / "source")
    plain = logs / "2018/11/2018-11-05-events.json"
    events = plain.read_bytes()
    day = sum(1 for line in events.splitlines() if line.strip())
    plain.unlink()
    broken = plain.with_name(plain.name + ".gz")
    broken.write_bytes(gzip.compress(events)[:300])
    age(tmp_path / "source")
    embedded.run("create_tables.py")
    failed = embedded.load(logs, songs, check=False)
    message = one_line_error(failed)
    assert f"1 of {8056 - day + 71 + 1:,} records rejected" in message
    assert f"{broken}: unreadable object: not a readable gzip file (" in message
    assert embedded.counts()["staging_events"] == 0
    embedded.settings["ETL"].update({"MAX_REJECTS": "1", "WORKERS": "1"})  # a worker process reads and types
    proc = embedded.load(logs, songs)
    assert "1 rejected" in proc.stdout
    assert embedded.counts()["staging_events"] == 8056 - day
    assert embedded.query("SELECT run_id, object_key, line, record_no FROM rejects ORDER BY run_id") == [
        (1, str(broken), None, 0), (2, str(broken), None, 0)]
    reason = embedded.scalar("SELECT reason FROM rejects WHERE run_id = 2")
    assert reason.startswith("unreadable object: not a readable gzip file (") and reason.endswith(
        "; the next run tries again")
    assert embedded.scalar("SELECT COUNT(*) FROM loaded_objects WHERE object_key = %s", (str(broken),)) == 0
    assert embedded.scalar("SELECT objects_loaded FROM etl_runs WHERE run_id = 2") == 100
    # Fixed in place (its folder's time stays as it was): the next run loads it.
    broken.write_bytes(gzip.compress(events))
    embedded.settings["ETL"].update({"MAX_REJECTS": "0", "WORKERS": "0"})
    fixed = embedded.load(logs, songs)
    assert "1 event and 0 song objects" in fixed.stdout
    assert embedded.counts() == SAMPLE_COUNTS


def test_a_file_that_vanished_or_cannot_be_read_is_unreadable_not_fatal(tmp_path: Path) -> None:
    present = tmp_path / "a.json"
    present.write_text(json.dumps({"song_id": "S1"}) + "\n")
    folder = tmp_path / "b.json"
    folder.mkdir()
    listed = [sources.SourceObject("songs", str(p), 10) for p in (tmp_path / "gone.json", present, folder)]
    cfg = settings.load_config(ROOT / "dwh.cfg", warn=False)
    read = list(sources.read_objects(cfg, listed))
    assert [obj.key for obj, _ in read] == [o.key for o in listed]
    gone, good, unreadable = (data for _, data in read)
    assert isinstance(gone, sources.Unreadable)
    assert str(gone) == "unreadable object: it vanished since it was listed; the next run tries again"
    assert good == present.read_bytes()
    assert isinstance(unreadable, sources.Unreadable)
    assert str(unreadable) == "unreadable object: Is a directory; the next run tries again"


@pytest.mark.parametrize("name", ["x.json", "x.json.gz"])
def test_decompress_names_the_problem(name: str) -> None:
    with pytest.raises(sources.Unreadable, match=r"^unreadable object: not a readable gzip file \("):
        sources.decompress(gzip.compress(b'{"a": 1}')[:-6], name)


def test_redshift_compaction_rejects_an_unreadable_object_the_same_way(embedded: Warehouse, tmp_path: Path) -> None:
    """Redshift's compaction reads through the same reader: the unreadable object is one reject,
    the others' records are in the parts."""
    from sparkify_dwh import redshift, staging

    embedded.run("create_tables.py")
    cfg = settings.load_config(embedded.write_config())
    with embedded.connect() as conn, conn.cursor() as cur:
        columns = staging.staging_columns(cur, "staging_events")
    good = SAMPLE / "log_data/2018/11/2018-11-01-events.json"
    broken = tmp_path / "2018-11-02-events.json.gz"
    broken.write_bytes(gzip.compress((SAMPLE / "log_data/2018/11/2018-11-02-events.json").read_bytes())[:200])
    planned = [(1, sources.SourceObject("events", str(good), good.stat().st_size)),
               (2, sources.SourceObject("events", str(broken), broken.stat().st_size))]
    counts, rejects = staging.StageCounts(), staging.RejectSpool()
    parts = redshift.compact(cfg, iter(planned), columns, 5, rejects, counts, tmp_path, "staging_events", 1)
    records = [json.loads(line) for p in parts for line in gzip.decompress(p.path.read_bytes()).splitlines()]
    assert {r["_object_id"] for r in records} == {1}
    assert len(records) == counts.rows == sum(1 for line in good.read_text().splitlines() if line.strip())
    assert counts.rejected == rejects.count == 1 and rejects.unreadable == {str(broken)}
    (row,) = list(rejects.records(5))
    assert row[:5] == ["5", "events", str(broken), "", "0"]
    assert row[5].startswith("unreadable object: not a readable gzip file (")
