"""Where records come from: listing an S3 prefix or a folder, reading objects concurrently,
and splitting an object's bytes into JSON records whatever its layout.

Layouts: newline-delimited objects, pretty-printed or concatenated objects, a top-level array
of objects, each optionally gzip-compressed. Hidden files and folders (``.ipynb_checkpoints/``)
and files that are not JSON are not data.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from configparser import ConfigParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

import dwh

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
    etag: str | None = None  # S3 only; files are identified by key and size


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
    --full-listing, and every FULL_LISTING_EVERY-th run) compares every file's size again.
    The walk collects in `seen` the folders to record once the run has loaded their files;
    one modified less than RACY_NS before the listing is not recorded (a file added within the
    clock tick of its last change would not change its time)."""

    recorded: dict[str, tuple[int, int]]  # folder -> (mtime_ns, subfolders)
    listing_started_ns: int
    seen: list[tuple[str, int, int]]  # (folder, mtime_ns, subfolders): new or changed records


RACY_NS = 2_000_000_000


def list_objects(cfg: ConfigParser, source: str, location: str, known: KnownFolders | None = None,
                 ) -> Iterator[SourceObject]:
    """Every data object under an s3:// prefix or a folder, in key order; with known, a folder's
    files only where the folder changed since it was recorded."""
    if dwh.is_s3(location):
        yield from _list_s3(cfg, source, location)
    else:
        yield from _list_folder(source, dwh.config_path(cfg, location), known)


def _list_folder(source: str, root: Path, known: KnownFolders | None = None) -> Iterator[SourceObject]:
    """Every data file under root, as the walk finds it (the plan numbers them in key order)."""
    if not root.is_dir():
        raise dwh.SourceError(f"{source} folder not found: {root}; check [S3] in dwh.cfg")
    recorded = known.recorded if known is not None else {}
    folders = [str(root.resolve())]
    while folders:  # os.scandir: one system call per folder, not per file
        folder = folders.pop()
        mtime = os.stat(folder).st_mtime_ns
        unchanged = recorded.get(folder, (None, 0))[0] == mtime
        if unchanged and recorded[folder][1] == 0:
            continue  # a leaf folder with the same entries as when all its files were loaded
        subfolders = 0
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # hidden files and folders (.ipynb_checkpoints) are not data
                if entry.is_dir():
                    folders.append(entry.path)
                    subfolders += 1
                elif not unchanged and is_data_file(entry.name):
                    yield SourceObject(source, entry.path, entry.stat().st_size)
        if known is not None and not unchanged and mtime < known.listing_started_ns - RACY_NS:
            known.seen.append((folder, mtime, subfolders))


def _list_s3(cfg: ConfigParser, source: str, uri: str) -> Iterator[SourceObject]:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = dwh.split_s3_uri(uri)
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # log_data must not also match log_data_old/
    client = dwh.s3_client(cfg)
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if is_data_file(item["Key"][len(prefix) :]):
                    yield SourceObject(source, f"s3://{bucket}/{item['Key']}", item["Size"], item["ETag"].strip('"'))
    except (BotoCoreError, ClientError) as exc:
        raise dwh.SourceError(dwh.describe_aws_error(exc, f"cannot list {source} at s3://{bucket}/{prefix}")) from None


# --------------------------------------------------------------------------- reading


def read_objects(cfg: ConfigParser, objects: Iterable[SourceObject]) -> Iterator[tuple[SourceObject, bytes]]:
    """(object, decompressed bytes) in the order given. Files are read as they are needed (a
    thread per tiny file costs more than the read). S3 objects are fetched by a pool of threads,
    so latency overlaps with parsing, at most READ_AHEAD objects and READ_AHEAD_BYTES ahead, so
    memory stays flat however large the source."""
    client = None
    with ThreadPoolExecutor(max_workers=16) as pool:
        pending: deque[tuple[SourceObject, Future[bytes]]] = deque()
        in_flight = 0
        for obj in objects:
            while pending and (len(pending) >= READ_AHEAD or in_flight + obj.size > READ_AHEAD_BYTES):
                done, future = pending.popleft()
                in_flight -= done.size
                yield done, future.result()
            if not obj.key.startswith("s3://"):
                yield obj, _read_one(None, obj)
                continue
            client = client or dwh.s3_client(cfg)
            pending.append((obj, pool.submit(_read_one, client, obj)))
            in_flight += obj.size
        while pending:
            done, future = pending.popleft()
            yield done, future.result()


def _read_one(client: Any, obj: SourceObject) -> bytes:
    if obj.key.startswith("s3://"):
        data = _get_s3(client, obj)
    else:
        try:
            data = Path(obj.key).read_bytes()
        except OSError as exc:
            raise dwh.SourceError(f"cannot read {obj.key}: {exc.strerror}") from None
    return decompress(data, obj.key)


def _get_s3(client: Any, obj: SourceObject) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = dwh.split_s3_uri(obj.key)
    try:
        body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        raise dwh.SourceError(dwh.describe_aws_error(exc, f"cannot read {obj.key}")) from None
    return body


def decompress(data: bytes, key: str) -> bytes:
    """gzip by content, not by name: a .json.gz that is plain text is read as it is."""
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise dwh.SourceError(f"{key} is not a readable gzip file: {exc}") from None


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
