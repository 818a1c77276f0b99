#!/usr/bin/env bash
# Create .venv and install the pinned requirements, again only when they change.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "MLOps Lab needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)." >&2
  echo "Set PYTHON=/path/to/python3.11 (or newer) and try again." >&2
  exit 1
fi

files=(requirements.txt)
[ "${1:-}" = "--dev" ] && files=(requirements-dev.txt)

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=".venv/.installed-$(basename "${files[0]}" .txt)"
wanted=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing Python packages into .venv (the first time takes about a minute)..."
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "${files[0]}"
  echo "$wanted" > "$stamp"
fi
mkdir -p var staticfiles
