#!/usr/bin/env bash
# `make run`: the whole site on 127.0.0.1 with one combined log.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

export DEBUG=${DEBUG:-1}
export WEB_PORT=${WEB_PORT:-8000}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
# The site's files, and the embedded Redis's append-only file, so that queued jobs outlive a restart.
export DATA_DIR=${DATA_DIR:-$PWD/var}
py=.venv/bin/python

$py manage.py prepare

# Why Redis at $REDIS_URL cannot be used, or nothing when it answers a PING. redis-cli asks in a few
# milliseconds; a Python process that imports the site's broker module first costs half a second.
redis_problem() {
  local answer
  if [ -x .venv/bin/redis-cli ] && [[ $REDIS_URL == redis://* ]]; then
    answer=$(timeout 2 .venv/bin/redis-cli --no-auth-warning -e -u "$REDIS_URL" ping 2>&1) || true
    [ "$answer" = PONG ] && return 0
    echo "${answer:-no answer within 2 s}"
    return 1
  fi
  $py -c 'import os, sys; from mlopslab.broker import redis_problem; p = redis_problem(os.environ["REDIS_URL"]); print(p or ""); sys.exit(1 if p else 0)'
}

procs=(web worker beat)
if problem=$(redis_problem); then
  echo "Using the Redis that answers at $REDIS_URL"
else
  read -r host port < <($py -c 'import os; from urllib.parse import urlsplit; u = urlsplit(os.environ["REDIS_URL"]); print(u.hostname, u.port or 6379)')
  case "$host" in
    127.0.0.1|localhost) ;;
    *) echo "Redis at $REDIS_URL does not answer ($problem), and only a local one can be started here." >&2; exit 1 ;;
  esac
  echo "Nothing answers at $REDIS_URL; starting the embedded redis-server on 127.0.0.1:$port"
  export REDIS_PORT=$port
  mkdir -p "$DATA_DIR/redis"
  procs=(redis "${procs[@]}")
fi

echo "MLOps Lab will be at http://127.0.0.1:$WEB_PORT/ (Ctrl-C stops everything)"
exec .venv/bin/honcho --no-colour -f scripts/Procfile -d . start "${procs[@]}"
