#!/bin/sh
# Run the test suite in every build directory make check prepared and
# print one closing line: "N passed, N failed, N skipped".
#
#   run-tests.sh [--plain] CONFIG BUILD [BUILD-ASAN BUILD-TSAN]
#
# BUILD_MIN and BUILD_FUZZ in the environment name the minimal and the
# fuzz build directories, run when they exist.
set -u

plain=
if [ "${1:-}" = "--plain" ]; then
	plain=1
	shift
fi
config=$1
build=$2
build_asan=${3:-}
build_tsan=${4:-}

enabled() {
	grep -q "^CONFIG_$1=y" "$config"
}

logs=""
status=0

# run DIR LOGBASE [meson-test args...]
run() {
	dir=$1
	base=$2
	shift 2
	echo "=== $base ($dir) ==="
	rm -f "$dir/meson-logs/$base".json "$dir/meson-logs/$base"-*.json
	meson test -C "$dir" --num-processes 2 --print-errorlogs --logbase "$base" "$@" || status=1
	# With --wrapper, meson appends the wrapper's name to the log's base name.
	for log in "$dir/meson-logs/$base".json "$dir/meson-logs/$base"-*.json; do
		[ -f "$log" ] && logs="$logs $log"
	done
}

run "$build" plain
if [ -z "$plain" ]; then
	if [ -n "${BUILD_MIN:-}" ] && [ -d "$BUILD_MIN" ]; then
		run "$BUILD_MIN" minimal
	fi
	if enabled VALGRIND && command -v valgrind >/dev/null; then
		run "$build" valgrind --suite valgrind --timeout-multiplier 4 \
			--wrapper "valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
	fi
	# The interpose suite preloads the interposer into stock binaries (fio,
	# nvme-cli, lspci), which cannot carry a sanitizer runtime: it runs in
	# the plain build only (it is in neither the valgrind nor the
	# concurrency suite).
	if enabled SANITIZERS && [ -n "$build_asan" ]; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			run "$build_asan" asan --no-suite slow --no-suite qemu --no-suite interpose \
			--timeout-multiplier 3
	fi
	# Built (fuzzers only) by make check; --no-rebuild keeps meson from
	# building the rest of the tree with clang.
	if [ -n "${BUILD_FUZZ:-}" ] && [ -d "$BUILD_FUZZ" ]; then
		run "$BUILD_FUZZ" fuzz --suite fuzz --no-rebuild
	fi
	if enabled TSAN && [ -n "$build_tsan" ]; then
		TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
			run "$build_tsan" tsan --suite concurrency --timeout-multiplier 4
	fi
fi

# shellcheck disable=SC2086
/usr/bin/python3 - $logs <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
failures = []
for path in sys.argv[1:]:
    try:
        f = open(path)
    except OSError:
        counts["failed"] += 1
        print(f"missing test log {path}")
        continue
    for line in f:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            counts["passed"] += 1
        elif r == "SKIP":
            counts["skipped"] += 1
        else:
            counts["failed"] += 1
            failures.append((path, r, json.loads(line)))
# The failures last, just above the closing line, where a truncated log
# still shows them: each one's final output, then the list.
for path, r, t in failures:
    tail = ((t.get("stdout") or "") + (t.get("stderr") or "")).rstrip().splitlines()[-12:]
    print(f"--- {t['name']} ({r}, {path}):")
    for l in tail:
        print(f"    {l[:160]}")
for path, r, t in failures:
    print(f"FAILED {t['name']}: {r} [{path.rsplit('/', 1)[-1]}]")
print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
sys.exit(1 if counts["failed"] else 0)
PY
py=$?
[ $py -ne 0 ] && status=1
exit $status
