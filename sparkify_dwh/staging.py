"""Typing source records for the staging tables: each record becomes one row, or a reject
with a reason a person can read. The good records around a bad one always load.

Types, sizes and required fields come from the staging tables as the server declares them
(information_schema), so the schema in sql_queries.py is the only place they are written.
Ranges, which SQL cannot declare portably, are below. Typing is deterministic: nothing here
reads the clock, so the same objects give the same rows and rejects on any day.

One typing loop (type_object) serves every target, in the main process, in the worker processes
and in Redshift's compaction: a record becomes typed values (int, float, str or None), which
the row function compiled for the target's format writes as COPY text (PostgreSQL's COPY …
FROM STDIN) or as a JSON line (the parts Redshift's COPY loads; see redshift.py).

Text is repaired on the way in ([ETL] REPAIR_TEXT): mojibake, UTF-8 decoded as Latin-1 or
Windows-1252 (once or twice, as in the real logs' 'BjÃ\x83Â¶rk'), is undone with ftfy.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any

import ftfy
import orjson
import psycopg2
import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import console, session, sources
from sparkify_dwh.sources import RawRecord, SourceObject, Unreadable, split_records

DELIMITER, QUOTE = "\x02", "\x01"  # the COPY format of sql.STAGING_COPY
EMPTY_STRING = QUOTE + QUOTE  # a quoted empty field: '' rather than NULL
RECORD_TEXT_LIMIT = 1000  # characters of a rejected record kept in rejects.record
REASON_BYTES, RECORD_BYTES = 512, 4096  # rejects.reason and rejects.record: VARCHAR sizes are bytes on Redshift
UNREADABLE_RECORD = 0  # rejects.record_no of an object that could not be read (records count from 1)
FIELD_NAME_LIMIT = 64  # characters of an unknown field's name kept in a run's unknown_fields
CHUNK_ROWS = 5000  # rows are sent to COPY in chunks of this many (about 2 MB of events)

EPOCH_MS_2000 = 946_684_800_000
EPOCH_MS_2100 = 4_102_444_800_000
INTEGER_BOUNDS = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}
# The magnitudes a DOUBLE PRECISION holds on Redshift, zero apart: about 1E-307 to 1E+308
# (https://docs.aws.amazon.com/redshift/latest/dg/r_Numeric_types201.html). PostgreSQL takes
# IEEE doubles past both (5e-324, 1.7e308), which Redshift's COPY refuses: every target
# rejects them while typing, so both stage the same rows.
DOUBLE_SMALLEST, DOUBLE_LARGEST = 1e-307, 1e308
# Trailing spaces are dropped from every text value while staging. Redshift compares VARCHARs
# with trailing blanks "semantically insignificant" ('Elena ' = 'Elena'), PostgreSQL does not:
# without this, a song matched, a song's plays summed or a row kept by a NOT EXISTS guard would
# differ between the two (https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html).
# Dropped on every target, every text key (title, artist name, song, level, page, user agent …)
# compares the same on both. Leading spaces and other white space are kept.
TRAILING_SPACES = " "


def epoch_ms(value: float) -> str:
    """Epoch milliseconds as a UTC time; as the number itself when no calendar year 1-9999 fits."""
    try:
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OverflowError, OSError):
        return repr(value)


# What a value must fit beyond its staging column: every cast and column it flows into downstream.
# USER_DAYS_INSERT sums a play's length as DECIMAL(18, 5) (exactly, whatever the order of rows), which
# holds magnitudes below 10**13. PostgreSQL converts a double to NUMERIC through its 15 significant
# digits, so 9999999999999.998 becomes 10000000000000 and overflows: the largest that fits is
# 9999999999999.99 (15 digits).
DECIMAL_18_5_LARGEST = 9_999_999_999_999.99
# A play ends at ts + length (user_sessions.ended_at): a length past a day is no song, and a larger
# one would carry that end past what a TIMESTAMP holds. Well inside the DECIMAL(18, 5) above.
LONGEST_PLAY = 86_400.0
# A time in epoch milliseconds that a TIMESTAMP (PostgreSQL, Redshift) and Python's datetime (the
# dashboard, --json) all hold: before year 10000.
EPOCH_MS_10000 = 253_402_300_800_000
# Why a bound is what it is, where it is not the field's own plausibility: said in the reject's reason.
LIMIT_REASONS = {
    ("staging_events", "length"): "a day: no song plays longer, and a play ends at ts + length",
    ("staging_events", "registration"): "the last time before the year 10000",
}

# Domain ranges: (lowest, highest, how to show a value), both inclusive, fixed: never the clock.
# ts: 2000-01-01 <= ts < 2100-01-01 UTC. This app's epoch-ms times are never before the service
# existed, and a time past 2100 is a unit error (microseconds or nanoseconds, not milliseconds).
# Events later than their load are plausible data, not errors: check_data.py warns about them.
RANGES: dict[str, dict[str, tuple[float | None, float | None, Callable[[float], str]]]] = {
    "staging_events": {
        "ts": (EPOCH_MS_2000, EPOCH_MS_2100 - 1, epoch_ms),
        "length": (0, LONGEST_PLAY, repr),
        "item_in_session": (0, None, repr),
        "session_id": (0, None, repr),
        "registration": (0, EPOCH_MS_10000 - 1, repr),
        "status": (100, 599, repr),
    },
    "staging_songs": {
        "duration": (0, None, repr),
        "year": (0, 2100, repr),
        "artist_latitude": (-90, 90, repr),
        "artist_longitude": (-180, 180, repr),
        "num_songs": (0, None, repr),
    },
}


class Reject(Exception):
    """A record that cannot be staged; the message is the reason."""


@dataclass(frozen=True)
class Column:
    name: str
    field: str  # the key in the source record
    data_type: str  # as information_schema says: integer, double precision, character varying...
    max_bytes: int | None
    required: bool
    low: float | None = None
    high: float | None = None
    show: Callable[[float], str] = repr
    why_high: str = ""  # why `high` is the limit, when the reason is a downstream cast (LIMIT_REASONS)


def staging_columns(cur: psycopg2.extensions.cursor, table: str) -> list[Column]:
    """The source columns of a staging table, typed as the server has them."""
    session.execute(cur, sql.TABLE_COLUMNS, {"table": table})
    declared = {name: (dtype, size, nullable == "NO") for name, dtype, size, nullable in cur.fetchall()}
    ranges = RANGES[table]
    columns = []
    for name, field in sql.STAGING_FIELDS[table].items():
        dtype, size, required = declared[name]
        low, high, show = ranges.get(name, (None, None, repr))
        columns.append(Column(name, field, dtype, size, required, low, high, show,
                              LIMIT_REASONS.get((table, name), "")))
    return columns


# --------------------------------------------------------------------------- text repair
# UTF-8 read as Latin-1 or Windows-1252 turns every non-ASCII character into a lead character
# U+00C2-U+00F4 followed by a continuation (bytes 0x80-0xBF as Latin-1, or 0x80-0x9F as
# Windows-1252's punctuation). ASCII never holds such a pair, and clean text hardly ever ('Björk',
# 'Beyoncé' do not): only values with one are given to ftfy, so clean data pays a str.isascii().
_CONTINUATIONS = "".join(map(chr, range(0x80, 0xC0))) + bytes(range(0x80, 0xA0)).decode("cp1252", "ignore")
SUSPECT = re.compile(f"[\u00c2-\u00f4][{re.escape(_CONTINUATIONS)}]")
# Only the encoding fixes: no HTML unescaping, quote uncurling, width or Unicode normalisation,
# which would change clean text.
FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False, remove_terminal_escapes=False, fix_encoding=True, restore_byte_a0=True,
    replace_lossy_sequences=True, decode_inconsistent_utf8=True, fix_c1_controls=True, fix_latin_ligatures=False,
    fix_character_width=False, uncurl_quotes=False, fix_line_breaks=False, fix_surrogates=False,
    remove_control_chars=False, normalization=None, explain=False,
)
MAX_LAYERS = 3  # mojibake of mojibake of mojibake is the most undone


def is_suspect(text: str) -> bool:
    return not text.isascii() and SUSPECT.search(text) is not None


def repair_text(text: str) -> str:
    """The text with its mojibake undone; clean text as it was.

    ftfy undoes every layer it judges garbled, but takes a short leftover such as 'SÃ¥ng' (from
    'SÃ\x83Â¥ng') for plausible text. A value still suspect after ftfy whose characters are,
    exactly, UTF-8 bytes read as Latin-1 (or Windows-1252) is therefore decoded once more."""
    fixed = ftfy.fix_text(text, FTFY_CONFIG)
    for _ in range(MAX_LAYERS):
        if SUSPECT.search(fixed) is None:
            break
        once_more = _utf8_read_as_latin(fixed)
        if once_more is None:
            break
        fixed = ftfy.fix_text(once_more, FTFY_CONFIG)
    return fixed


def _utf8_read_as_latin(text: str) -> str | None:
    for encoding in ("latin-1", "sloppy-windows-1252"):  # the second is ftfy's codec
        try:
            return text.encode(encoding).decode("utf-8")
        except UnicodeError:
            continue
    return None


class TextRepair:
    """repair_text, counting the values it changed."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, text: str) -> str:
        fixed = repair_text(text)
        if fixed != text:
            self.count += 1
        return fixed


