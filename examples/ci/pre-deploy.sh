#!/usr/bin/env bash
# Deployment gate: audit a staged configuration root before it ships.
#
# Usage: pre-deploy.sh STAGED_ROOT [REPORT_DIR]
#
#   STAGED_ROOT  the tree about to be deployed, laid out like / (etc/httpd/...,
#                etc/sysctl.d/..., optionally proc/sys/... captured from the target)
#   REPORT_DIR   also keep the JSON report there as <hostname>.json (0600), for
#                `tcpaudit fleet REPORT_DIR`
#
# Environment: TCPAUDIT_FAIL_ON (default high), TCPAUDIT (the tcpaudit program).
#
# Exit status (tcpaudit's own):
#   0  no finding at or above TCPAUDIT_FAIL_ON: the deployment may go on
#   1  at least one such finding: stop, the report above says what and how to fix it
#   2  the configuration could not be read or parsed: stop, since a configuration
#      tcpaudit cannot read is not known to be safe
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 STAGED_ROOT [REPORT_DIR]" >&2
  exit 2
fi
root=$1
report_dir=${2:-}
fail_on=${TCPAUDIT_FAIL_ON:-high}
tcpaudit=${TCPAUDIT:-tcpaudit}

if ! command -v "$tcpaudit" >/dev/null; then
  echo "pre-deploy: $tcpaudit not found (pip install tcpaudit)" >&2
  exit 2
fi

# The gate itself; its table goes to the deployment log.
status=0
"$tcpaudit" audit --root "$root" --fail-on "$fail_on" || status=$?

if [[ $status -le 1 && -n $report_dir ]]; then
  host=$(cat "$root/etc/hostname" 2>/dev/null || basename "$root")
  mkdir -p "$report_dir"
  "$tcpaudit" audit --root "$root" --format json --fail-on never \
    --output "$report_dir/$host.json"
fi

case $status in
  0) echo "pre-deploy: no finding at or above $fail_on in $root: deploying" >&2 ;;
  1) echo "pre-deploy: findings at or above $fail_on in $root: deployment stopped" >&2 ;;
  *) echo "pre-deploy: tcpaudit could not audit $root (exit $status): deployment stopped" >&2
     status=2 ;;
esac
exit "$status"
