"""Where records come from: listing an S3 prefix or a folder, reading objects concurrently,
and splitting an object's bytes into JSON records whatever its layout.

Layouts: newline-delimited objects, pretty-printed or concatenated objects, a top-level array
of objects, each optionally gzip-compressed. Hidden files and folders (``.ipynb_checkpoints/``)
and files that are not JSON are not data.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import re
import stat
import threading
import time
import zlib
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from sparkify_dwh import console, s3, settings
from sparkify_dwh.errors import SourceError
from sparkify_dwh.settings import Settings

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
TRUNCATED = "truncated record: the text ends before the record is closed"
READ_AHEAD = 64  # objects being fetched at once, at most ...
READ_AHEAD_BYTES = 32 << 20  # ... and bytes (one larger object is read alone)


@dataclass(frozen=True)
class SourceObject:
    source: str  # "events" or "songs"
    key: str  # s3://bucket/key, or an absolute file path
    size: int
    etag: str | None = None  # S3: the ETag; a file: "mtime_ns:<its modification time>" (key, size and this
    # identify an object: a file edited in place to the same size loads again, as rsync would copy it)


class RawRecord(NamedTuple):  # a tuple: a million of them are made per million events
    """One record of an object: a parsed JSON value, or the text that could not be parsed."""

    line: int | None  # first line of the record, from 1; None when unknown (a compact array)
    value: Any = None
    problem: str | None = None  # set when the text is not a usable JSON value
    text: bytes | None = None  # the source text; None for an element of an array that parsed


def is_data_file(relative_key: str) -> bool:
    """A JSON (optionally .gz) object that is not hidden and not under a hidden folder."""
    parts = relative_key.split("/")
    if any(p.startswith(".") or p == "" for p in parts):
        return False
    name = parts[-1].lower()
    return name.removesuffix(".gz").endswith(JSON_SUFFIXES)


# --------------------------------------------------------------------------- listing


@dataclass
class KnownFolders:
    """The folders of a folder source whose data files were all loaded, each with its modification
    time then (adding, removing or renaming a file changes it) and its number of subfolders.

    A listing skips the files of a folder whose modification time is unchanged (and does not even
    open it when it has no subfolders): on a source of 300k song files in 17k folders, a run
    stats 17k folders instead of 300k files. What this cannot see is a file rewritten in place
    under the same name, which leaves its folder's time alone: a full listing (etl.py
    --full-listing, and every FULL_LISTING_EVERY-th run) compares every file's size and
    modification time again.
    The walk collects in `seen` the folders to record once the run has loaded their files;
    one modified less than RACY_NS before the listing is not recorded (a file added within the
    clock tick of its last change would not change its time)."""

    recorded: dict[str, tuple[int, int]]  # folder -> (mtime_ns, subfolders)
    listing_started_ns: int
    seen: list[tuple[str, int, int]]  # (folder, mtime_ns, subfolders): new or changed records


RACY_NS = 2_000_000_000
KEY_BYTES = 1024  # object keys (loaded_objects, rejects) are VARCHAR(1024): bytes on Redshift
MTIME_TAG = "mtime_ns:"  # a file's "etag": its modification time (with its size, its identity)


def list_objects(cfg: Settings, source: str, location: str, known: KnownFolders | None = None,
                 ) -> Iterator[SourceObject]:
    """Every data object under an s3:// prefix or a folder, in key order; with known, a folder's
    files only where the folder changed since it was recorded."""
    if s3.is_s3(location):
        yield from _list_s3(cfg, source, location)
    else:
        yield from _list_folder(source, settings.config_path(cfg, location), known)


def _list_folder(source: str, root: Path, known: KnownFolders | None = None) -> Iterator[SourceObject]:
    """Every data file under root, as the walk finds it (the plan numbers them in key order).

    An entry that cannot be an object is skipped with one line naming it, and the rest load: a
    sub-folder that cannot be listed, a name that is not UTF-8, a path longer than an object key
    holds, a symbolic link that leads nowhere, back into the source (a loop, or a second path to
    files listed under their own) or to a folder already listed. A folder with a skipped entry is
    not recorded in `known`, so every run says so again until it is fixed."""
    if not root.is_dir():
        raise SourceError(f"{source} folder not found: {root}; check [S3] in dwh.cfg")
    recorded = known.recorded if known is not None else {}
    top = str(root.resolve())
    visited: set[tuple[int, int]] = set()  # (device, inode) of every folder listed: loops and duplicates
    linked: set[tuple[int, int]] = set()  # ... and of files reached by a link to outside the source
    folders = [top]
    while folders:  # os.scandir: one system call per folder, not per file
        folder = folders.pop()
        try:
            info = os.stat(folder)
        except OSError as exc:
            _skip(folder, f"cannot be listed ({exc.strerror})")
            continue
        if (info.st_dev, info.st_ino) in visited:
            _skip(folder, "a symbolic link to a folder listed already (a loop, or a second link to it)")
            continue
        visited.add((info.st_dev, info.st_ino))
        mtime = info.st_mtime_ns
        unchanged = recorded.get(folder, (None, 0))[0] == mtime
        if unchanged and recorded[folder][1] == 0:
            continue  # a leaf folder with the same entries as when all its files were loaded
        complete, found = True, []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue  # hidden files and folders (.ipynb_checkpoints) are not data
                    kind, problem, obj = _entry(source, entry, folder, top, unchanged, linked)
                    if problem is not None:
                        _skip(entry.path, problem)
                        complete = False
                    elif kind == "folder":
                        found.append(entry.path)
                    elif obj is not None:
                        yield obj
        except OSError as exc:
            _skip(folder, f"cannot be listed ({exc.strerror})")
            continue
        folders.extend(sorted(found, reverse=True))  # so the walk is the same on every run
        if known is not None and complete and not unchanged and mtime < known.listing_started_ns - RACY_NS:
            known.seen.append((folder, mtime, len(found)))


def _entry(source: str, entry: os.DirEntry[str], folder: str, top: str, unchanged: bool,
           linked: set[tuple[int, int]]) -> tuple[str | None, str | None, SourceObject | None]:
    """(kind: "folder", "file" or None for what is not data; why it is skipped; the object of a
    data file) for one entry of a folder. A plain file with a UTF-8 name costs one stat, as before."""
    if entry.is_symlink():
        return _link_entry(source, entry, folder, top, unchanged, linked)
    if entry.is_dir():
        return "folder", _unusable(entry.path), None
    if unchanged or not is_data_file(entry.name):
        return None, None, None  # not data, or a file of a folder whose files were all loaded
    problem = _unusable(entry.path)
    if problem is not None:
        return None, problem, None
    try:
        info = entry.stat()
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})", None
    return "file", None, SourceObject(source, entry.path, info.st_size, f"{MTIME_TAG}{info.st_mtime_ns}")


def _link_entry(source: str, entry: os.DirEntry[str], folder: str, top: str, unchanged: bool,
                linked: set[tuple[int, int]]) -> tuple[str | None, str | None, SourceObject | None]:
    """A symbolic link is followed when it leads out of the source. One that leads back into it is
    skipped: what it leads to is listed under its own path, or it is a loop."""
    name, path = entry.name, entry.path
    try:
        info = os.stat(path)
    except OSError as exc:
        could_be_data = is_data_file(name) or "." not in name  # a data file, or perhaps a folder
        return None, (f"a symbolic link that leads nowhere ({exc.strerror})" if could_be_data else None), None
    to_folder = stat.S_ISDIR(info.st_mode)
    if not to_folder and (unchanged or not is_data_file(name)):
        return None, None, None
    problem = _unusable(path)
    real = os.path.realpath(path)
    if problem is None and (real == top or real.startswith(top + os.sep)):
        if to_folder and (folder == real or folder.startswith(real + os.sep)):
            problem = f"a symbolic link loop: it leads back to {real}"
        elif _listed(os.path.relpath(real, top).replace(os.sep, "/"), to_folder):
            problem = f"a symbolic link to {real}, which is listed under its own path"
    if problem is not None:
        return None, problem, None
    if to_folder:
        return "folder", None, None  # out of the source: a folder reached twice is caught when listed
    if (info.st_dev, info.st_ino) in linked:
        return None, f"a second symbolic link to {real}, listed already", None
    linked.add((info.st_dev, info.st_ino))
    return "file", None, SourceObject(source, path, info.st_size, f"{MTIME_TAG}{info.st_mtime_ns}")


def _listed(relative: str, folder: bool) -> bool:
    """Whether the walk lists this path of the source itself (a folder that is not hidden, a data file)."""
    return not any(p.startswith(".") for p in relative.split("/")) if folder else is_data_file(relative)


def _unusable(path: str) -> str | None:
    """Why a path cannot be an object key (or a folder of them), or None."""
    name = os.path.basename(path)
    if not name.isascii() and not _is_utf8(name):
        return "its name is not UTF-8 text; rename it"
    if len(path) * 4 > KEY_BYTES and len(path.encode()) > KEY_BYTES:
        return f"its path is {len(path.encode()):,} bytes, longer than the {KEY_BYTES:,} an object key can hold"
    return None


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")  # a name that is not UTF-8 comes as lone surrogates (surrogateescape)
    except UnicodeEncodeError:
        return False
    return True


def _skip(path: str, reason: str) -> None:
    shown = os.fsencode(path).decode("utf-8", "backslashreplace")  # bytes that are not UTF-8 as \xe9
    console.say(f"skipped {console.printable(shown)}: {reason}")


def _list_s3(cfg: Settings, source: str, uri: str) -> Iterator[SourceObject]:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = s3.split_s3_uri(uri)
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # log_data must not also match log_data_old/
    client = s3_client(cfg)
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if is_data_file(item["Key"][len(prefix) :]):
                    key = f"s3://{bucket}/{item['Key']}"
                    if len(key) * 4 > KEY_BYTES and len(key.encode()) > KEY_BYTES:
                        console.say(f"skipped {console.printable(key)}: its key is {len(key.encode()):,} bytes with"
                                f" s3://{bucket}/, longer than the {KEY_BYTES:,} an object key can hold")
                        continue
                    yield SourceObject(source, key, item["Size"], item["ETag"].strip('"'))
    except (BotoCoreError, ClientError) as exc:
        raise SourceError(s3.describe_aws_error(exc, f"cannot list {source} at s3://{bucket}/{prefix}")) from None


# --------------------------------------------------------------------------- reading
# An object that cannot be read (vanished or unreadable since the listing, not a readable gzip,
# changed since it was listed, S3 failing on it past the retries) is a reject of its own: it does
# not block the good objects, counts towards MAX_REJECTS, and is not recorded as loaded, so the
# next run tries it again. A fault that is not the object's (no credentials, no such bucket, an
# endpoint that cannot be reached) still fails the run with one line.

READ_ATTEMPTS = 8  # requests for one S3 object, at most, whatever goes wrong (one loop: no retries within)
BACKOFF = (0.1, 2.0)  # full-jitter backoff between them: from 0.1 s, doubling, at most 2 s ...
THROTTLED_BACKOFF = (0.25, 4.0)  # ... and from 0.25 s up to 4 s after S3 said to slow down
# S3's answers that are about the object, not the configuration: the object is a reject.
OBJECT_ERRORS = {
    "NoSuchKey": "it vanished since it was listed",
    "404": "it vanished since it was listed",
    "PreconditionFailed": "it changed since it was listed (another ETag); the next run loads the new one",
    "412": "it changed since it was listed (another ETag); the next run loads the new one",
    "AccessDenied": "access denied (403)",
    "403": "access denied (403)",
    "InvalidObjectState": "it is archived (Glacier); restore it first",
}
THROTTLING_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
                    "TooManyRequestsException", "RequestThrottled", "ServiceUnavailable"}


class Unreadable(SourceError):
    """An object that cannot be read; the message says why."""


class _Retry(Exception):
    """A request for an object that may work if made again: a reset, a 500, 503 SlowDown, a body
    that broke off half way or is not the object listed. `fatal`: past the attempts, a fault of the
    connection (the run fails) rather than of the object (a reject)."""

    def __init__(self, why: str, *, throttled: bool = False, fatal: Exception | None = None) -> None:
        super().__init__(why)
        self.throttled = throttled
        self.fatal = fatal


def read_objects(cfg: Settings, objects: Iterable[SourceObject],
                 ) -> Iterator[tuple[SourceObject, bytes | Unreadable]]:
    """(object, decompressed bytes, or why it cannot be read) in the order given. Files are read
    as they are needed (a thread per tiny file costs more than the read). S3 objects are fetched
    by a pool of threads, so latency overlaps with parsing, at most READ_AHEAD objects and
    READ_AHEAD_BYTES ahead, so memory stays flat however large the source."""
    client = None
    with ThreadPoolExecutor(max_workers=16) as pool:
        pending: deque[tuple[SourceObject, Future[bytes]]] = deque()
        in_flight = 0
        for obj in objects:
            while pending and (len(pending) >= READ_AHEAD or in_flight + obj.size > READ_AHEAD_BYTES):
                done, future = pending.popleft()
                in_flight -= done.size
                yield done, _result(future)
            if not obj.key.startswith("s3://"):
                yield obj, _result(None, obj)
                continue
            client = client or s3_client(cfg, attempts=1)  # _get_s3 retries, in one bounded loop
            pending.append((obj, pool.submit(_read_one, client, obj)))
            in_flight += obj.size
        while pending:
            done, future = pending.popleft()
            yield done, _result(future)


def _result(future: Future[bytes] | None, obj: SourceObject | None = None) -> bytes | Unreadable:
    try:
        return future.result() if future is not None else _read_one(None, obj)  # type: ignore[arg-type]
    except Unreadable as exc:
        return exc


def _read_one(client: Any, obj: SourceObject) -> bytes:
    if obj.key.startswith("s3://"):
        data = _get_s3(client, obj)
    else:
        try:
            data = Path(obj.key).read_bytes()
        except FileNotFoundError:
            raise Unreadable("unreadable object: it vanished since it was listed; the next run tries again") from None
        except OSError as exc:
            raise Unreadable(f"unreadable object: {exc.strerror}; the next run tries again") from None
    return decompress(data, obj.key)


def _get_s3(client: Any, obj: SourceObject) -> bytes:
    """The object's bytes, in at most READ_ATTEMPTS requests with backoff: when the connection is
    reset, S3 answers 500 or 503 SlowDown, or the body breaks off half way, is shorter than listed,
    fails its checksum or does not match its MD5 ETag. The client itself does not retry (botocore
    would not for a body that fails after the headers, and its 1-s throttling backoff made a
    sporadically throttled load several times slower)."""
    bucket, key = s3.split_s3_uri(obj.key)
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            return _get_s3_once(client, bucket, key, obj)
        except _Retry as exc:
            if attempt == READ_ATTEMPTS:
                if exc.fatal is not None:
                    raise exc.fatal from None
                raise Unreadable(f"unreadable object: {exc} ({READ_ATTEMPTS} attempts); the next run tries again"
                                 ) from None
            base, cap = THROTTLED_BACKOFF if exc.throttled else BACKOFF
            time.sleep(random.uniform(0, min(cap, base * 2 ** (attempt - 1))))
    raise AssertionError("unreachable")


def _get_s3_once(client: Any, bucket: str, key: str, obj: SourceObject) -> bytes:
    from botocore import exceptions as bex

    # If-Match: the version listed, or PreconditionFailed (never another version's bytes under this ETag)
    conditions = {"IfMatch": f'"{obj.etag}"'} if obj.etag else {}
    try:
        response = client.get_object(Bucket=bucket, Key=key, **conditions)
    except bex.ClientError as exc:
        raise _object_error(exc, obj) from None
    except (bex.ConnectionError, bex.ConnectionClosedError, bex.ReadTimeoutError) as exc:  # reset, refused
        fatal = SourceError(s3.describe_aws_error(exc, f"cannot read {obj.key}"))
        raise _Retry(f"the connection failed ({console.first_line(exc)})", fatal=fatal) from None
    except bex.BotoCoreError as exc:  # no credentials, say: about the configuration
        raise SourceError(s3.describe_aws_error(exc, f"cannot read {obj.key}")) from None
    try:
        body: bytes = response["Body"].read()
    except (bex.ResponseStreamingError, bex.IncompleteReadError, bex.ReadTimeoutError,
            bex.ConnectionClosedError, bex.FlexibleChecksumError) as exc:
        raise _Retry(f"the response broke off or was damaged ({console.first_line(exc)})") from None
    if len(body) != obj.size:
        raise _Retry(f"{len(body):,} bytes came of the {obj.size:,} listed")
    if _etag_is_md5(obj.etag, response) and hashlib.md5(body, usedforsecurity=False).hexdigest() != obj.etag:
        raise _Retry("its bytes do not match its ETag (MD5)")
    return body


def _object_error(exc: Any, obj: SourceObject) -> Exception:
    """S3's error answer: Unreadable when it is about the object, _Retry when it may pass (500,
    503 SlowDown), else a SourceError (the configuration: the run fails)."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in OBJECT_ERRORS:
        return Unreadable(f"unreadable object: {OBJECT_ERRORS[code]}; the next run tries again")
    throttled = code in THROTTLING_CODES or status == 429
    if throttled or status >= 500:
        return _Retry(f"S3 kept answering {status} {code}".rstrip(), throttled=throttled)
    return SourceError(s3.describe_aws_error(exc, f"cannot read {obj.key}"))  # NoSuchBucket, InvalidAccessKeyId