# --------------------------------------------------------------------------- one value


def _shown(value: Any) -> str:
    try:
        text = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    except TypeError:  # an int past 64 bits
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(value: Any) -> str:
    kinds = {bool: "a boolean", dict: "an object", list: "an array", str: "a string", type(None): "null"}
    return kinds.get(type(value), "a number")


def _in_range(col: Column, number: float) -> None:
    if col.low is not None and number < col.low:
        raise Reject(f"{col.field}: {col.show(number)} is below {col.show(col.low)}")
    if col.high is not None and number > col.high:
        why = f" ({col.why_high})" if col.why_high else ""
        raise Reject(f"{col.field}: {col.show(number)} is above {col.show(col.high)}{why}")


# A number written as text, as JSON writes numbers (ASCII digits; a sign; no "_", "inf" or "nan").
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
TOO_LARGE = 10**20  # past every integer column; what an integer text this large holds is not needed


def _parse_integer(text: str) -> int | None:
    """The integer a text holds, exactly: "39", " 39 ", "+39", "1540919166796.0" and "1.5e12" do;
    "3.5", "--5" and "abc" do not. Beyond 10**20 only the sign is kept (it fits no column)."""
    text = text.strip()
    if not _NUMBER_TEXT.fullmatch(text):
        return None
    number = Decimal(text)  # exact, and never a huge int from a few characters ("1e999999999")
    if number and number.adjusted() >= 20:
        return TOO_LARGE if number > 0 else -TOO_LARGE
    if number != number.to_integral_value():
        return None
    return int(number)


