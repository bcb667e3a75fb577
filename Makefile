# SPDX-License-Identifier: MIT
#
# Top-level driver for the Meson build. Meson does the compiling; this file
# owns the configuration (Kconfig through Debian's python3-kconfiglib), the
# build directories and the two commands README gives: `make demo` and
# `make check`.

PYTHON      ?= /usr/bin/python3
KCONFIG_CONFIG ?= .config
export KCONFIG_CONFIG

BUILD       ?= build
BUILD_ASAN  ?= build-asan
BUILD_TSAN  ?= build-tsan
BUILD_MIN   ?= build-min
BUILD_FUZZ  ?= build-fuzz
FUZZ_SECONDS ?= 300
MESON_FLAGS ?=

Q := $(if $(V),,@)

.PHONY: all build build-min deps defconfig menuconfig olddefconfig savedefconfig \
	check check-fast demo bench fuzz build-fuzz clean distclean help

all: build

help:
	@echo "make demo          install dependencies, build, run the demo"
	@echo "make check         install dependencies, build, run every test"
	@echo "make bench         install dependencies, build, run the benchmarks (BENCH_ARGS=...)"
	@echo "make               build ($(BUILD)/)"
	@echo "make defconfig     configure from configs/defconfig"
	@echo "make menuconfig    edit the configuration"
	@echo "make olddefconfig  update .config, new options at their defaults"
	@echo "make check-fast    run the tests of the plain build only"
	@echo "make fuzz          run each fuzzer for FUZZ_SECONDS (default 300)"

deps:
	$(Q)sh tools/install-deps.sh

# A fresh checkout has no .config: start from the default one.
$(KCONFIG_CONFIG):
	$(Q)$(PYTHON) -m defconfig --kconfig Kconfig configs/defconfig

defconfig:
	$(Q)$(PYTHON) -m defconfig --kconfig Kconfig configs/defconfig

menuconfig:
	$(Q)$(PYTHON) -m menuconfig Kconfig

olddefconfig:
	$(Q)$(PYTHON) -m olddefconfig Kconfig

savedefconfig:
	$(Q)$(PYTHON) -m savedefconfig --kconfig Kconfig --out defconfig

cfg = $(shell grep -q '^CONFIG_$(1)=y' $(KCONFIG_CONFIG) 2>/dev/null && echo y)

# setup-builddir DIR EXTRA-MESON-ARGS
define setup-builddir
	$(Q)if [ ! -f $(1)/build.ninja ]; then \
		meson setup $(1) -Dkconfig=$(abspath $(KCONFIG_CONFIG)) $(2) $(MESON_FLAGS); \
	fi
endef

build: $(KCONFIG_CONFIG)
	$(call setup-builddir,$(BUILD),--buildtype=debugoptimized)
	$(Q)ninja -C $(BUILD)

build-asan: $(KCONFIG_CONFIG)
	$(call setup-builddir,$(BUILD_ASAN),--buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false)
	$(Q)ninja -C $(BUILD_ASAN)

# clang's ThreadSanitizer: GCC 12's runtime (the older clock algorithm)
# fails its own CHECK in tsan_clock.cpp under the HMM stress, about one
# run in 150, and then crashes or hangs the test.
build-tsan: $(KCONFIG_CONFIG)
	$(Q)if [ ! -f $(BUILD_TSAN)/build.ninja ]; then \
		CC=clang meson setup $(BUILD_TSAN) -Dkconfig=$(abspath $(KCONFIG_CONFIG)) \
			--buildtype=debug -Db_sanitize=thread -Db_lundef=false $(MESON_FLAGS); \
	fi
	$(Q)ninja -C $(BUILD_TSAN)

# Every optional subsystem off: what is compiled out must not break the rest,
# and its tests must report as skipped.
build-min:
	$(Q)mkdir -p $(BUILD_MIN)
	$(Q)KCONFIG_CONFIG=$(BUILD_MIN)/kconfig $(PYTHON) -m allnoconfig Kconfig >/dev/null
	$(Q)if [ ! -f $(BUILD_MIN)/build.ninja ]; then \
		meson setup $(BUILD_MIN) -Dkconfig=$(abspath $(BUILD_MIN))/kconfig $(MESON_FLAGS); \
	fi
	$(Q)ninja -C $(BUILD_MIN)

# The libFuzzer fuzzers (tests/fuzz/): clang, ASan + UBSan, coverage
# instrumentation everywhere. Only the fuzzers are built here; the rest of
# the tree is covered by the other builds.
FUZZERS = fuzz-machine-config fuzz-pci-config fuzz-nvme fuzz-gpu

build-fuzz: $(KCONFIG_CONFIG)
	$(Q)if [ ! -f $(BUILD_FUZZ)/build.ninja ]; then \
		CC=clang meson setup $(BUILD_FUZZ) -Dkconfig=$(abspath $(KCONFIG_CONFIG)) \
			--buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
			-Dfuzz=true $(MESON_FLAGS); \
	fi
	$(Q)ninja -C $(BUILD_FUZZ) $(addprefix tests/fuzz/,$(FUZZERS))

# Each fuzzer for FUZZ_SECONDS on a scratch copy of its seed corpus; the
# closing statistics give the executions.
fuzz: deps build-fuzz
	$(Q)for f in $(FUZZERS); do \
		echo "=== $$f ($(FUZZ_SECONDS) s)"; \
		log=$(BUILD_FUZZ)/$$f.log; \
		sh tests/fuzz/run-fuzzer.sh $(BUILD_FUZZ)/tests/fuzz/$$f \
			tests/fuzz/corpus/$${f#fuzz-} $(FUZZ_SECONDS) >$$log 2>&1; \
		rc=$$?; \
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' $$log; \
		[ $$rc -eq 0 ] || { tail -n 60 $$log; exit 1; }; \
	done

CHECK_BUILDS = build build-min build-fuzz $(if $(call cfg,SANITIZERS),build-asan) $(if $(call cfg,TSAN),build-tsan)

check: deps $(KCONFIG_CONFIG)
	$(Q)$(MAKE) --no-print-directory $(CHECK_BUILDS)
	$(Q)BUILD_MIN=$(BUILD_MIN) BUILD_FUZZ=$(BUILD_FUZZ) sh scripts/run-tests.sh $(KCONFIG_CONFIG) $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN)

check-fast: build
	$(Q)sh scripts/run-tests.sh --plain $(KCONFIG_CONFIG) $(BUILD)

demo: deps build
	$(Q)$(BUILD)/tools/hetmem/hetmem demo

# One table of every figure against its reference; a progress bar when
# stderr is a terminal. BENCH_ARGS="--plot DIR --json FILE", or benchmark
# names, are passed on (see hetmem(1), Documentation/performance.md).
BENCH_ARGS ?=
bench: deps build
	$(Q)$(BUILD)/tools/hetmem/hetmem bench $(BENCH_ARGS)

clean:
	$(Q)rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) $(BUILD_MIN) $(BUILD_FUZZ)

distclean: clean
	$(Q)rm -f $(KCONFIG_CONFIG) $(KCONFIG_CONFIG).old