_MD5 = re.compile(r"[0-9a-f]{32}")


def _etag_is_md5(etag: str | None, response: dict[str, Any]) -> bool:
    """An ETag is the MD5 of the bytes for an object uploaded in one part without SSE-KMS or
    SSE-C (a multipart ETag has a '-'; a KMS or customer-key one is not a digest of the data)."""
    encrypted = response.get("ServerSideEncryption", "").startswith("aws:kms") or "SSECustomerAlgorithm" in response
    return etag is not None and _MD5.fullmatch(etag) is not None and not encrypted


def decompress(data: bytes, key: str) -> bytes:
    """gzip by content, not by name: a .json.gz that is plain text is read as it is."""
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise Unreadable(f"unreadable object: not a readable gzip file ({exc}); the next run tries again") from None


# --------------------------------------------------------------------------- S3 client
# One line, once per run, when S3 throttles: the run goes on (it backs off and retries)
# but more slowly, and whoever watches it should know why. Worker processes do not print it: they
# count, and the main process says it (note_throttling).

THROTTLE_NOTICE = "S3 is throttling requests ({}): retrying with backoff, the load goes on more slowly"
_throttling = {"seen": 0, "told": 0, "tell": 1}
_throttling_lock = threading.Lock()


def s3_client(cfg: Settings, attempts: int = 8) -> Any:
    """s3.s3_client, telling the user when S3 throttles."""
    client = s3.s3_client(cfg, attempts=attempts)
    client.meta.events.register("needs-retry.s3", _on_retry)
    return client