Value = int | float | str | None  # a typed value: what every output writes, each in its own way


def _integer(col: Column) -> Callable[[Any], int]:
    bound = INTEGER_BOUNDS[col.data_type]

    def convert(value: Any) -> int:
        if type(value) is int:
            number: int | None = value
        elif type(value) is float:
            number = int(value) if value.is_integer() else None
        elif type(value) is str:
            number = _parse_integer(value)
        else:
            number = None
        if number is None:
            raise Reject(f"{col.field}: {_shown(value)} is not an integer")
        if not -bound <= number <= bound:
            raise Reject(f"{col.field}: {_shown(value)} does not fit in {col.data_type}")
        _in_range(col, number)
        return number

    return convert


def _float(col: Column) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        is_number_text = type(value) is str and _NUMBER_TEXT.fullmatch(value.strip()) is not None
        if not (type(value) is float or type(value) is int or is_number_text):
            raise Reject(f"{col.field}: {_shown(value)} is not a number")
        try:
            number = float(value)
        except OverflowError:  # an int past every double
            number = math.inf
        if not math.isfinite(number):
            raise Reject(f"{col.field}: {_shown(value)} is not a finite number")
        if number and not DOUBLE_SMALLEST <= abs(number) <= DOUBLE_LARGEST:
            raise Reject(f"{col.field}: {_shown(value)} is outside what a DOUBLE PRECISION holds on Redshift"
                         f" (1E-307 to 1E+308)")
        _in_range(col, number)
        return number

    return convert


def _text(col: Column, repair: Callable[[str], str] | None = None) -> Callable[[Any], str]:
    limit = col.max_bytes or 65535

    def convert(value: Any) -> str:
        if type(value) is not str:
            if type(value) in (int, float):
                value = repr(value)
            else:
                raise Reject(f"{col.field}: expected text, got {_kind(value)}")
        if not value:
            return value
        if repair is not None and is_suspect(value):  # before the length test: repaired text is shorter
            value = repair(value)
        if value[-1] == " ":  # trailing spaces: see TRAILING_SPACES
            value = value.rstrip(" ")
            if not value and col.required:
                raise Reject(f"required field {col.field} is empty")
        if len(value) * 4 > limit and len(value.encode()) > limit:  # cheap test first
            raise Reject(f"{col.field}: {len(value.encode()):,} bytes, longer than the column's {limit:,}")
        if "\x00" in value and not value.isprintable():  # a control character may be stored, NUL cannot
            raise Reject(f"{col.field}: contains a NUL character")
        return value

    return convert


