#!/usr/bin/env bash
# One entry point for a fresh machine; each command sets up its own virtualenv (.venv).
#   ./run.sh demo   90 days of synthetic Sparkify data -> create_tables.py -> etl.py -> check_data.py -> report.py
#                   on the embedded PostgreSQL (nothing to install by hand), all through demo.cfg (the
#                   demo's own configuration: dwh.cfg is left alone), then the commands to try next
#   ./run.sh test   the whole test suite, against real PostgreSQL servers and a local S3 (moto)
# PYTHON=/path/to/python uses that interpreter (with the requirements installed) instead of .venv.
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
    if [ -n "${PYTHON:-}" ]; then py=$PYTHON; else venv requirements.txt; py=.venv/bin/python; fi
    data=data/demo config=demo.cfg
    # DEMO_DATA: generate_data.py's arguments (a smaller demo: DEMO_DATA="--days 30 --events 5000")
    # shellcheck disable=SC2086
    [ -d "$data/log_data" ] || "$py" generate_data.py "$data" ${DEMO_DATA:---lifecycle --days 91 --start 2018-10-01 --users 1500 --songs 5000 --events 500000 --weekly 0.3 --shocks 0.05}
    "$py" create_tables.py --config "$config"
    "$py" etl.py --config "$config"
    "$py" check_data.py --config "$config" --sample 0
    "$py" report.py --config "$config" --out "$data/report.html"  # says where it wrote and how long it took
    cat <<NEXT

The demo warehouse is loaded ($config: its own settings; dwh.cfg is left for your data).
In $PWD, try next:
  the dashboard (opens offline):  $PWD/$data/report.html
  what is loaded, the runs:       $py etl.py --config $config --status
  check the data:                 $py check_data.py --config $config
  forecasts and trending:         $py trends.py --config $config
  the dashboard again:            $py report.py --config $config --out $data/report.html
  the same as JSON:               $py etl.py --config $config --status --json
  a SQL client (psql, a BI tool): $py serve.py --config $config    (prints the URL; Ctrl-C stops it)
NEXT
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
