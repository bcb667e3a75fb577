#!/bin/sh
# The kernel's HMM selftest, unmodified, against hetmem's /dev/hmm_dmirrorN.
#
#   hmm-tests.sh HETMEM TEST_SHIM
#
# Extracts tools/testing/selftests/vm/hmm-tests.c and what it includes
# from Debian's linux-source-6.1 tarball into a temporary directory,
# compiles it as the kernel's Makefile does, runs it under `HETMEM run --`
# (or, while that command does not exist, with the test-only LD_PRELOAD
# shim TEST_SHIM; HMM_TESTS_RUNNER=hetmem|shim chooses), and reports each
# test. It fails when a test fails that is not an expected failure below,
# or skips without being an expected skip. Documentation/hmm-tests.md
# explains every entry of the two lists.
set -u

hetmem=$(realpath "$1")
shim=$(realpath "$2")
tarball=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
top=linux-source-6.1

skip() {
	echo "hmm-tests: skipped: $*"
	exit 77
}

# expect NAME: "skip|reason", "fail|reason" or nothing.
expect() {
	case $1 in
	hmm.hmm_device_coherent.* | hmm2.hmm2_device_coherent.*)
		echo "skip|no device-coherent memory: /dev/hmm_dmirror2 and 3 do not exist, as on a kernel whose test_hmm has no spm_addr_dev0/1" ;;
	hmm.hmm_device_private.anon_write_hugetlbfs)
		echo "skip|no hugetlbfs page could be allocated (vm.nr_hugepages is 0)" ;;
	hmm.hmm_device_private.hmm_gup_test)
		echo "skip|needs the kernel's gup_test module (/sys/kernel/debug/gup_test) to pin device pages" ;;
	hmm.hmm_device_private.migrate_file_private)
		echo "fail|userfaultfd cannot register a private file mapping for missing-page faults: hetmem refuses the migration (-ENOENT), data intact" ;;
	hmm.hmm_device_private.compound)
		echo "fail|with hugetlbfs pages, expects PMD/PUD map orders, which /proc/self/pagemap does not report (passes without checking when no huge page can be allocated)" ;;
	esac
}

[ -r "$tarball" ] || skip "$tarball is missing (Debian package linux-source-6.1)"
command -v gcc >/dev/null || skip "no gcc"
if [ "$(id -u)" != 0 ] && [ ! -w /dev/userfaultfd ] &&
	[ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" != 1 ]; then
	skip "userfaultfd is not allowed here: run as root, or give access to /dev/userfaultfd"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# What hmm-tests.c includes from the tree; the uapi headers (<linux/...>)
# come from the system's linux-libc-dev.
selftests=$top/tools/testing/selftests
nice tar -xJf "$tarball" -C "$work" \
	"$selftests/vm/hmm-tests.c" \
	"$selftests/kselftest_harness.h" \
	"$selftests/kselftest.h" \
	"$top/lib/test_hmm_uapi.h" \
	"$top/mm/gup_test.h" || { echo "hmm-tests: cannot extract from $tarball"; exit 1; }

# As tools/testing/selftests/vm/Makefile: -I the tree's top, -lrt -lpthread.
if ! nice gcc -Wall -I "$work/$top" -o "$work/hmm-tests" "$work/$selftests/vm/hmm-tests.c" \
	-lrt -lpthread >"$work/cc.log" 2>&1; then
	cat "$work/cc.log"
	echo "hmm-tests: does not compile"
	exit 1
fi

runner=${HMM_TESTS_RUNNER:-}
if [ -z "$runner" ]; then
	if "$hetmem" run -- true >/dev/null 2>&1; then
		runner=hetmem
	else
		runner=shim
	fi
fi
case $runner in
hetmem) set -- "$hetmem" run -- "$work/hmm-tests" ;;
shim) set -- env LD_PRELOAD="$shim${LD_PRELOAD:+:$LD_PRELOAD}" "$work/hmm-tests" ;;
*) echo "hmm-tests: HMM_TESTS_RUNNER is hetmem or shim"; exit 1 ;;
esac
echo "hmm-tests: running under $runner: $*"

# The 6.1 harness runs a test whose fixture teardown asserts again and
# again after a failed assertion, until its 30 s timeout: the repeats
# are counted, not kept.
(cd "$work" && "$@" 2>&1) | awk '
	$0 == prev { n++; next }
	{ if (n) print "#   (" n " more times)"; print; prev = $0; n = 0 }
	END { if (n) print "#   (" n " more times)" }' >"$work/log"
cat "$work/log"

# One line per test: NAME RESULT, RESULT pass, fail or skip. A test that
# printed SKIP is a skip whatever its ok line says: 6.1's harness reports
# a skip in the fixture's setup (the device-coherent variants) as ok.
awk '
	/^#  RUN / { name = $3; skipped = 0; next }
	/^#  +SKIP / { skipped = 1; next }
	/^ok / { print name, skipped ? "skip" : "pass"; next }
	/^not ok / { print name, "fail"; next }
' "$work/log" >"$work/results"

[ -s "$work/results" ] || { echo "hmm-tests: no result"; exit 1; }

pass=0 fail=0 skipped=0 xfail=0 bad=0
echo
printf '%-50s %-6s %s\n' test result note
while read -r name result; do
	e=$(expect "$name")
	kind=${e%%|*}
	why=${e#*|}
	note=
	case $result:$kind in
	pass:fail) pass=$((pass + 1)); note="passes (expected to fail: $why)" ;;
	pass:*) pass=$((pass + 1)) ;;
	skip:skip | skip:fail) skipped=$((skipped + 1)); note=$why ;;
	skip:*) skipped=$((skipped + 1)); bad=$((bad + 1)); note="UNEXPECTED SKIP" ;;
	fail:fail) xfail=$((xfail + 1)); result=xfail; note=$why ;;
	fail:*) fail=$((fail + 1)); bad=$((bad + 1)); note="UNEXPECTED FAILURE" ;;
	esac
	printf '%-50s %-6s %s\n' "$name" "$result" "$note"
done <"$work/results"
echo
echo "hmm-tests: $pass passed, $fail failed, $skipped skipped, $xfail expected failures"
[ $bad -eq 0 ]