def column_kind(col: Column) -> str:
    if col.data_type in INTEGER_BOUNDS:
        return "integer"
    if col.data_type in ("double precision", "real", "numeric"):
        return "float"
    return "text"


def value_converter(col: Column, repair: Callable[[str], str] | None = None) -> Callable[[Any], Value]:
    """value -> its typed value (an int, a float or a str; None for NULL), or Reject. A missing
    value, or an empty one, is NULL (an empty string stays an empty string in a text column)
    unless the field is required. Text is repaired by `repair` where it looks garbled."""
    kind = column_kind(col)
    typed = _text(col, repair) if kind == "text" else {"integer": _integer, "float": _float}[kind](col)
    absent = "" if kind == "text" else None
    missing, empty = f"missing required field {col.field}", f"required field {col.field} is empty"

    def convert(value: Any) -> Value:
        if value is None or value == "":
            if col.required:
                raise Reject(missing if value is None else empty)
            return None if value is None else absent
        return typed(value)

    return convert


def converter(col: Column, repair: Callable[[str], str] | None = None) -> Callable[[Any], str]:
    """value -> its COPY text (see copy_field), or Reject: value_converter, written for COPY."""
    typed = value_converter(col, repair)
    return lambda value: copy_field(typed(value))


def copy_field(value: Value) -> str:
    """A typed value as a field of sql.STAGING_COPY: unquoted empty is NULL, a quoted empty field
    an empty string; text with control characters is quoted where COPY needs it."""
    if value is None:
        return ""
    if type(value) is str:
        if not value:
            return EMPTY_STRING
        return value if value.isprintable() else csv_field(value)
    return repr(value)  # an int's digits; a float's shortest text that reads back as the same double


def csv_field(value: str) -> str:
    """Quote a field for the COPY format when it holds a delimiter, quote or line break."""
    if QUOTE in value or DELIMITER in value or "\n" in value or "\r" in value:
        return QUOTE + value.replace(QUOTE, QUOTE + QUOTE) + QUOTE
    return value


# --------------------------------------------------------------------------- records
# Every target types a record the same way, into the same values; only how a row is written
# differs: COPY text for PostgreSQL's COPY … FROM STDIN, a JSON line for Redshift's parts.


@dataclass(frozen=True)
class RowFormat:
    """How typed rows are written. The row function is compiled per format: a common value's
    fast path writes it directly (`integer` holds the expressions of the three integer paths,
    `floating` a float's), anything else is typed by the column's value_converter and written
    by `field`."""

    name: str
    null: str  # the expression of NULL
    integer: tuple[str, str, str]  # of an int, of a text of ASCII digits, of an integral float
    floating: str  # of a float
    field: Callable[[Value], Any] | None  # None: the value itself


# The provenance of a JSON line, as the keys a JSONPaths file maps to sql.PROVENANCE_COLUMNS.
JSON_PROVENANCE = ("_run_id", "_object_id", "_source_line", "_source_record")
COPY_TEXT = RowFormat("COPY text", "''", ("str(v)", "v", "str(int(v))"), "repr(v)", copy_field)
JSON_LINES = RowFormat("JSON lines", "None", ("v", "int(v)", "int(v)"), "v", None)


