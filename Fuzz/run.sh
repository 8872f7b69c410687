#!/usr/bin/env bash
# Builds the libFuzzer targets (if needed) and runs each for a bounded time; see README.md.
#
#   Fuzz/run.sh [--seconds N] [--skip-build] [target ...]
#
# For each target: every input under Fuzz/Regressions/<target>/ is run once, then the fuzzer runs for N seconds
# (default 60) on a temporary copy of Fuzz/Corpus/<target>/ (the committed corpus does not grow). Exits non-zero if
# any target crashes, leaks, runs out of memory or times out; prints per target the executions, coverage and corpus
# size of libFuzzer's last stat line. No network; one fuzzing process at a time (one core). Set FUZZ_ARTIFACTS to a
# folder to keep crashing inputs there.
set -euo pipefail
fuzz="$(cd "$(dirname "$0")" && pwd)"
all_targets=(fuzz-site-yaml fuzz-site-json fuzz-vrrp fuzz-client-hello fuzz-server-hello fuzz-proxy-header)

seconds=60
skip_build=false
targets=()
while (($# > 0)); do
    case "$1" in
    --seconds)
        seconds="${2:?--seconds needs a number}"
        shift 2
        ;;
    --seconds=*)
        seconds="${1#--seconds=}"
        shift
        ;;
    --skip-build)
        skip_build=true
        shift
        ;;
    -h | --help)
        sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "run.sh: unknown option $1" >&2
        exit 2
        ;;
    *)
        targets+=("$1")
        shift
        ;;
    esac
done
[[ "$seconds" =~ ^[0-9]+$ ]] && ((seconds > 0)) || {
    echo "run.sh: --seconds takes a positive whole number" >&2
    exit 2
}
((${#targets[@]} > 0)) || targets=("${all_targets[@]}")
for target in "${targets[@]}"; do
    [[ " ${all_targets[*]} " == *" $target "* ]] || {
        echo "run.sh: unknown target $target (targets: ${all_targets[*]})" >&2
        exit 2
    }
done

# SwiftPM's own sanitizer options instrument the C targets (libyaml in Yams, CHALBLinux, BoringSSL), add
# -parse-as-library and link libFuzzer's main (with only `-Xswiftc -sanitize=fuzzer,address -Xswiftc
# -parse-as-library` the link fails on Linux: SwiftPM renames an executable's main to <module>_main, which a libFuzzer
# target does not define). But they reach swiftc as `-sanitize=fuzzer -sanitize=address`, of which swiftc 6.3.1 keeps
# the last: ASan without coverage. `-Xswiftc -sanitize=fuzzer,address` comes after them and gives the Swift code its
# coverage.
build=(swift build --package-path "$fuzz" -c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address)
if ! $skip_build; then
    echo "run.sh: ${build[*]}"
    started=$SECONDS
    "${build[@]}" 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting|Linking|Applying)' || true
    ((PIPESTATUS[0] == 0)) || {
        echo "run.sh: the build failed" >&2
        exit 1
    }
    echo "run.sh: built in $((SECONDS - started)) s"
fi
bin="$("${build[@]}" --show-bin-path)"
# A Swift module built without coverage would still fuzz, blindly; refuse that.
sections="$(readelf -S "$bin/HALBCore.build/JSONReader.swift.o" 2>&1 || true)"
if [[ "$sections" != *__sancov_cntrs* ]]; then
    echo "run.sh: the Swift code was built without coverage instrumentation (see README.md, Build)" >&2
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
# Swift's own crash backtracer reads the crashed thread's stack, which ASan reports as a stack-buffer-underflow in
# CrashHandlerLinux.cpp, hiding the real report; libFuzzer prints the stack trace instead.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
failed=()
summary=()
for target in "${targets[@]}"; do
    echo "=== $target: regressions, then ${seconds} s of fuzzing, from $(date -u '+%Y-%m-%d %H:%M') UTC"
    regressions=("$fuzz/Regressions/$target"/*)
    if [[ -e "${regressions[0]}" ]]; then
        if ! "$bin/$target" -timeout=10 -rss_limit_mb=2048 "${regressions[@]}" >"$work/$target.regressions.log" 2>&1; then
            tail -n 60 "$work/$target.regressions.log"
            echo "run.sh: $target fails on an input in Fuzz/Regressions/$target/" >&2
            failed+=("$target (regression)")
            summary+=("$target: a regression input fails")
            continue
        fi
        echo "regressions: ${#regressions[@]} inputs pass"
    fi
    corpus="$work/$target.corpus"
    # FUZZ_ARTIFACTS keeps crashing inputs after the run (by default they go with the temporary directory, once
    # printed in hex below).
    artifacts="${FUZZ_ARTIFACTS:+$FUZZ_ARTIFACTS/$target}"
    artifacts="${artifacts:-$work/$target.artifacts}"
    mkdir -p "$corpus" "$artifacts"
    cp -R "$fuzz/Corpus/$target/." "$corpus/"
    log="$work/$target.log"
    status=0
    # `timeout` only guards against a fuzzer that does not stop by itself.
    timeout --kill-after=30 $((seconds + 300)) "$bin/$target" \
        -max_len=65536 -rss_limit_mb=2048 -timeout=10 -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || status=$?
    stat="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
    runs="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)"
    speed="$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -n 1)"
    cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$stat")"
    ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$stat")"
    corp="$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$stat")"
    line="$target: ${runs:-?} executions (${speed:-?} exec/s), cov: ${cov:-?} ft: ${ft:-?}, corpus ${corp:-?}"
    echo "last stat line: $stat"
    if ((status != 0)); then
        grep -E -A 40 '^==[0-9]+==|^Fatal error|SUMMARY|Test unit written|ERROR: libFuzzer' "$log" | head -n 120 || tail -n 60 "$log"
        for artifact in "$artifacts"/*; do
            [[ -e "$artifact" ]] || continue
            echo "run.sh: crashing input $(basename "$artifact") ($(wc -c <"$artifact") bytes), hex:"
            od -An -tx1 -v "$artifact" | head -n 64
        done
        failed+=("$target")
        line+=", FAILED (exit $status)"
    fi
    echo "$line"
    summary+=("$line")
done

echo "=== summary (${seconds} s per target)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]} > 0)); then
    echo "run.sh: failed: ${failed[*]}" >&2
    exit 1
fi
