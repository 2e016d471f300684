"""Issue 22's edges: the dashboard written safely, a load that does not depend on its stdout, the
embedded server stopped only when no client uses it, argument edges, leftovers of a failed start.
Real files, real processes and real servers."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from conftest import ROOT, Warehouse, one_line_error
from test_hardening import embedded_config, holding, running, scratch, script  # noqa: F401 - scratch: a fixture

import report
from sparkify_dwh import embedded
from sparkify_dwh.errors import DwhError

pytestmark = pytest.mark.timeout(300)
PAGE = "<html>the page</html>\n"


# --------------------------------------------------------------------------- 4: the dashboard written safely


def test_the_page_is_written_through_a_symlink_keeping_mode_and_owner(tmp_path: Path) -> None:
    real = tmp_path / "real.html"
    real.write_text("old")
    real.chmod(0o600)
    link = tmp_path / "dashboard.html"
    link.symlink_to(real)
    assert report.write_page(link, PAGE) == real
    assert link.is_symlink() and os.readlink(link) == str(real)  # the link stays a link
    assert real.read_text() == PAGE
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dashboard.html", "real.html"]  # no temporary left


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can make a file of another owner")
def test_an_existing_page_keeps_its_owner(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("old")
    os.chown(page, 65534, 65534)
    page.chmod(0o640)
    report.write_page(page, PAGE)
    info = page.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (65534, 65534, 0o640)
    assert page.read_text() == PAGE


def test_a_target_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link_to_fifo = tmp_path / "link"
    link_to_fifo.symlink_to(fifo)
    for target, kind in [(fifo, "a FIFO"), (link_to_fifo, "a FIFO"), (Path("/dev/null"), "a character device"),
                         (tmp_path, "a folder")]:
        with pytest.raises(DwhError, match=f"cannot write {target}: it is {kind}, not a regular file"):
            report.write_page(target, PAGE)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and link_to_fifo.is_symlink()


def test_a_name_of_245_characters_is_written(tmp_path: Path) -> None:
    page = tmp_path / ("r" * 240 + ".html")
    assert report.write_page(page, PAGE) == page
    assert page.read_text() == PAGE


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_folder_is_one_line_naming_the_path(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(0o500)
    with pytest.raises(DwhError, match=f"cannot write {folder / 'page.html'}: Permission denied"):
        report.write_page(folder / "page.html", PAGE)


def test_out_edges_are_one_line(loaded: Warehouse, tmp_path: Path) -> None:
    """Through report.py itself: --out "", a name past NAME_MAX, a folder that is not there, a FIFO."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cases = {"": "--out must name a file", str(tmp_path / ("x" * 300)): "File name too long",
             str(tmp_path / "missing" / "page.html"): "No such file or directory", str(fifo): "it is a FIFO"}
    for out, said in cases.items():
        proc = loaded.run("report.py", "--out", out, check=False)
        line = one_line_error(proc)
        assert said in line and "Traceback" not in proc.stderr, line


# --------------------------------------------------------------------------- 5: a load does not depend on its stdout


@pytest.mark.parametrize("json_output", [False, True])
def test_a_load_with_its_stdout_closed_commits_and_exits_quietly(embedded: Warehouse, json_output: bool) -> None:
    """`etl.py | head -1` at its worst: the reader has gone before the script writes anything."""
    embedded.run("create_tables.py")
    config = embedded.write_config()
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, str(ROOT / "etl.py"), "--config", str(config),
                               *(["--json"] if json_output else [])], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, env=embedded.script_env(), timeout=300)
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert "error" not in proc.stderr and "Broken pipe" not in proc.stderr, proc.stderr
    assert embedded.query("SELECT outcome FROM etl_runs") == [("succeeded",)]
    assert embedded.scalar("SELECT COUNT(*) FROM songplays") == 6820


# --------------------------------------------------------------------------- 6: the embedded server and its clients


def test_a_killed_serve_does_not_stop_the_server_under_its_clients(scratch: Path) -> None:  # noqa: F811
    folder = scratch / ".dwh"
    config = embedded_config(folder, scratch)
    assert script("create_tables.py", config).returncode == 0
    with holding(config) as holder:  # as serve.py: keeps the server up, and a client connects through it
        info = embedded.read_postmaster(folder / "pgdata")
        assert info is not None
        client = psycopg2.connect(embedded.Server(folder, info).uri, dbname="dev", application_name="psql")
        holder.kill()  # kill -9: no atexit, it stays registered
        holder.wait(10)
    try:
        status = script("etl.py", config, "--status")  # a read-only script, the last one out
        assert status.returncode == 0, status.stderr
        assert running(folder)
        with client.cursor() as cur:  # the client's session was left alone
            cur.execute("SELECT pg_sleep(0.1), 1")
            assert cur.fetchone() == ("", 1)
    finally:
        client.close()
    assert script("etl.py", config, "--status").returncode == 0
    assert not running(folder)  # no client left: the last script out stopped it


# --------------------------------------------------------------------------- 7: edges


@pytest.mark.parametrize(("name", "args", "said"), [
    ("report.py", ["--from", "0001-01-01"], "--from: expected a date from 1900-01-01 to 2199-12-31, not '0001-01-01'"),
    ("report.py", ["--to", "9999-12-31"], "--to: expected a date from 1900-01-01"),
    ("report.py", ["--to", "\u0662\u0660\u0661\u0668-11-01"], "--to: expected a date as YYYY-MM-DD"),
    ("trends.py", ["--horizon", "\u0663"], "--horizon: expected a number of days from 1 to 28, not '\u0663'"),
    ("check_data.py", ["--sample", "\u0663"], "--sample: expected a whole number of at least 0"),
    ("etl.py", ["--rejects", "\u0663"], "--rejects: expected a whole number in digits 0-9"),
    ("cluster.py", ["up", "--timeout", "\u0663"], "--timeout: expected a number of seconds above 0"),
    ("cluster.py", ["up", "--poll-seconds", "nan"], "--poll-seconds: expected a number of seconds above 0"),
])
def test_arguments_outside_their_range_are_one_line(tmp_path: Path, name: str, args: list[str], said: str) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / name), *args], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and said in errors[0] and "Traceback" not in proc.stderr, proc.stderr


def test_leftovers_of_a_failed_start_are_removed(scratch: Path) -> None:  # noqa: F811
    folder = scratch / ".dwh"
    config = embedded_config(folder, scratch)
    assert script("create_tables.py", config).returncode == 0
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs: the start that wrote these was killed or failed on a full disk
    leftovers = [folder / "pgdata" / f".sparkify.conf.{dead.pid}", folder / "pgdata" / f".pg_hba.conf.{dead.pid}",
                 folder / f".clients.json.{dead.pid}"]
    for leftover in leftovers:
        leftover.write_bytes(b"")
    mine = folder / "pgdata" / f".sparkify.conf.{os.getppid()}"  # of a live process: not touched
    mine.write_bytes(b"")
    assert script("etl.py", config, "--status").returncode == 0
    assert [p for p in leftovers if p.exists()] == []
    assert mine.exists()


def test_a_failed_write_of_a_setting_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "sparkify.conf"
    target.mkdir()  # os.replace of a file over a folder fails, as a full disk would fail the write
    with pytest.raises(OSError):
        embedded.write_private(target, "x = 1\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sparkify.conf"]