class RecordTyper:
    """Turns parsed records into rows of one staging table, in the format asked for: COPY text
    (str, the fields of sql.STAGING_COPY, provenance last) or JSON lines (bytes, the record's
    source field names, provenance first; see redshift.py).

    The row function is compiled from the columns: each field's common case (a short
    printable string, an integer or a float within range) is one inline test, and anything
    else goes through the column's full converter, which types it or raises Reject. This
    keeps typing a million events to a few seconds. With repair, garbled text is repaired
    (see repair_text) and `repaired` counts the values of the rows returned so far.

    Schema drift: a staged record's fields that no column reads are counted by name in `unknown`
    (type_object hands them to its counts). The test is one C-level set test per record (about
    half a microsecond on an event of 18 fields); only a record that fails it is looked at."""

    def __init__(self, columns: list[Column], run_id: int, *, repair: bool = True,
                 output: RowFormat = COPY_TEXT) -> None:
        self.source_columns = columns
        self.columns = [c.name for c in columns] + sql.PROVENANCE_COLUMNS
        self.output = output
        self.run_prefix = f"{DELIMITER}{run_id}{DELIMITER}"
        self._repair = TextRepair() if repair else None
        self._row = _compile_row(columns, self._repair, output, run_id)
        self._reads_all = frozenset(c.field for c in columns).issuperset
        self.unknown: Counter[str] = Counter()
        if output is not COPY_TEXT:  # row() is the COPY text row: the load's hot path tests nothing more
            self.row = self._json_row  # type: ignore[method-assign]

    @property
    def repaired(self) -> int:
        return self._repair.count if self._repair is not None else 0

    def row(self, value: Any, object_id: int, line: int | None, record_no: int) -> str:
        """The row of a parsed record (its object, the line it starts on, its ordinal), or Reject."""
        if type(value) is not dict:
            raise Reject(f"not a JSON object but {_kind(value)}")
        provenance = f"{self.run_prefix}{object_id}{DELIMITER}{'' if line is None else line}{DELIMITER}{record_no}"
        if self._repair is None:
            row = self._row(value)
        else:
            repaired = self._repair.count
            try:
                row = self._row(value)
            except Reject:
                self._repair.count = repaired  # a rejected record's values are not staged: not counted
                raise
        if not self._reads_all(value):
            self._count_unknown(value)
        return row + provenance

    def _count_unknown(self, value: dict[str, Any]) -> None:
        for name in value:
            if not self._reads_all((name,)):
                self.unknown[console.printable(str(name))[:FIELD_NAME_LIMIT]] += 1

    def _json_row(self, value: Any, object_id: int, line: int | None, record_no: int) -> bytes:
        if type(value) is not dict:
            raise Reject(f"not a JSON object but {_kind(value)}")
        if self._repair is None:
            row = self._row(value, object_id, line, record_no)
        else:
            repaired = self._repair.count
            try:
                row = self._row(value, object_id, line, record_no)
            except Reject:
                self._repair.count = repaired
                raise
        if not self._reads_all(value):
            self._count_unknown(value)
        return row


def new_typer(cfg: Any, columns: list[Column], run_id: int, output: RowFormat = COPY_TEXT) -> RecordTyper:
    """The typer of a run, as [ETL] REPAIR_TEXT says."""
    return RecordTyper(columns, run_id, repair=cfg.etl.repair_text, output=output)


def _fast_paths(col: Column, repair: bool = False, output: RowFormat = COPY_TEXT) -> list[tuple[str, str]]:
    """(condition on v, the row's field for v) for a column's common, valid values, in the order tried."""
    kind = column_kind(col)
    if kind == "text":
        limit = col.max_bytes or 65535
        clean = " and (v.isascii() or suspect(v) is None)" if repair else ""  # else it goes to be repaired
        kept = " and v[-1] != ' '"  # else its trailing spaces go (TRAILING_SPACES)
        return [(f"v.__class__ is str and 0 < len(v) <= {limit // 4} and v.isprintable()" + kept + clean, "v"),
                # longer ASCII ('Logged In' in a VARCHAR(32)): a byte a character, never garbled
                (f"v.__class__ is str and 0 < len(v) <= {limit} and v.isascii() and v.isprintable()" + kept, "v")]
    # Past every valid value: an empty text in a column that is not text is NULL (userId "" of a
    # logged-out visitor). A required field's empty value goes on to its converter and is rejected.
    empty = [] if col.required else [('v == ""', output.null)]
    if kind == "integer":
        bound = INTEGER_BOUNDS[col.data_type]
        low = -bound if col.low is None else max(-bound, math.ceil(col.low))
        high = bound if col.high is None else min(bound, math.floor(col.high))
        of_int, of_digits, of_float = output.integer
        return [
            (f"v.__class__ is int and {low} <= v <= {high}", of_int),
            (f"v.__class__ is str and v.isdigit() and v.isascii() and len(v) < 20 and {low} <= int(v) <= {high}",
             of_digits),  # "39"; int() of thousands of digits would raise
            (f"v.__class__ is float and v.is_integer() and {low} <= v <= {high}", of_float),  # 1.5e12
            *empty,
        ]
    low = -DOUBLE_LARGEST if col.low is None else max(col.low, -DOUBLE_LARGEST)
    high = DOUBLE_LARGEST if col.high is None else min(col.high, DOUBLE_LARGEST)
    # NaN, inf and the magnitudes below DOUBLE_SMALLEST (zero apart) fail it, for the converter to reject
    return [(f"v.__class__ is float and {low!r} <= v <= {high!r} and (v == 0.0 or not {-DOUBLE_SMALLEST!r} < v"
             f" < {DOUBLE_SMALLEST!r})", output.floating), *empty]


