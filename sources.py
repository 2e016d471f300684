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
from typing import Any

import orjson

import dwh

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
TRUNCATED = "truncated record: the text ends before the record is closed"
READ_AHEAD = 64  # objects being fetched at once, at most ...
READ_AHEAD_BYTES = 64 << 20  # ... and bytes (one larger object is read alone)


@dataclass(frozen=True)
class SourceObject:
    source: str  # "events" or "songs"
    key: str  # s3://bucket/key, or an absolute file path
    size: int
    etag: str | None = None  # S3 only; files are identified by key and size


@dataclass(frozen=True)
class RawRecord:
    """One record of an object: a parsed JSON value, or the text that could not be parsed."""

    line: int | None  # first line of the record, from 1; None when unknown (a compact array)
    value: Any = None
    problem: str | None = None  # set when the text is not a usable JSON value
    text: bytes | None = None  # the source text, when the record failed to parse


def is_data_file(relative_key: str) -> bool:
    """A JSON (optionally .gz) object that is not hidden and not under a hidden folder."""
    parts = relative_key.split("/")
    if any(p.startswith(".") or p == "" for p in parts):
        return False
    name = parts[-1].lower()
    return name.removesuffix(".gz").endswith(JSON_SUFFIXES)


# --------------------------------------------------------------------------- listing


def list_objects(cfg: ConfigParser, source: str, location: str) -> Iterator[SourceObject]:
    """Every data object under an s3:// prefix or a folder, in key order."""
    if dwh.is_s3(location):
        yield from _list_s3(cfg, source, location)
    else:
        yield from _list_folder(source, dwh.config_path(cfg, location))


def _list_folder(source: str, root: Path) -> Iterator[SourceObject]:
    if not root.is_dir():
        raise dwh.SourceError(f"{source} folder not found: {root}; check [S3] in dwh.cfg")
    found: list[tuple[str, int]] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # never descend into hidden folders
        for name in files:
            path = Path(folder, name)
            if is_data_file(path.relative_to(root).as_posix()):
                found.append((str(path.resolve()), path.stat().st_size))
    for key, size in sorted(found):
        yield SourceObject(source, key, size)


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
    """(object, decompressed bytes) in the order given, fetched by a pool of threads so that S3
    latency overlaps with parsing. Reads ahead by at most READ_AHEAD objects and READ_AHEAD_BYTES,
    so memory stays flat however large the source."""
    client = None
    with ThreadPoolExecutor(max_workers=16) as pool:
        pending: deque[tuple[SourceObject, Future[bytes]]] = deque()
        in_flight = 0
        for obj in objects:
            while pending and (len(pending) >= READ_AHEAD or in_flight + obj.size > READ_AHEAD_BYTES):
                done, future = pending.popleft()
                in_flight -= done.size
                yield done, future.result()
            if client is None and obj.key.startswith("s3://"):
                client = dwh.s3_client(cfg)
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
    a JSON value on its own starts a multi-line record (pretty-printed, or several objects
    on one line) that ends where the text parses, or is rejected where the next record starts
    (a line beginning with '{' or '[') or at the end of the object (a truncated record)."""
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    if data.lstrip()[:1] == b"[":
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            yield from _split_broken_array(data, first_line)
            return
        yield from _records_of(value, None)
        return
    lines = data.split(b"\n")
    offset = first_line - 1
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            i = yield from _multi_line_record(lines, i, offset)
            continue
        yield from _records_of(value, offset + i + 1)
        i += 1


def _multi_line_record(lines: list[bytes], start: int, offset: int) -> Generator[RawRecord, None, int]:
    """From a line that does not parse alone: gather lines until the text parses."""
    text = lines[start]
    values = parse_concatenated(text)
    end = start
    while values is None:
        nxt = end + 1
        if nxt == len(lines) or lines[nxt][:1] in (b"{", b"["):
            yield RawRecord(offset + start + 1, problem=describe_bad_json(text), text=text)
            return nxt
        end = nxt
        text += b"\n" + lines[end]
        if lines[end].rstrip()[-1:] in (b"}", b"]"):  # only a closing line can complete it
            values = parse_concatenated(text)
    for value in values:
        yield from _records_of(value, offset + start + 1)
    return end + 1


_DECODER = None


def parse_concatenated(text: bytes) -> list[Any] | None:
    """All JSON values of text written one after another ({..}{..}), or None if it is not that."""
    try:
        return [orjson.loads(text)]
    except orjson.JSONDecodeError:
        pass
    import json

    global _DECODER
    _DECODER = _DECODER or json.JSONDecoder()
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError:
        return None
    values, pos = [], 0
    while True:
        while pos < len(s) and s[pos] in " \t\r\n":
            pos += 1
        if pos == len(s):
            return values or None
        try:
            value, pos = _DECODER.raw_decode(s, pos)
        except ValueError:
            return None
        values.append(value)


def describe_bad_json(text: bytes) -> str:
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (byte {exc.start + 1})"
    if s.lstrip()[:1] in ("{", "[") and _unclosed(s):
        return TRUNCATED
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}" if b"\n" in text.strip() else f"character {exc.pos + 1}"
        return f"not valid JSON: {exc.msg} at {where}"
    return "not valid JSON"


_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def _unclosed(s: str) -> bool:
    depth = 0
    for token in _TOKENS.finditer(s.encode()):
        t = token.group()
        depth += 1 if t in (b"{", b"[") else -1 if t in (b"}", b"]") else 0
    return depth > 0


def _split_broken_array(data: bytes, first_line: int) -> Iterator[RawRecord]:
    """A top-level array that does not parse as a whole: parse its elements one by one, so one
    bad element does not cost the others. Slow (a tokenizer in Python), but only for bad input."""
    depth, start = 0, -1
    for token in _TOKENS.finditer(data):
        t = token.group()
        if t in (b"{", b"["):
            depth += 1
            if depth == 1:  # the outer array opens
                start = token.end()
        elif t in (b"}", b"]"):
            depth -= 1
            if depth == 0:  # the outer array closes; whatever follows is read as usual
                yield from _element(data, start, token.start(), first_line)
                rest_line = first_line + data.count(b"\n", 0, token.end())
                yield from split_records(data[token.end() :], rest_line)
                return
        elif t == b"," and depth == 1:
            yield from _element(data, start, token.start(), first_line)
            start = token.end()
    if start >= 0:
        yield from _element(data, start, len(data), first_line, truncated=True)


def _element(data: bytes, start: int, end: int, first_line: int, *, truncated: bool = False) -> Iterator[RawRecord]:
    text = data[start:end]
    if not text.strip():
        return  # [] or a trailing comma
    line = first_line + data.count(b"\n", 0, start + len(text) - len(text.lstrip()))
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        problem = TRUNCATED if truncated else None
        yield RawRecord(line, problem=problem or describe_bad_json(text), text=text.strip())
        return
    yield RawRecord(line, value=value)


def _records_of(value: Any, line: int | None) -> Iterator[RawRecord]:
    """A top-level array holds records; anything else is one record."""
    if isinstance(value, list):
        for item in value:
            yield RawRecord(line, value=item)
    else:
        yield RawRecord(line, value=value)
