#!/usr/bin/env bash
# Real-server session-ticket tests (issue 3, item 5): nginx (80- and 48-byte files), Apache httpd,
# Apache Traffic Server (and HAProxy: test_haproxy.py) with keys written by `keywheel stek`, and
# Apache with mod_keywheel (test_mod_keywheel.py: the module built with apxs, libfaketime).
# Needs root: installs the servers from apt if missing (no service is started), runs them on
# 127.0.0.1 only with their own config/ports/pid files/logs under a temp dir, stops them by pid.
#
#   tests/servers/run.sh [pytest args, e.g. test_nginx.py or -k haproxy]
#
# Environment: PYTHON (default: .venv/bin/python of the repository, made from
# tests/requirements.txt), KEYWHEEL_BIN_DIR (default: target/debug; holds `keywheel`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PY=${PYTHON:-$root/.venv/bin/python}

if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP tests/servers: the real-server tests need root (apt-get install, servers on 127.0.0.1)"
  exit 0
fi
export KEYWHEEL_BIN_DIR=${KEYWHEEL_BIN_DIR:-$root/target/debug}
if ! "$KEYWHEEL_BIN_DIR/keywheel" stek --help >/dev/null 2>&1; then
  echo "error: $KEYWHEEL_BIN_DIR/keywheel has no 'stek' subcommand; build it: cargo build -p keywheel-cli" >&2
  exit 1
fi
export KEYWHEEL_STEK_WRITER=cli  # the key files must come from the real CLI

cd "$here"
# testpaths (pytest.ini) is ".": no file arguments run every test file, file arguments run those.
exec "$PY" -m pytest -v -p no:cacheprovider "$@"
