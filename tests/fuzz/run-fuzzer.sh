#!/bin/sh
# Run one fuzzer for a bounded time on a scratch copy of its seed corpus,
# so the committed corpus is never rewritten by a run.
#
#   run-fuzzer.sh FUZZER SEED-CORPUS SECONDS [libFuzzer options...]
#
# Exit status is the fuzzer's: non-zero on a crash, leak, timeout or
# sanitizer report; the reproducer is kept in tests/fuzz/crashes/ of the
# build directory's working tree (FUZZ_ARTIFACTS overrides).
set -eu

fuzzer=$1
seeds=$2
seconds=$3
shift 3

work=$(mktemp -d "${TMPDIR:-/tmp}/hetmem-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/" 2>/dev/null || true
artifacts=${FUZZ_ARTIFACTS:-$(dirname "$seeds")/../crashes}
mkdir -p "$artifacts"

ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS

"$fuzzer" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=4096 \
	-print_final_stats=1 -artifact_prefix="$artifacts/$(basename "$fuzzer")-" \
	"$@" "$work/corpus"
