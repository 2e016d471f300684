"""dwh.cfg: defaults, the file, DWH_<SECTION>_<KEY> environment overrides, validated once."""

from __future__ import annotations

import configparser
import math
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

from sparkify_dwh import dialects
from sparkify_dwh.console import say
from sparkify_dwh.errors import ConfigError

HERE = Path(__file__).resolve().parent.parent  # the project folder: the scripts and dwh.cfg


DEFAULT_CONFIG = HERE / "dwh.cfg"


TARGETS = dialects.TARGETS


# Every key the toolkit reads, with its default. The environment variable
# DWH_<SECTION>_<KEY> overrides the file, which overrides these.
DEFAULTS: dict[str, dict[str, str]] = {
    "WAREHOUSE": {"TARGET": "embedded", "EMBEDDED_DIR": ".dwh"},
    "CLUSTER": {"HOST": "", "DB_NAME": "dev", "DB_USER": "", "DB_PASSWORD": "", "DB_PORT": "5439"},
    "IAM_ROLE": {"ARN": ""},
    "S3": {
        "LOG_DATA": "s3://udacity-dend/log_data",
        "LOG_JSONPATH": "s3://udacity-dend/log_json_path.json",
        "SONG_DATA": "s3://udacity-dend/song_data",
        "REGION": "us-west-2",
        "ENDPOINT_URL": "",
        "WORK_PREFIX": "",
    },
    "ETL": {"MAX_REJECTS": "0", "RUN_CHECKS": "false", "WORKERS": "auto", "REPAIR_TEXT": "true",
            "LOCK_TIMEOUT": "0"},
    # cluster.py up|status|down: what it creates (see its --help)
    "CLUSTER_SETUP": {
        "CLUSTER_IDENTIFIER": "sparkify-dwh",
        "NODE_TYPE": "ra3.xlplus",
        "NUM_NODES": "2",
        "IAM_ROLE_NAME": "sparkify-dwh-s3-read",
        "SECURITY_GROUP_ID": "",
        "INGRESS_CIDR": "",
        "PUBLICLY_ACCESSIBLE": "true",
    },
}


SECRET_KEYS = (("CLUSTER", "DB_PASSWORD"),)


def load_config(path: str | os.PathLike[str] | None = None, *, warn: bool = True) -> configparser.ConfigParser:
    """Defaults, then the file, then DWH_<SECTION>_<KEY> environment variables.

    The file's own folder is remembered (``config_dir``) so relative paths in it, such as
    EMBEDDED_DIR, mean the same wherever the script is started from. Keys the toolkit does not
    read are named in a warning (when `warn`); no message ever shows a value from the file."""
    explicit = path is not None
    file = Path(path if path is not None else DEFAULT_CONFIG).expanduser()
    cfg = _new_parser()
    cfg.read_dict(DEFAULTS)
    if file.is_file():
        text = _config_text(file)
        _parse(cfg, text, file)
        lines = _setting_lines(text)
        _refuse_cut_secrets(cfg, text, file, lines)
        if warn:
            for problem in _unknown_settings(_parsed(text, file), lines):
                say(f"warning: {file} {problem}")
    elif explicit:
        raise ConfigError(f"config file not found: {file}")
    for section in cfg.sections():
        prefix = f"DWH_{section}_"
        for name, value in os.environ.items():
            if name.startswith(prefix) and name[len(prefix) :]:
                key = name[len(prefix) :].upper()
                if warn and key not in DEFAULTS[section] and section in DEFAULTS:
                    say(f"warning: the environment variable {name} is not a setting the toolkit reads; ignored")
                cfg[section][key] = value
    cfg["DEFAULT"]["CONFIG_DIR"] = str(file.resolve().parent)
    validate_config(cfg)
    _LOADED.append(cfg)
    return cfg


# Every configuration this process has loaded: the script edge redacts their secrets from an
# error, whichever file they came from (--config PATH, --config=PATH, or the default).
_LOADED: list[configparser.ConfigParser] = []


def _new_parser(inline_comments: bool = True) -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(inline_comment_prefixes=(";", "#") if inline_comments else None,
                                    interpolation=None)
    cfg.optionxform = str.upper  # type: ignore[assignment,method-assign]  # keys are case-insensitive
    return cfg


def _config_text(file: Path) -> str:
    data = file.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{file} line {line} is not UTF-8 text; save the file as UTF-8") from None


