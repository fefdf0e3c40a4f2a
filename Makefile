# Thin wrapper around CMake presets (see CMakePresets.json). Every target installs what it
# needs first, so `make demo` and `make test` work on a fresh Debian 12 machine.
PRESET ?= dev
BUILD_DIR := build
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local

.PHONY: all deps configure build test unit check demo bench install clean

all: build

deps:
	@tools/deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

# ctest runs under tools/isolated: the directories beside the repository are hidden, so a test
# that reads outside the clone fails here as it would in a user's clone (repo.standalone).
test: build
	@cd $(BUILD_DIR) && ../tools/isolated ctest --output-on-failure -j $(JOBS) --no-tests=error

unit: build
	@cd $(BUILD_DIR) && ../tools/isolated ctest --output-on-failure -j $(JOBS) -L unit

# Sanitizers (ASan+UBSan on every unit test, TSan on the threaded ones) and every libFuzzer
# target for FUZZ_SECONDS each: tools/check.sh. CI runs it after `make test`.
check:
	@tools/check.sh

demo: build
	@tools/demo.sh

bench: build
	@tools/bench.sh

install: build
	@cmake --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	@rm -rf build build-release build-asan build-tsan build-fuzz
