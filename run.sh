#!/usr/bin/env bash
# One entry point for a fresh machine; each command sets up its own virtualenv (.venv).
#   ./run.sh demo   90 days of synthetic Sparkify data -> create_tables.py -> etl.py -> check_data.py
#                   -> report.py (the dashboard, its path printed last), on the embedded PostgreSQL
#                   (nothing to install by hand)
#   ./run.sh test   the whole test suite, against real PostgreSQL servers and a local S3 (moto)
set -euo pipefail
cd "$(dirname "$0")"

venv() {  # create .venv and install the given requirements file when it changed
  local requirements=$1 stamp=".venv/.installed-$1"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  if [ ! -f "$stamp" ] || [ "$requirements" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    touch "$stamp"
  fi
}

case "${1:-demo}" in
  demo)
    venv requirements.txt
    data=data/demo
    [ -d "$data/log_data" ] || .venv/bin/python generate_data.py "$data" --lifecycle --days 91 --start 2018-10-01 --users 1500 --songs 5000 --events 500000 --weekly 0.3 --shocks 0.05
    export DWH_S3_LOG_DATA="$PWD/$data/log_data" DWH_S3_SONG_DATA="$PWD/$data/song_data"
    .venv/bin/python create_tables.py
    .venv/bin/python etl.py
    .venv/bin/python check_data.py --sample 0
    .venv/bin/python report.py --out "$data/report.html"  # says where it wrote and how long it took
    echo "dashboard: $PWD/$data/report.html (open it in a browser; it needs no network)"
    ;;
  test)
    venv requirements-dev.txt
    .venv/bin/ruff check .
    .venv/bin/python -m pytest "${@:2}"
    ;;
  *)
    echo "usage: ./run.sh [demo|test]" >&2
    exit 2
    ;;
esac
