"""The README documents what the toolkit really offers: every dwh.cfg key (with its default and
environment variable), every command-line option of every script as its --help lists it, and
every link to a section of its own."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from sparkify_dwh import settings

README = (ROOT / "README.md").read_text(encoding="utf-8")
# A configuration row: | `[SECTION] KEY` | default | environment variable | meaning |
CONFIG_ROW = re.compile(r"^\| `\[(?P<section>\w+)\] (?P<key>\w+)` \|(?P<default>[^|]*)\|(?P<env>[^|]*)\|", re.M)
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SUBCOMMANDS = re.compile(r"^usage: [^{\n]*\{(?P<names>[\w,-]+)\}", re.M)


def documented_keys() -> dict[tuple[str, str], tuple[str, str]]:
    """(section, KEY) -> (default cell, environment variable cell) of the README's configuration table."""
    return {(m["section"], m["key"]): (m["default"].strip(), m["env"].strip()) for m in CONFIG_ROW.finditer(README)}


def shipped_keys() -> set[tuple[str, str]]:
    """The keys of the dwh.cfg beside the scripts, parsed as the toolkit parses it."""
    cfg = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), interpolation=None)
    cfg.optionxform = str.upper  # type: ignore[assignment,method-assign]
    cfg.read(ROOT / "dwh.cfg", encoding="utf-8")
    return {(section, key) for section in cfg.sections() for key in cfg[section]}


def read_keys() -> set[tuple[str, str]]:
    """Every key dwh.py reads (its DEFAULTS: load_config warns about any other)."""
    return {(section, key) for section, keys in settings.DEFAULTS.items() for key in keys}


def test_the_shipped_dwh_cfg_holds_only_keys_the_toolkit_reads() -> None:
    assert shipped_keys() <= read_keys()


@pytest.mark.parametrize(("section", "key"), sorted(read_keys() | shipped_keys()))
def test_every_config_key_is_documented_with_its_default(section: str, key: str) -> None:
    rows = documented_keys()
    assert (section, key) in rows, f"[{section}] {key} is not in the README's configuration table"
    default, env = rows[(section, key)]
    expected = settings.DEFAULTS.get(section, {}).get(key, "")
    assert default == (f"`{expected}`" if expected else ""), f"[{section}] {key}: the README's default is {default!r}"
    assert env == f"`DWH_{section}_{key}`"


def test_the_config_table_names_no_key_the_toolkit_does_not_read() -> None:
    assert set(documented_keys()) <= read_keys()


def scripts() -> list[Path]:
    """Every script a user runs: the top-level ones and the benchmarks (each has a __main__ block)."""
    found = [*sorted(ROOT.glob("*.py")), *sorted((ROOT / "bench").glob("*.py"))]
    return [p for p in found if 'if __name__ == "__main__":' in p.read_text(encoding="utf-8")]


def help_text(script: Path, *command: str) -> str:
    proc = subprocess.run([sys.executable, str(script), *command, "--help"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def options(script: Path) -> set[str]:
    """The options its --help lists, and those of each subcommand's --help (cluster.py up|status|down)."""
    text = help_text(script)
    found = set(OPTION.findall(text))
    usage = SUBCOMMANDS.search(text)
    for command in usage["names"].split(",") if usage else ():
        found |= set(OPTION.findall(help_text(script, command)))
    return found - {"--help"}


def test_every_script_is_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in scripts()}
    assert {"create_tables.py", "etl.py", "check_data.py", "report.py", "trends.py", "serve.py", "generate_data.py",
            "cluster.py", "doctor.py", "bench/bench.py"} <= names


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_option_of_every_script_is_in_the_readme(script: Path) -> None:
    documented = set(OPTION.findall(README))
    found = options(script)
    assert "--config" in found or script.parent.name == "bench"
    missing = sorted(found - documented)
    assert not missing, f"{script.name} --help lists options the README never mentions: {', '.join(missing)}"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_section_link_leads_to_a_heading() -> None:
    prose = re.sub(r"(?ms)^```.*?^```", "", README)  # a '#' comment in a code block is no heading
    anchors = {slug(h) for h in re.findall(r"^#{1,6} (.+)$", prose, re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", README))
    assert links, "the README links to none of its sections"
    assert not sorted(links - anchors)
