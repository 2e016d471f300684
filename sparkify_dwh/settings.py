"""dwh.cfg: defaults, the file, DWH_<SECTION>_<KEY> environment overrides, validated once into a
frozen, typed Settings that every script and module reads (settings.s3.region, settings.etl.workers)."""

from __future__ import annotations

import configparser
import dataclasses
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


def load_config(path: str | os.PathLike[str] | None = None, *, warn: bool = True) -> Settings:
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
    for name, value in os.environ.items():
        found = environment_setting(name)
        if found is None:
            continue
        section, key = found
        if key not in DEFAULTS[section]:
            if warn:
                say(f"warning: the environment variable {name} is not a setting the toolkit reads; ignored")
            continue
        cfg[section][key] = value
    cfg["DEFAULT"]["CONFIG_DIR"] = str(file.resolve().parent)
    validate_config(cfg)
    settings = Settings.of(cfg)
    _LOADED.append(settings)
    return settings


def environment_setting(name: str) -> tuple[str, str] | None:
    """(section, KEY) an environment variable DWH_<SECTION>_<KEY> sets, or None. The longest section
    that fits wins: DWH_CLUSTER_SETUP_NUM_NODES is [CLUSTER_SETUP] NUM_NODES, not [CLUSTER] SETUP_NUM_NODES."""
    for section in sorted(DEFAULTS, key=len, reverse=True):
        prefix = f"DWH_{section}_"
        if name.startswith(prefix) and name[len(prefix):]:
            return section, name[len(prefix):].upper()
    return None


# Every configuration this process has loaded: the script edge redacts their secrets from an
# error, whichever file they came from (--config PATH, --config=PATH, or the default).
_LOADED: list[Settings] = []


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
    reject_allowance(cfg["ETL"]["MAX_REJECTS"], 0)  # fails early on a malformed value
    for key in ("RUN_CHECKS", "REPAIR_TEXT"):
        try:
            cfg.getboolean("ETL", key)
        except ValueError:
            raise ConfigError(f"[ETL] {key} is {cfg['ETL'][key]!r}; use true or false") from None
    workers = cfg["ETL"]["WORKERS"].strip().lower()
    if workers != "auto" and not (workers.isascii() and workers.isdigit()):
        raise ConfigError(f"[ETL] WORKERS is {workers!r}; use auto or a number of processes (0: none)")
    lock_timeout = cfg["ETL"]["LOCK_TIMEOUT"].strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]*)?", lock_timeout):
        raise ConfigError(f"[ETL] LOCK_TIMEOUT is {lock_timeout!r}; use a number of seconds (0: wait for ever)")
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


def config_path(cfg: Settings, value: str) -> Path:
    """A path from dwh.cfg, relative to the folder of dwh.cfg."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else cfg.config_dir / p


def allowed_rejects(cfg: Settings, records: int) -> int:
    """How many of a run's `records` may be rejected, by [ETL] MAX_REJECTS (see reject_share)."""
    return reject_allowance(cfg.etl.max_rejects, records)


def reject_allowance(raw: str, records: int) -> int:
    """How many of `records` the [ETL] MAX_REJECTS value `raw` lets be rejected: a count (``10``),
    or a fraction of the records as a decimal (``0.01``) or a percentage (``1%``)."""
    raw = raw.strip()
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