def _compile_row(columns: list[Column], repair: Callable[[str], str] | None = None,
                 output: RowFormat = COPY_TEXT, run_id: int = 0) -> Callable[..., Any]:
    """COPY text: row(record) -> the fields joined (RecordTyper.row adds the provenance).
    JSON lines: row(record, object_id, line, record_no) -> the line, provenance first."""
    copy = output is COPY_TEXT
    written = "field(typed{i}(v))" if output.field is not None else "typed{i}(v)"
    code = ["def row(record):" if copy else "def row(record, object_id, line, record_no):", "    get = record.get"]
    namespace: dict[str, Any] = {"DELIMITER": DELIMITER, "suspect": SUSPECT.search, "field": output.field,
                                 "dumps": orjson.dumps, "NEWLINE": orjson.OPT_APPEND_NEWLINE}
    for i, col in enumerate(columns):
        namespace[f"typed{i}"] = value_converter(col, repair)
        tests = ([] if col.required else [("v is None", output.null)]) + _fast_paths(col, repair is not None, output)
        code.append(f"    v = get({col.field!r})")
        for n, (test, text) in enumerate(tests):
            code.append(f"    {'el' if n else ''}if {test}: f{i} = {text}")
        code.append(f"    else: f{i} = {written.format(i=i)}")
    if copy:
        code.append(f"    return DELIMITER.join(({', '.join(f'f{i}' for i in range(len(columns)))},))")
    else:  # provenance first: the start of a line Redshift rejects names its source (see redshift.py)
        provenance = zip(JSON_PROVENANCE, (str(int(run_id)), "object_id", "line", "record_no"), strict=True)
        record = ", ".join([*(f"{name!r}: {v}" for name, v in provenance),
                            *(f"{c.field!r}: f{i}" for i, c in enumerate(columns))])
        code.append(f"    return dumps({{{record}}}, option=NEWLINE)")
    exec("\n".join(code), namespace)
    row: Callable[..., Any] = namespace["row"]
    return row


@dataclass
class StageCounts:
    objects: int = 0
    rows: int = 0
    rejected: int = 0
    repaired: int = 0  # text values of the staged rows that were repaired
    unknown: Counter[str] = dataclasses.field(default_factory=Counter)  # fields no column reads, by name