def _on_retry(response: tuple[Any, dict[str, Any]] | None = None, **_: Any) -> None:
    """botocore's needs-retry event: a look at each answer; the decision stays botocore's (None)."""
    if response is None:
        return
    http, parsed = response
    code = parsed.get("Error", {}).get("Code", "")
    if code in THROTTLING_CODES or getattr(http, "status_code", 0) == 429:
        note_throttling(1, f"{getattr(http, 'status_code', '?')} {code}".strip())


def note_throttling(count: int, what: str = "503 SlowDown") -> None:
    with _throttling_lock:
        _throttling["seen"] += count
        tell = count and _throttling["tell"] and not _throttling["told"]
        _throttling["told"] |= bool(tell)
    if tell:
        console.say(THROTTLE_NOTICE.format(what))


def new_run() -> None:
    """A run begins: its first throttled answer is told again (a process may make several runs)."""
    with _throttling_lock:
        _throttling.update(seen=0, told=0)


def throttling_seen() -> int:
    """Throttling answers this process has seen."""
    return _throttling["seen"]


def count_throttling_quietly() -> None:
    """In a worker process: count throttling answers, and leave telling to the main process."""
    _throttling["tell"] = 0


# --------------------------------------------------------------------------- records


def split_records(data: bytes, first_line: int = 1) -> Iterator[RawRecord]:
    """The JSON records of one object, in order, each with the line it starts on.

    Newline-delimited objects (the common case) cost one parse per line. A line that is not
    a JSON value on its own starts a multi-line text (pretty-printed, or several objects on
    one line) that ends where it parses, or where the next record starts (a line beginning
    with '{' or '['), or at the end of the object. Text that does not parse as a whole is
    split by brackets into its values, so one bad record costs only itself."""
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    if _STARTS_AS_ARRAY.match(data):
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            yield from _split_values(data, first_line, in_array=True)
            return
        yield from _records_of(value, None)
        return
    lines = data.split(b"\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line or line.isspace():
            i += 1
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            i = yield from _multi_line_text(lines, i, first_line)
            continue
        if type(value) is dict:  # the common case, without a generator per line
            yield RawRecord(first_line + i, value, None, line)
        else:
            yield from _records_of(value, first_line + i, line)
        i += 1


def _multi_line_text(lines: list[bytes], start: int, first_line: int) -> Generator[RawRecord, None, int]:
    """From a line that does not parse alone: the records of it and the lines it continues into."""
    end = start
    text = lines[start]
    while True:
        if text.rstrip()[-1:] in (b"}", b"]"):  # only a closing line can complete a value
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError:
                pass
            else:
                yield from _records_of(value, first_line + start, text)
                return end + 1
        if end + 1 == len(lines) or lines[end + 1][:1] in (b"{", b"["):
            break
        end += 1
        text += b"\n" + lines[end]
    yield from _split_values(text, first_line + start)
    return end + 1


_STARTS_AS_ARRAY = re.compile(rb"\s*\[")
# JSON strings (so brackets inside them are ignored) and brackets.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_ELEMENTS = re.compile(rb"[^,\r\n]+")  # between an array's values: each scalar is a record
_LINES = re.compile(rb"[^\r\n]+")  # between concatenated values: each line of junk is one record


def _split_values(data: bytes, first_line: int, *, in_array: bool = False) -> Iterator[RawRecord]:
    """Split text into its top-level values by brackets and parse each on its own; in_array:
    the elements of an array that opens the text. Slow (a tokenizer in Python), so it runs
    only on text that did not parse: one bad record does not cost the good ones around it."""
    depth, value_start, gap_start = 0, -1, data.index(b"[") + 1 if in_array else 0
    for token in _TOKENS.finditer(data, gap_start):
        t = token.group()
        if t in (b"{", b"["):
            if depth == 0:
                yield from _gap(data, gap_start, token.start(), first_line, in_array)
                value_start = token.start()
            depth += 1
        elif t in (b"}", b"]"):
            if depth == 0:
                if in_array and t == b"]":  # the array closes; what follows is read as usual
                    yield from _gap(data, gap_start, token.start(), first_line, in_array)
                    yield from split_records(data[token.end() :], _line_at(data, token.end(), first_line))
                    return
                continue  # a stray closing bracket stays in the gap, as junk
            depth -= 1
            if depth == 0:
                yield from _parsed(data[value_start : token.end()], _line_at(data, value_start, first_line))
                value_start, gap_start = -1, token.end()
    if value_start >= 0:
        yield RawRecord(_line_at(data, value_start, first_line), problem=TRUNCATED, text=data[value_start:].rstrip())
    else:
        yield from _gap(data, gap_start, len(data), first_line, in_array)


def _gap(data: bytes, start: int, end: int, first_line: int, in_array: bool) -> Iterator[RawRecord]:
    """Whatever stands between bracketed values: separators, or scalars and junk as records
    (in an array, each element; elsewhere each line, so a line of CSV is one reject, not many)."""
    for piece in (_ELEMENTS if in_array else _LINES).finditer(data, start, end):
        text = piece.group().strip(b" \t\v\f,")
        if text:
            yield from _parsed(text, _line_at(data, piece.start(), first_line))


def _parsed(text: bytes, line: int) -> Iterator[RawRecord]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        yield RawRecord(line, problem=describe_bad_json(text), text=text)
        return
    yield from _records_of(value, line, text)


def _line_at(data: bytes, offset: int, first_line: int) -> int:
    return first_line + data.count(b"\n", 0, offset)


def describe_bad_json(text: bytes) -> str:
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (byte {exc.start + 1})"
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}" if b"\n" in text.strip() else f"character {exc.pos + 1}"
        return f"not valid JSON: {exc.msg} at {where}"
    return "not valid JSON"


def _records_of(value: Any, line: int | None, text: bytes | None = None) -> Iterator[RawRecord]:
    """A top-level array holds records; anything else is one record, whose text is `text`."""
    if isinstance(value, list):
        for item in value:
            yield RawRecord(line, value=item)
    else:
        yield RawRecord(line, value=value, text=text)
