"""The toolkit's one version: pyproject.toml's [project] version (PEP 621), read through the
installed package's metadata when the toolkit is installed, else from the file beside the scripts."""

from __future__ import annotations

import functools
import importlib.metadata
import tomllib
from pathlib import Path

DISTRIBUTION = "sparkify-dwh"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@functools.cache
def version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # run from a checkout (the usual way): the file
        with PYPROJECT.open("rb") as file:
            return str(tomllib.load(file)["project"]["version"])
