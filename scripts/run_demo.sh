#!/usr/bin/env bash
# `make run`: migrate, seed the demo and start every process of the Procfile.
# Demo defaults apply only where neither the environment nor .env sets a value.
set -euo pipefail
cd "$(dirname "$0")/.."

in_dotenv() { [ -f .env ] && grep -q "^$1=" .env; }
default() { if [ -z "${!1:-}" ] && ! in_dotenv "$1"; then export "$1=$2"; fi; }

default DJANGO_DEBUG true
default WAHA_API_KEY demo-simulator-key-change-me
default WHATSAPP_ENDPOINTS '[{"name": "Demo", "apiUrl": "http://localhost:3000", "apiKey": "${WAHA_API_KEY}"}]'
default WHATSAPP_WEBHOOK_BASE_URL http://localhost:8000

# web, worker and scheduler add their counters up in one directory (prometheus-client's
# multiprocess mode); a fresh one per run, since old files would be counted again.
if [ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  PROMETHEUS_MULTIPROC_DIR="$(mktemp -d -t booqing-metrics-XXXXXX)"
  export PROMETHEUS_MULTIPROC_DIR
fi

.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py seed_demo
echo
echo "Starting web (http://localhost:8000), worker, scheduler and the gateway simulator"
echo "(http://localhost:3000). Press Ctrl-C to stop them all."
# Settings read .env themselves (environment first); honcho must not re-export it over ours.
exec .venv/bin/honcho start -e /dev/null -f Procfile