def secrets(cfg: Settings | None) -> list[str]:
    """The configured secrets, and those of the environment (also when no configuration loaded)."""
    values = [cfg.cluster.db_password] if cfg is not None else []
    values += [os.environ.get(f"DWH_{s}_{k}", "") for s, k in SECRET_KEYS]
    values += [os.environ.get(v, "") for v in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD")]
    return [v for v in values if len(v) >= 3]


def redact(text: str, cfg: Settings | None) -> str:
    """Replace every configured secret in text (messages, errors) with ***."""
    for secret in sorted(secrets(cfg), key=len, reverse=True):  # the longest first: one may hold another
        text = text.replace(secret, "***")
    return re.sub(r"(password=)\S+", r"\1***", text, flags=re.IGNORECASE)


def embedded_folder(cfg: Settings) -> Path:
    return config_path(cfg, cfg.warehouse.embedded_dir)


# --------------------------------------------------------------------------- the typed settings
# One frozen dataclass per section of dwh.cfg, a field per key (its name in lower case), its type
# what validate_config checked. Settings.replace gives a changed copy (tests, tools).


@dataclasses.dataclass(frozen=True)
class WarehouseSection:
    target: str  # embedded | postgres | redshift
    embedded_dir: str  # relative to dwh.cfg's folder (embedded_folder)


@dataclasses.dataclass(frozen=True)
class ClusterSection:
    host: str
    db_name: str
    db_user: str
    db_password: str = dataclasses.field(repr=False)
    db_port: int = 5439


@dataclasses.dataclass(frozen=True)
class IamRoleSection:
    arn: str


@dataclasses.dataclass(frozen=True)
class S3Section:
    log_data: str  # s3://bucket/prefix or a folder
    log_jsonpath: str
    song_data: str
    region: str
    endpoint_url: str
    work_prefix: str


@dataclasses.dataclass(frozen=True)
class EtlSection:
    max_rejects: str  # a count, a fraction or a percentage (allowed_rejects)
    run_checks: bool
    workers: str  # auto, or a number of typing processes
    repair_text: bool
    lock_timeout: float  # seconds a statement waits for another session's lock; 0: for ever


@dataclasses.dataclass(frozen=True)
class ClusterSetupSection:
    cluster_identifier: str
    node_type: str
    num_nodes: str
    iam_role_name: str
    security_group_id: str
    ingress_cidr: str
    publicly_accessible: str


SOURCE_KEYS = {"songs": "song_data", "events": "log_data"}  # a source -> its [S3] setting


@dataclasses.dataclass(frozen=True)
class Settings:
    """dwh.cfg as validated: one field per section."""

    warehouse: WarehouseSection
    cluster: ClusterSection
    iam_role: IamRoleSection
    s3: S3Section
    etl: EtlSection
    cluster_setup: ClusterSetupSection
    config_dir: Path  # dwh.cfg's folder: relative paths in it mean the same wherever a script starts

    @property
    def dialect(self) -> dialects.Postgres:
        return dialects.for_target(self.warehouse.target)

    def source(self, source: str) -> str:
        """Where a source ("songs", "events") is: [S3] SONG_DATA or LOG_DATA."""
        return str(getattr(self.s3, SOURCE_KEYS[source]))

    def replace(self, section: str, **values: Any) -> Settings:
        """A copy with some keys of one section changed: replace("s3", work_prefix="s3://b/w")."""
        changed = dataclasses.replace(getattr(self, section), **values)
        return dataclasses.replace(self, **{section: changed})

    def sections(self) -> dict[str, dict[str, str]]:
        """The settings as dwh.cfg's sections of strings (what a worker process is handed)."""
        names = {"iam_role": "IAM_ROLE", "cluster_setup": "CLUSTER_SETUP"}
        return {names.get(f.name, f.name.upper()): {k.upper(): str(v) for k, v in dataclasses.asdict(
            getattr(self, f.name)).items()} for f in dataclasses.fields(self) if f.name != "config_dir"}

    @classmethod
    def of(cls, cfg: configparser.ConfigParser) -> Settings:
        """The typed settings of a validated ConfigParser (validate_config)."""
        def section(kind: type, name: str) -> Any:
            values: dict[str, Any] = {}
            for field in dataclasses.fields(kind):
                raw = cfg[name][field.name.upper()]
                values[field.name] = (cfg.getboolean(name, field.name.upper()) if field.type == "bool"
                                      else int(raw) if field.type == "int" else float(raw) if field.type == "float"
                                      else raw if field.name == "db_password" else raw.strip())
            return kind(**values)

        return cls(section(WarehouseSection, "WAREHOUSE"), section(ClusterSection, "CLUSTER"),
                   section(IamRoleSection, "IAM_ROLE"), section(S3Section, "S3"), section(EtlSection, "ETL"),
                   section(ClusterSetupSection, "CLUSTER_SETUP"), Path(cfg["DEFAULT"]["CONFIG_DIR"]))