class RejectSpool:
    """Rejects of a run, kept on disk past a few MB, written to `rejects` with one COPY.

    They outlive the run's transaction: a run that fails on too many rejects rolls back its
    data but still records why, under the id of the failed run."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - lives with the run
        self.count = 0
        self.first: list[str] = []
        self.unreadable: set[str] = set()  # keys of objects that could not be read (record_no 0): not loaded

    def add(self, obj: SourceObject, record_no: int, line: int | None, reason: str, text: str) -> None:
        self.count += 1
        if record_no == UNREADABLE_RECORD:
            self.unreadable.add(obj.key)
        if len(self.first) < 3:
            where = f" line {line}" if line is not None else f" record {record_no}" if record_no else ""
            self.first.append(f"{obj.key}{where}: {reason}")
        # Every spooled row is exactly one line: the reason and the text show control characters
        # escaped, then are cut to the bytes their columns hold (rejects.reason, rejects.record);
        # the object key is spooled as JSON, which has none and gives the key back exactly
        # (rejects.object_key must equal loaded_objects.object_key, control characters and all).
        reason = console.cut_bytes(_CONTROL.sub(_escape, reason), REASON_BYTES)
        text = console.cut_bytes(_CONTROL.sub(_escape, text[:RECORD_TEXT_LIMIT]), RECORD_BYTES)
        shown = [obj.source, "" if line is None else str(line), str(record_no), reason, text]
        fields = [shown[0], json.dumps(obj.key), *shown[1:]]
        row = DELIMITER.join(f if i == 1 else _CONTROL.sub(_escape, f) for i, f in enumerate(fields))
        self.file.write(row.encode("utf-8", "replace") + b"\n")

    def records(self, run_id: int) -> Iterator[list[str]]:
        """The spooled rejects as the fields of rows of `rejects` (run_id first), keys as they are."""
        self.file.seek(0)
        for row in self.file:
            source, key, *rest = row.decode("utf-8").rstrip("\n").split(DELIMITER)
            yield [str(run_id), source, json.loads(key), *rest]

    def copy_to_warehouse(self, cur: psycopg2.extensions.cursor, run_id: int) -> None:
        if not self.count:
            return
        rows = (DELIMITER.join(csv_field(f) for f in fields).encode("utf-8", "replace") + b"\n"
                for fields in self.records(run_id))
        copy_in(cur, sql.REJECTS_COPY, rows)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _ESCAPES.get(char) or f"\\x{ord(char):02x}"


def record_text(record: RawRecord) -> str:
    """The record as it stands in the source (as JSON, for an element of an array)."""
    raw = record.text.lstrip() if record.text is not None else orjson.dumps(record.value)
    return raw[: RECORD_TEXT_LIMIT * 4].rstrip().decode("utf-8", "replace")


def typed_chunks(
    objects: Iterable[tuple[SourceObject, bytes]],
    object_ids: dict[str, int],
    typer: RecordTyper,
    rejects: RejectSpool,
    counts: StageCounts,
    on_progress: Callable[[], None] = lambda: None,
) -> Iterator[bytes]:
    """COPY data for one staging table, CHUNK_ROWS rows at a time however large an object is;
    rejects go to the spool."""
    rows: list[str] = []
    for obj, data in objects:
        for _ in type_object(obj, object_ids[obj.key], data, typer, rows, counts, rejects.add, CHUNK_ROWS):
            yield _copy_chunk(rows)
            rows.clear()
            on_progress()
    if rows:
        yield _copy_chunk(rows)


def reject_unreadable(obj: SourceObject, why: Unreadable, counts: StageCounts, reject: Callable[..., None]) -> None:
    """An object that could not be read: one reject of its own (record 0, no line), which keeps it
    out of loaded_objects (sql.LOADED_OBJECTS_INSERT), so the next run tries it again."""
    counts.rejected += 1
    reject(obj, UNREADABLE_RECORD, None, str(why), "")


def type_object(obj: SourceObject, object_id: int, data: bytes | Unreadable, typer: RecordTyper,
                rows: list[Any], counts: StageCounts, reject: Callable[..., None], flush_at: int = 0,
                ) -> Iterator[None]:
    """The one typing loop, of every target (the main process, the workers, Redshift's compaction):
    type an object's records, numbered from 1, into rows in the typer's format, appended to `rows`;
    rejects go to `reject`; the object, its rows, rejects and repaired values are counted. A
    generator: it pauses whenever rows reach flush_at, so the caller can send them on."""
    if isinstance(data, Unreadable):
        reject_unreadable(obj, data, counts, reject)
        return
    repaired = typer.repaired
    row = typer.row
    for record_no, record in enumerate(split_records(data), 1):
        try:
            if record.problem is not None:
                raise Reject(record.problem)
            rows.append(row(record.value, object_id, record.line, record_no))
        except Reject as exc:
            counts.rejected += 1
            reject(obj, record_no, record.line, str(exc), record_text(record))
            continue
        counts.rows += 1
        if len(rows) == flush_at:
            yield
    counts.objects += 1
    counts.repaired += typer.repaired - repaired
    if typer.unknown:
        counts.unknown.update(typer.unknown)
        typer.unknown.clear()


def _copy_chunk(rows: list[str]) -> bytes:
    rows.append("")  # so the join ends with a line break, without copying the text again
    chunk = "\n".join(rows).encode()
    rows.pop()
    return chunk


# --------------------------------------------------------------------------- typing in parallel
# Staging is bound by Python: typing a million events takes ~10 s of CPU, the server's COPY of
# the typed rows ~2.5 s. So on a machine with more than one core, worker processes type while the
# main process streams their rows to COPY, in order.

PARALLEL_MIN_BYTES = 16 << 20  # below this a run is typed in the main process (no start-up cost)
GROUP_BYTES = 4 << 20  # objects are handed to a worker in groups of about this size...
GROUP_OBJECTS = 2000  # ... or this many


def typing_workers(setting: str, planned_bytes: int) -> int:
    """How many worker processes to type with ([ETL] WORKERS): a number (0: none, the main process
    types; 1: one worker types while the main process streams to COPY), or auto: one per core
    (up to 4) for a run of PARALLEL_MIN_BYTES or more on more than one core, else none."""
    if setting.strip().lower() != "auto":
        return int(setting)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, 4) if cores > 1 and planned_bytes >= PARALLEL_MIN_BYTES else 0


_worker: dict[str, Any] = {}


def _start_worker(cfg: Any, columns: list[Column], run_id: int) -> None:
    """A typing process: the run's settings (frozen, so handed over whole), its typer."""
    _worker.update(cfg=cfg, typer=new_typer(cfg, columns, run_id))
    sources.count_throttling_quietly()  # a worker counts S3's throttling; the main process says it once


def _type_group(group: list[tuple[int, SourceObject]],
                ) -> tuple[bytes, list[tuple[Any, ...]], int, int, int, int, dict[str, int]]:
    """In a worker: (COPY data, rejects, rows, objects, repaired values, throttling answers from S3,
    unknown fields by name) of a group of objects."""
    from sparkify_dwh.sources import read_objects

    throttled = sources.throttling_seen()
    spool: list[tuple[Any, ...]] = []
    counts = StageCounts()
    rows: list[str] = []
    ids = {obj.key: oid for oid, obj in group}
    for obj, data in read_objects(_worker["cfg"], [obj for _, obj in group]):
        for _ in type_object(obj, ids[obj.key], data, _worker["typer"], rows, counts,
                             lambda rejected, *reason: spool.append((rejected.key, *reason))):
            pass  # never pauses: rows are sent back all at once
    return ((_copy_chunk(rows) if rows else b""), spool, counts.rows, counts.objects, counts.repaired,
            sources.throttling_seen() - throttled, dict(counts.unknown))


def _groups(planned: Iterable[tuple[int, SourceObject]]) -> Iterator[list[tuple[int, SourceObject]]]:
    group: list[tuple[int, SourceObject]] = []
    size = 0
    for item in planned:
        group.append(item)
        size += item[1].size
        if size >= GROUP_BYTES or len(group) >= GROUP_OBJECTS:
            yield group
            group, size = [], 0
    if group:
        yield group


class TypingPool:
    """Worker processes that type groups of objects; results come back in the order given."""

    def __init__(self, cfg: Any, columns: list[Column], run_id: int, workers: int) -> None:
        import multiprocessing

        # spawn, not fork: the main process holds a database connection and may hold threads
        self.pool = multiprocessing.get_context("spawn").Pool(
            workers, initializer=_start_worker, initargs=(cfg, columns, run_id))
        self.workers = workers

    def typed_chunks(self, planned: Iterable[tuple[int, SourceObject]], rejects: RejectSpool,
                     counts: StageCounts, on_progress: Callable[[], None] = lambda: None) -> Iterator[bytes]:
        pending: deque[Any] = deque()
        for group in _groups(planned):
            if len(pending) > self.workers:  # a bounded window: memory stays flat
                yield self._collect(pending.popleft(), rejects, counts)
                on_progress()
            pending.append((group, self.pool.apply_async(_type_group, (group,))))
        while pending:
            yield self._collect(pending.popleft(), rejects, counts)
            on_progress()

    @staticmethod
    def _collect(item: Any, rejects: RejectSpool, counts: StageCounts) -> bytes:
        group, result = item
        chunk, spooled, rows, objects, repaired, throttled, unknown = result.get()
        if throttled:
            sources.note_throttling(throttled)
        if spooled:
            objects_by_key = {obj.key: obj for _, obj in group}
            for key, record_no, line, reason, text in spooled:
                rejects.add(objects_by_key[key], record_no, line, reason, text)
        counts.rows += rows
        counts.objects += objects
        counts.rejected += len(spooled)
        counts.repaired += repaired
        counts.unknown.update(unknown)
        return chunk

    def close(self) -> None:
        self.pool.close()
        self.pool.join()

    def __enter__(self) -> TypingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.terminate() if exc[0] is not None else self.close()


class ChunkReader:
    """A file-like view of an iterator of byte chunks, for psycopg2's copy_expert, which
    sends whatever each read() returns and stops at the first empty one.

    psycopg2 reports an exception raised while reading as a failed COPY; the original is
    kept in `error` so copy_in() can raise it as it was."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = iter(chunks)
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            for chunk in self.chunks:
                if chunk:
                    return chunk
        except BaseException as exc:
            self.error = exc
            raise
        return b""


def copy_in(cur: psycopg2.extensions.cursor, statement: str, chunks: Iterable[bytes]) -> None:
    """COPY … FROM STDIN fed by chunks; a failure while producing them is raised as itself."""
    reader = ChunkReader(chunks)

    def send() -> int:
        cur.copy_expert(statement, reader)
        return max(cur.rowcount, 0)

    try:
        session.traced(session.statement_name(statement), send, cur.connection)  # DWH_TRACE=1: name, rows, time
    except psycopg2.Error:
        if reader.error is not None:
            raise reader.error from None
        raise
