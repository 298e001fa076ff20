#!/usr/bin/env bash
# `make run`: migrate, seed the demo and start every process of the Procfile.
# `./scripts/run_demo.sh simulator LABEL`: start one demo gateway simulator again, alone
# (after you stopped or killed it), on its port and with its saved sessions.
# Demo defaults apply only where neither the environment nor .env sets a value.
set -euo pipefail
cd "$(dirname "$0")/.."

in_dotenv() { [ -f .env ] && grep -q "^$1=" .env; }
default() { if [ -z "${!1:-}" ] && ! in_dotenv "$1"; then export "$1=$2"; fi; }

default DJANGO_DEBUG true
default WAHA_API_KEY demo-simulator-key-change-me
# One WAHA Core per tenant (the free tier serves one number per server), one WAHA Plus shared by
# both, and an Evolution API nobody is assigned to (assign it on a tenant's WhatsApp Setup page).
default WHATSAPP_ENDPOINTS '[{"name": "Acme Core", "apiUrl": "http://localhost:3001", "apiKey": "${WAHA_API_KEY}"}, {"name": "Globex Core", "apiUrl": "http://localhost:3002", "apiKey": "${WAHA_API_KEY}"}, {"name": "Shared Plus", "apiUrl": "http://localhost:3000", "apiKey": "${WAHA_API_KEY}"}, {"name": "Evolution", "apiUrl": "http://localhost:3003", "apiKey": "${WAHA_API_KEY}", "provider": "evolution"}]'
default WHATSAPP_WEBHOOK_BASE_URL http://localhost:8000
# The simulators behind those endpoints: LABEL=FLAVOR:PORT (state in .simulator/LABEL.json).
default DEMO_SIMULATORS "shared=waha-plus:3000 acme=waha-core:3001 globex=waha-core:3002 evolution=evolution:3003"
export DEMO_SIMULATORS

if [ "${1:-}" = simulator ]; then
    label="${2:?usage: $0 simulator LABEL (one of: $DEMO_SIMULATORS)}"
    for spec in $DEMO_SIMULATORS; do
        if [ "${spec%%=*}" = "$label" ]; then
            rest="${spec#*=}"
            exec .venv/bin/python manage.py run_gateway_simulator --flavor "${rest%%:*}" \
                --port "${rest##*:}" --state-file ".simulator/$label.json"
        fi
    done
    echo "No demo simulator called '$label' (have: $DEMO_SIMULATORS)" >&2
    exit 2
fi

# web, worker and scheduler add their counters up in one directory (prometheus-client's
# multiprocess mode); a fresh one per run, since old files would be counted again.
if [ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  PROMETHEUS_MULTIPROC_DIR="$(mktemp -d -t booqing-metrics-XXXXXX)"
  export PROMETHEUS_MULTIPROC_DIR
fi

.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py seed_demo
echo
echo "Starting web (http://localhost:8000), worker, scheduler and the gateway simulators"
echo "($DEMO_SIMULATORS). Press Ctrl-C to stop them all."
echo "Stopping one simulator (kill its pid, printed below) leaves everything else running."
# Settings read .env themselves (environment first); honcho must not re-export it over ours.
exec .venv/bin/honcho start -e /dev/null -f Procfile
