#!/usr/bin/env bash
# Keep one command running: start it again when it exits by itself, stop it when asked.
#
#   scripts/supervise.sh COMMAND [ARGUMENT...]
#
# `make run` starts the Celery worker through this, because honcho stops every process of the
# site as soon as one of them exits: a worker that dies (killed, out of memory, a crash) comes
# back after a short pause instead of taking the site down. SIGTERM or SIGINT is passed on to
# the command, and once it has exited this script exits with its status, starting nothing.
# The pause doubles from 1 s after each quick exit, up to 30 s, and starts again from 1 s after
# a run that lasted a minute.
set -u

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGUMENT...]" >&2
  exit 2
fi

child=0
stopping=""

stop() {
  stopping=$1
  if [ "$child" -ne 0 ]; then
    kill -s "$1" "$child" 2>/dev/null
  fi
}
trap 'stop TERM' TERM
trap 'stop INT' INT

pause=1
while :; do
  started=$SECONDS
  "$@" &
  child=$!
  # `wait` returns early when a trapped signal arrives; keep waiting until the command has exited.
  wait "$child"
  status=$?
  while kill -0 "$child" 2>/dev/null; do
    wait "$child"
    status=$?
  done
  child=0
  if [ -n "$stopping" ]; then
    exit "$status"
  fi
  if [ $((SECONDS - started)) -ge 60 ]; then
    pause=1
  fi
  echo "supervise: '$1' exited with status $status; starting it again in ${pause} s" >&2
  # In the background, so that a signal during the pause is handled at once.
  sleep "$pause" &
  sleeper=$!
  wait "$sleeper"
  if [ -n "$stopping" ]; then
    kill "$sleeper" 2>/dev/null
    exit 0
  fi
  pause=$((pause < 16 ? pause * 2 : 30))
done
