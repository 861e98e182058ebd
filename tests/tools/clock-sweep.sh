#!/usr/bin/env bash
# Runs the integration tests with the wall clock (and so every test's manual clock, which starts
# at the real "now") started at chosen instants, through libfaketime (Debian's `faketime`).
# Not part of CI: it answers "does any test depend on the hour or day it runs at?".
# Chromium keeps the real clock (it signs nothing; under LD_PRELOAD it slows to time-outs), and
# the Terraform test is left out: terraform is a Go binary, whose clock libfaketime cannot move,
# so its SigV4 signatures would fall outside the server's 15 minutes.
#   tests/tools/clock-sweep.sh ["2026-12-09 05:30:00" …]   (instants in UTC)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v faketime >/dev/null || { echo "apt-get install faketime" >&2; exit 1; }
bin=$(cargo test --no-run --test api --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="api" and m.get("executable"): print(m["executable"])')
wrap=$(mktemp); trap 'rm -f "$wrap"' EXIT
printf '#!/bin/sh\nexec env -u LD_PRELOAD -u FAKETIME %s "$@"\n' "${KLAXON_CHROMIUM:-/usr/bin/chromium}" >"$wrap"
chmod +x "$wrap"
if [ $# -eq 0 ]; then
  # 00:30 and 13:00 in New York, and 23:30 New York time on the eves of both DST changes of 2027.
  set -- "2026-12-09 05:30:00" "2026-12-09 18:00:00" "2027-03-14 04:30:00" "2027-11-07 03:30:00"
fi
status=0
for at in "$@"; do
  echo "== wall clock started at $at UTC ($(TZ=America/New_York date -d "$at UTC" '+%F %H:%M %Z') in New York)"
  if ! KLAXON_CHROMIUM="$wrap" FAKETIME_DONT_FAKE_MONOTONIC=1 TZ=UTC faketime -f "@$at" \
      "$bin" --skip terraform 2>&1 | grep -E '^test .* FAILED$|^test result:|panicked'; then
    status=1
  fi
done
exit $status
