#!/usr/bin/env bash
# Data-plane benchmark of issue 6: HALB against HAProxy and against nginx directly, on loopback, interleaved.
# The work is done by bench/harness.py (its docstring describes the scenarios); this wrapper only runs it.
#
#   bench/run.sh                      full run: 3 rounds of 5 s per measurement, table to docs/performance.md
#   bench/run.sh --smoke              CI: one round of about 2 s per scenario through HALB only; exits non-zero
#                                     if any scenario had an error through HALB (no timing thresholds)
#   bench/run.sh --halb PATH ...      a given halb binary (default: the release build, built when missing)
#   bench/run.sh --help               every option
#
# Needs haproxy, nginx, wrk, iperf3, openssl and python3 (apt-get install haproxy nginx wrk iperf3); root for the
# 10 000 idle connections of S5 (open-file limit).
set -euo pipefail
exec python3 "$(dirname "$0")/harness.py" "$@"