def _parse(cfg: configparser.ConfigParser, text: str, file: Path) -> None:
    """Read the file's text into cfg; a syntax error names its line, never the line's text (it may
    hold a password)."""
    try:
        cfg.read_string(text, source=str(file))
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(f"{file} line {exc.lineno}: a setting before any [SECTION] header;"
                          " put it under its section (the line is not shown: it may hold a secret)") from None
    except configparser.ParsingError as exc:
        numbers = ", ".join(str(error[0]) for error in exc.errors)
        sections = _setting_lines(text, all_lines=True)
        where = sorted({sections.get(error[0], ("?", ""))[0] for error in exc.errors})
        raise ConfigError(f"{file} line {numbers} (in [{'], ['.join(where)}]): not a KEY = value setting"
                          " (the line is not shown: it may hold a secret)") from None
    except configparser.DuplicateOptionError as exc:
        raise ConfigError(f"{file} line {exc.lineno}: [{exc.section}] {exc.option.upper()} is set twice") from None
    except configparser.DuplicateSectionError as exc:
        raise ConfigError(f"{file} line {exc.lineno}: the section [{exc.section}] appears twice") from None
    except configparser.Error as exc:
        raise ConfigError(f"{file} cannot be read as an INI file ({type(exc).__name__})") from None


def _parsed(text: str, file: Path, inline_comments: bool = True) -> configparser.ConfigParser:
    cfg = _new_parser(inline_comments)
    _parse(cfg, text, file)
    return cfg


_SECTION_LINE = re.compile(r"\s*\[(?P<section>[^]]+)\]")


_KEY_LINE = re.compile(r"(?P<key>[^=:\s;#\[][^=:]*?)\s*[=:]")


def _setting_lines(text: str, all_lines: bool = False) -> dict[Any, Any]:
    """(section, KEY) -> line number of each setting in the file's text, (section, '') that of its
    header; with all_lines, every line number -> (section, KEY or '') instead."""
    found: dict[Any, Any] = {}
    section = "DEFAULT"
    for number, line in enumerate(text.splitlines(), 1):
        header = _SECTION_LINE.match(line)
        if header:
            section = header["section"].strip()
            if not all_lines:
                found.setdefault((section, ""), number)
        key = _KEY_LINE.match(line) if not header and not line[:1].isspace() else None
        if all_lines:
            found[number] = (section, key["key"].upper() if key else "")
        elif key:
            found.setdefault((section, key["key"].strip().upper()), number)
    return found


def _refuse_cut_secrets(cfg: configparser.ConfigParser, text: str, file: Path,
                        lines: dict[tuple[str, str], int]) -> None:
    """` ;` or ` #` starts a comment in dwh.cfg: a password holding one would be cut there, silently."""
    raw = _parsed(text, file, inline_comments=False)
    for section, key in SECRET_KEYS:
        if not raw.has_option(section, key):
            continue
        value = cfg[section][key]
        if value and value != raw[section][key].strip():
            raise ConfigError(
                f"{file} line {lines.get((section, key), '?')}: [{section}] {key} holds ' ;' or ' #', where"
                f" dwh.cfg comments start, so it would be cut there; set it in the environment variable"
                f" DWH_{section}_{key} instead, or move the comment to a line of its own")


def _unknown_settings(file_cfg: configparser.ConfigParser, lines: dict[tuple[str, str], int]) -> list[str]:
    """A line for each section or key of the file that the toolkit does not read (a typo, or a key
    under the wrong section)."""
    problems = []
    for section in file_cfg.sections():
        if section not in DEFAULTS:
            number = lines.get((section, ""), "?")
            problems.append(f"line {number}: the section [{section}] is not one the toolkit reads; ignored")
            continue
        for key in file_cfg[section]:
            if key in DEFAULTS[section] or key in file_cfg.defaults():
                continue
            homes = [s for s, keys in DEFAULTS.items() if key in keys]
            hint = f"it belongs in [{homes[0]}]" if homes else "not a setting the toolkit reads"
            problems.append(f"line {lines.get((section, key), '?')}: [{section}] {key}: {hint}; ignored here")
    return problems


_PORT = re.compile(r"[0-9]{1,5}")


_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")  # what botocore accepts


