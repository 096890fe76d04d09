#!/usr/bin/env bash
# The full-stack check, where Docker runs: starts docker-compose.otel.yml, runs the demo against it over OTLP,
# then checks Prometheus (every dashboard and alert expression, `job`), Jaeger (/api/services, traces by tag)
# and Grafana (the dashboard API, its Prometheus datasource). See otel/check-stack.ts.
#
#   otel/check-stack.sh          check, then stop the stack and delete its volumes
#   otel/check-stack.sh --keep   check, and leave the stack running to look at
set -euo pipefail
cd "$(dirname "$0")/.."

keep=false
[[ "${1:-}" == "--keep" ]] && keep=true

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -f docker-compose.otel.yml "$@"
  else
    docker-compose -f docker-compose.otel.yml "$@"
  fi
}

compose up -d
if [[ "$keep" == false ]]; then
  trap 'compose down -v' EXIT
fi
npx tsx otel/check-stack.ts
