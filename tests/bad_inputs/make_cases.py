"""Writes the bad-input corpus beside this file: one folder per case, real sample records as
the good ones around each bad record, and cases.json with what a load of each case must give.

The expectations are written here from the rules of the contract (DESIGN.md, "Bad input"), by
hand, never by running the toolkit. Regenerate with: python tests/bad_inputs/make_cases.py
(or write the corpus elsewhere: python tests/bad_inputs/make_cases.py OUT_FOLDER).

Every bad record is made from records that appear nowhere else in the corpus: the event of user
15 in session 818 (item 5) and the song SOZCTXZ12AB0182364 of artist AR5KOSW1187FB35FF4. So a
test can prove that nothing of a rejected record reached staging or the star schema.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]  # the tests, and the project (conftest imports it)
from conftest import SAMPLE  # noqa: E402 - the tests' own way of finding the real sample

EVENTS = "log_data/events.json"
TRUNCATED = "truncated record: the text ends before the record is closed"
RECORD_LIMIT = 1000  # characters of a rejected record kept in rejects.record

DAY_1 = (SAMPLE / "log_data/2018/11/2018-11-01-events.json").read_bytes().split(b"\n")
DAY_21 = (SAMPLE / "log_data/2018/11/2018-11-21-events.json").read_bytes().split(b"\n")
# Three real NextSong events of users 8, 10 and 26, exactly as published.
GOOD_EVENTS = [DAY_1[2], DAY_1[10], DAY_1[12]]
# The real event that matches a song of the sample: user 15 (Lily Koch), session 818, item 5.
POISON_EVENT = DAY_21[483]
assert b'"sessionId":818,' in POISON_EVENT and b'"itemInSession":5,' in POISON_EVENT

GOOD_SONGS = {  # two real song files, as published
    key: (SAMPLE / key).read_bytes()
    for key in ("song_data/A/A/B/TRAABJL12903CDCF1A.json", "song_data/A/B/B/TRABBNP128F932546F.json")
}
BAD_SONG_KEY = "song_data/A/A/C/TRAACCG128F92E8A55.json"  # between the good ones in key order
POISON_SONG = (SAMPLE / "song_data/A/A/C/TRAACCG128F92E8A55.json").read_bytes()
assert b'"song_id": "SOZCTXZ12AB0182364"' in POISON_SONG


def replaced(text: bytes, old: bytes, new: bytes) -> bytes:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def without(text: bytes, field: bytes) -> bytes:
    """The record with one "field":value pair removed (a string, number or null value)."""
    out, n = re.subn(rb'"' + field + rb'": ?("(?:[^"\\]|\\.)*"|[^,}]*), ?', b"", text)
    assert n == 1, field
    return out


def stored(text: bytes) -> str:
    """What rejects.record holds for a record's text: UTF-8 (bad bytes replaced), control
    characters shown escaped, cut at 1,000 characters."""
    escapes = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    decoded = text.strip().decode("utf-8", "replace")[:RECORD_LIMIT]
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: escapes.get(m.group()) or f"\\x{ord(m.group()):02x}", decoded)


def reject(line: int | None, record_no: int, reason: str, text: bytes, *, prefix: bool = False,
           obj: str = EVENTS) -> dict[str, Any]:
    return {"object": obj, "line": line, "record_no": record_no,
            "reason_prefix" if prefix else "reason": reason, "record": stored(text)}


CASES: dict[str, dict[str, Any]] = {}


def event_case(name: str, about: str, bad: bytes, reasons: list[tuple[str, bool]] | str, *,
               prefix: bool = False) -> None:
    """Good events on lines 1, 2 and 4 of a newline-delimited file; the bad line 3 between them."""
    lines = [GOOD_EVENTS[0], GOOD_EVENTS[1], bad, GOOD_EVENTS[2]]
    CASES[name] = {
        "about": about,
        "files": {EVENTS: b"\n".join(lines) + b"\n"},
        "rejects": [reject(3, 3, reasons, bad, prefix=prefix)] if isinstance(reasons, str) else reasons,
        "staged": {EVENTS: [1, 2, 4]},
    }


def field_case(name: str, about: str, old: bytes, new: bytes, reason: str, *, prefix: bool = False) -> None:
    event_case(name, about, replaced(POISON_EVENT, old, new), reason, prefix=prefix)


def song_case(name: str, about: str, bad: bytes, reason: str) -> None:
    """Two good song files and a bad one between them in key order."""
    CASES[name] = {
        "about": about,
        "files": {**GOOD_SONGS, BAD_SONG_KEY: bad},
        "rejects": [reject(1, 1, reason, bad, obj=BAD_SONG_KEY)],
        "staged": {key: [1] for key in GOOD_SONGS},
    }


def song_field_case(name: str, about: str, old: bytes, new: bytes, reason: str) -> None:
    song_case(name, about, replaced(POISON_SONG, old, new), reason)


def position(text: bytes, marker: bytes) -> int:
    """The 1-based character position of marker in a one-line ASCII text."""
    assert text.count(marker) == 1 and text.isascii()
    return text.index(marker) + 1


# --------------------------------------------------------------------------- not JSON

event_case("not_json_plain_text", "a line of prose", b"this is not json",
           "not valid JSON: invalid literal, expected 'true' at character 1")
event_case("not_json_csv_line", "a CSV header line: one reject for the line, not one per comma",
           b"artist,auth,firstName,gender,itemInSession,lastName",
           "not valid JSON: unexpected character, expected a JSON value at character 1")
event_case("not_json_single_quotes", "Python-style quotes", POISON_EVENT.replace(b'"', b"'"),
           "not valid JSON: unexpected character, expected a string key at character 2")
bad = replaced(POISON_EVENT, b'"auth":', b"auth:")
event_case("not_json_unquoted_key", "a key without quotes", bad,
           "not valid JSON: unexpected character, expected a string key"
           f" at character {position(bad, b'auth:')}")
bad = POISON_EVENT[:-1] + b",}"
event_case("not_json_trailing_comma", "a comma before the closing brace", bad,
           f"not valid JSON: trailing comma is not allowed at character {len(bad) - 1}")
bad = replaced(POISON_EVENT, b'"length":269.58322', b'"length":NaN')
event_case("nan_literal", "NaN is not JSON", bad,
           "not valid JSON: unexpected character, expected a JSON value"
           f" at character {position(bad, b'NaN')}")
bad = replaced(POISON_EVENT, b'"length":269.58322', b'"length":Infinity')
event_case("infinity_literal", "Infinity is not JSON", bad,
           "not valid JSON: unexpected character, expected a JSON value"
           f" at character {position(bad, b'Infinity')}")
bad = replaced(POISON_EVENT, b'"Elena"', b'"El\xe9na"')  # latin-1, not UTF-8
event_case("invalid_utf8", "a latin-1 byte in a string", bad,
           f"not valid UTF-8 (byte {POISON_EVENT.index(b'Elena') + 3})")

# --------------------------------------------------------------------------- truncated

CUT = POISON_EVENT[:120]
CASES["truncated_last_line"] = {
    "about": "the object ends in the middle of its last record, without a line break",
    "files": {EVENTS: b"\n".join([*GOOD_EVENTS, CUT])},
    "rejects": [reject(4, 4, TRUNCATED, CUT)],
    "staged": {EVENTS: [1, 2, 3]},
}
CASES["truncated_record_mid_file"] = {
    "about": "a record cut short, and the next record on the next line",
    "files": {EVENTS: b"\n".join([GOOD_EVENTS[0], CUT, GOOD_EVENTS[1], GOOD_EVENTS[2]]) + b"\n"},
    "rejects": [reject(2, 2, TRUNCATED, CUT)],
    "staged": {EVENTS: [1, 3, 4]},
}

# --------------------------------------------------------------------------- not an object

event_case("not_object_number", "a number where a record belongs", b"42", "not a JSON object but a number")
event_case("not_object_string", "a string where a record belongs", b'"NextSong"',
           "not a JSON object but a string")
event_case("not_object_null", "null where a record belongs", b"null", "not a JSON object but null")
CASES["not_object_array_of_scalars"] = {
    "about": "a line holding an array of scalars: each element is a record, and none is an object",
    "files": {EVENTS: b"\n".join([*GOOD_EVENTS[:2], b'[818, "two", null]', GOOD_EVENTS[2]]) + b"\n"},
    "rejects": [reject(3, 3, "not a JSON object but a number", b"818"),
                reject(3, 4, "not a JSON object but a string", b'"two"'),
                reject(3, 5, "not a JSON object but null", b"null")],
    "staged": {EVENTS: [1, 2, 4]},
}

# --------------------------------------------------------------------------- wrong types

field_case("ts_is_a_word", "ts in words", b'"ts":1542837407796', b'"ts":"yesterday"',
           "ts: 'yesterday' is not an integer")
field_case("session_id_is_letters", "a session id in letters", b'"sessionId":818', b'"sessionId":"abc"',
           "sessionId: 'abc' is not an integer")
field_case("session_id_double_sign", "two signs before the digits", b'"sessionId":818',
           b'"sessionId":"--818"', "sessionId: '--818' is not an integer")
field_case("boolean_for_number", "a boolean as an item number", b'"itemInSession":5', b'"itemInSession":true',
           "itemInSession: true is not an integer")
field_case("object_for_text", "an object as the artist", b'"artist":"Elena"', b'"artist":{"name":"Elena"}',
           "artist: expected text, got an object")
field_case("array_for_text", "an array as the song", b'"song":"Setanta matins"', b'"song":["Setanta matins"]',
           "song: expected text, got an array")

# --------------------------------------------------------------------------- required fields

for field, column in [("ts", "ts"), ("page", "page"), ("sessionId", "session_id"),
                      ("itemInSession", "item_in_session")]:
    event_case(f"missing_{column}", f"no {field} at all", without(POISON_EVENT, field.encode()),
               f"missing required field {field}")
field_case("empty_page", "an empty page name", b'"page":"NextSong"', b'"page":""',
           "required field page is empty")
field_case("null_session_id", "a null session id", b'"sessionId":818', b'"sessionId":null',
           "missing required field sessionId")

# --------------------------------------------------------------------------- out of range

field_case("negative_length", "a song played for a negative time", b'"length":269.58322', b'"length":-3.5',
           "length: -3.5 is below 0")
field_case("ts_before_2000", "the last millisecond of 1999", b'"ts":1542837407796', b'"ts":946684799999',
           "ts: 1999-12-31 23:59:59 is below 2000-01-01 00:00:00")
field_case("ts_far_future", "the first millisecond of 2100: past the fixed range, whatever the day of the load",
           b'"ts":1542837407796', b'"ts":4102444800000', "ts: 2100-01-01 00:00:00 is above 2099-12-31 23:59:59")
field_case("ts_in_microseconds", "microseconds, not milliseconds: past the year 9999",
           b'"ts":1542837407796', b'"ts":1542837407796000', "ts: 1542837407796000 is above 2099-12-31 23:59:59")
field_case("status_999", "an HTTP status that does not exist", b'"status":200', b'"status":999',
           "status: 999 is above 599")

# --------------------------------------------------------------------------- too long, too large

# The trailing space is dropped while staging (staging.TRAILING_SPACES): 599 bytes are left.
field_case("artist_600_bytes", "an artist name longer than VARCHAR(512)", b'"artist":"Elena"',
           b'"artist":"' + b"Elena " * 100 + b'"', "artist: 599 bytes, longer than the column's 512")
PADDING = b"x" * (2000 - len(json.loads(POISON_EVENT)["userAgent"]))  # to exactly 2,000 bytes
field_case("user_agent_2000_bytes", "a user agent past VARCHAR(1024); its record is cut at 1,000 characters",
           b'"userAgent":"', b'"userAgent":"' + PADDING,
           "userAgent: 2,000 bytes, longer than the column's 1,024")
field_case("multibyte_title_bytes", "180 characters fit VARCHAR(512), their 540 UTF-8 bytes do not",
           b'"song":"Setanta matins"', b'"song":"' + "歌".encode() * 180 + b'"',
           "song: 540 bytes, longer than the column's 512")
field_case("user_id_too_large", "a user id past INTEGER", b'"userId":"15"', b'"userId":"3000000000"',
           "userId: '3000000000' does not fit in integer")
field_case("session_id_5000_digits", "an integer text of 5,000 digits", b'"sessionId":818',
           b'"sessionId":"' + b"9" * 5000 + b'"',
           "sessionId: '" + "9" * 36 + "... does not fit in bigint")
field_case("nul_character", "a NUL character, which PostgreSQL cannot store in text", b'"firstName":"Lily"',
           b'"firstName":"Li\\u0000ly"', "firstName: contains a NUL character")

# --------------------------------------------------------------------------- other layouts


def pretty(record: bytes, indent: int) -> bytes:
    return json.dumps(json.loads(record), indent=indent).encode()


BROKEN_PRETTY = replaced(pretty(POISON_EVENT, 2), b'"auth":', b"auth:")
elements = [pretty(GOOD_EVENTS[0], 2), pretty(GOOD_EVENTS[1], 2), BROKEN_PRETTY, pretty(GOOD_EVENTS[2], 2)]
ARRAY = b"[\n" + b",\n".join(b"\n".join(b"  " + line for line in e.split(b"\n")) for e in elements) + b"\n]\n"
CASES["array_file_broken_element"] = {
    "about": "a pretty-printed top-level array whose third element has a key without quotes",
    "files": {EVENTS: ARRAY},
    "rejects": [reject(42, 3, "not valid JSON: unexpected character, expected a string key at line 3,"
                              " column 5", b"\n".join(b"  " + line for line in BROKEN_PRETTY.split(b"\n")))],
    "staged": {EVENTS: [2, 22, 62]},
}
BAD_QUOTES = replaced(pretty(POISON_EVENT, 4), b'"auth": "Logged In"', b"\"auth\": 'Logged In'")
CASES["pretty_concatenated_bad_record"] = {
    "about": "pretty-printed objects joined with no separator ('}{'), the third with a single-quoted value",
    "files": {EVENTS: b"".join([pretty(GOOD_EVENTS[0], 4), pretty(GOOD_EVENTS[1], 4), BAD_QUOTES,
                                pretty(GOOD_EVENTS[2], 4)])},
    "rejects": [reject(39, 3, "not valid JSON: unexpected character, expected a JSON value at line 3,"
                              " column 13", BAD_QUOTES)],
    "staged": {EVENTS: [1, 20, 58]},
}
CUT_PRETTY = pretty(POISON_EVENT, 4)[:200]
CASES["pretty_truncated_record"] = {
    "about": "pretty-printed objects one after another, the third cut short",
    "files": {EVENTS: b"\n".join([pretty(GOOD_EVENTS[0], 4), pretty(GOOD_EVENTS[1], 4), CUT_PRETTY,
                                  pretty(GOOD_EVENTS[2], 4)]) + b"\n"},
    "rejects": [reject(41, 3, TRUNCATED, CUT_PRETTY)],
    "staged": {EVENTS: [1, 21, 41 + CUT_PRETTY.count(b"\n") + 1]},
}
bad = replaced(POISON_EVENT, b'"ts":1542837407796', b'"ts":"yesterday"')
CASES["gzip_bad_record"] = {
    "about": "a gzip-compressed newline-delimited object with a bad record",
    "files": {"log_data/events.json.gz": gzip.compress(
        b"\n".join([GOOD_EVENTS[0], bad, *GOOD_EVENTS[1:]]) + b"\n", mtime=0)},
    "rejects": [reject(2, 2, "ts: 'yesterday' is not an integer", bad, obj="log_data/events.json.gz")],
    "staged": {"log_data/events.json.gz": [1, 3, 4]},
}

# --------------------------------------------------------------------------- songs

song_case("song_file_truncated", "a song file cut short among good song files", POISON_SONG[:150], TRUNCATED)
song_case("song_file_not_json", "a song file that is a pretty-printed object with a comment",
          pretty(POISON_SONG, 2).replace(b"{\n", b"{\n  // exported by hand\n", 1),
          "not valid JSON: unexpected character, expected a string key at line 2, column 3")
for field in ("song_id", "title", "artist_id"):
    song_case(f"song_missing_{field}", f"a song without {field}", without(POISON_SONG, field.encode()),
              f"missing required field {field}")
song_field_case("song_empty_artist_id", "an empty artist id", b'"artist_id": "AR5KOSW1187FB35FF4"',
                b'"artist_id": ""', "required field artist_id is empty")
song_field_case("song_negative_duration", "a negative duration", b'"duration": 269.58322',
                b'"duration": -269.58322', "duration: -269.58322 is below 0")
song_field_case("song_latitude_91", "a latitude past the pole", b'"artist_latitude": 49.80388',
                b'"artist_latitude": 91', "artist_latitude: 91.0 is above 90")
song_field_case("song_year_negative", "year -1", b'"year": 0', b'"year": -1', "year: -1 is below 0")
song_field_case("song_year_3000", "year 3000", b'"year": 0', b'"year": 3000', "year: 3000 is above 2100")


def write(out: Path) -> None:
    """The case folders and cases.json into out, replacing the case folders already there."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_dir() and old.name in CASES:
            shutil.rmtree(old)
    entries = []
    for name, case in CASES.items():
        for key, data in case["files"].items():
            path = out / name / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        rejects = ",\n".join(f"   {as_json(reject)}" for reject in case["rejects"])
        about, staged = as_json(case["about"]), as_json(case["staged"])
        entries.append(f' {as_json(name)}: {{"about": {about}, "staged": {staged},\n'
                       f'  "rejects": [\n{rejects}\n  ]}}')
    (out / "cases.json").write_text("{\n" + ",\n".join(entries) + "\n}\n", encoding="utf-8")


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    write(target)
    print(f"{len(CASES)} cases written to {target}")