def validate_config(cfg: configparser.ConfigParser) -> None:
    target = cfg["WAREHOUSE"]["TARGET"].strip().lower()
    if target not in TARGETS:
        raise ConfigError(f"[WAREHOUSE] TARGET is {target!r}; use one of: {', '.join(TARGETS)}")
    cfg["WAREHOUSE"]["TARGET"] = target
    for key in ("DB_PORT",):
        port = cfg["CLUSTER"][key].strip()
        if not _PORT.fullmatch(port) or not 1 <= int(port) <= 65535:  # ASCII digits only: int() takes others
            raise ConfigError(f"[CLUSTER] {key} must be a port number, not {cfg['CLUSTER'][key]!r}")
    allowed_rejects(cfg, 0)  # fails early on a malformed value
    for key in ("RUN_CHECKS", "REPAIR_TEXT"):
        try:
            cfg.getboolean("ETL", key)
        except ValueError:
            raise ConfigError(f"[ETL] {key} is {cfg['ETL'][key]!r}; use true or false") from None
    workers = cfg["ETL"]["WORKERS"].strip().lower()
    if workers != "auto" and not (workers.isascii() and workers.isdigit()):
        raise ConfigError(f"[ETL] WORKERS is {workers!r}; use auto or a number of processes (0: none)")
    validate_s3(cfg)


def validate_s3(cfg: configparser.ConfigParser) -> None:
    """REGION and ENDPOINT_URL as boto3 accepts them, named here rather than in boto3's words."""
    region = cfg["S3"]["REGION"].strip()
    if region and not _REGION.fullmatch(region):
        raise ConfigError(f"[S3] REGION is {region!r}; use an AWS region name such as us-west-2")
    endpoint = cfg["S3"]["ENDPOINT_URL"].strip()
    if endpoint:
        from urllib.parse import urlsplit

        from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

        try:
            parts = urlsplit(endpoint)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
        except ValueError:  # a port that is not a number, a malformed IPv6 address
            valid = False
        if not valid or not (is_valid_endpoint_url(endpoint) or is_valid_ipv6_endpoint_url(endpoint)):
            raise ConfigError("[S3] ENDPOINT_URL is not an http(s) URL of a host, such as http://127.0.0.1:9000;"
                              " leave it empty for AWS")


def config_path(cfg: configparser.ConfigParser, value: str) -> Path:
    """A path from dwh.cfg, relative to the folder of dwh.cfg."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else Path(cfg["DEFAULT"]["CONFIG_DIR"]) / p


def allowed_rejects(cfg: configparser.ConfigParser, records: int) -> int:
    """How many of a run's `records` may be rejected, by [ETL] MAX_REJECTS: a count (``10``), or a
    fraction of the records as a decimal (``0.01``) or a percentage (``1%``)."""
    raw = cfg["ETL"]["MAX_REJECTS"].strip()
    problem = ConfigError(f"[ETL] MAX_REJECTS is {raw!r}; use a count (10), a fraction (0.01) or a percentage (1%)")
    if not raw.isascii():  # int() and Fraction() take other scripts' digits too
        raise problem
    try:
        if raw.endswith("%"):
            share = Fraction(raw[:-1].strip()) / 100
        elif raw.isdigit():
            return int(raw)
        else:
            share = Fraction(raw)
    except (ValueError, ZeroDivisionError):
        raise problem from None
    if not 0 <= share <= 1:
        raise problem
    return math.floor(share * records)  # exact: 29% of 100 records is 29


def secrets(cfg: configparser.ConfigParser | None) -> list[str]:
    """The configured secrets, and those of the environment (also when no configuration loaded)."""
    values = [cfg[s][k] for s, k in SECRET_KEYS if cfg.has_option(s, k)] if cfg is not None else []
    values += [os.environ.get(f"DWH_{s}_{k}", "") for s, k in SECRET_KEYS]
    values += [os.environ.get(v, "") for v in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD")]
    return [v for v in values if len(v) >= 3]


def redact(text: str, cfg: configparser.ConfigParser | None) -> str:
    """Replace every configured secret in text (messages, errors) with ***."""
    for secret in sorted(secrets(cfg), key=len, reverse=True):  # the longest first: one may hold another
        text = text.replace(secret, "***")
    return re.sub(r"(password=)\S+", r"\1***", text, flags=re.IGNORECASE)


def embedded_folder(cfg: configparser.ConfigParser) -> Path:
    return config_path(cfg, cfg["WAREHOUSE"]["EMBEDDED_DIR"])


def dialect(cfg: configparser.ConfigParser) -> dialects.Postgres:
    """The SQL dialect of the configured target: the embedded server is PostgreSQL."""
    return dialects.for_target(cfg["WAREHOUSE"]["TARGET"])
