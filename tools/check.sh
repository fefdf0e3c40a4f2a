#!/usr/bin/env bash
# tools/check.sh — `make check`: the sanitizer and fuzzing pass, after `make test` (CI runs both).
#
#   0. headers: every header of src/ compiles on its own (target pp_header_check);
#   1. asan: every unit test under AddressSanitizer + UndefinedBehaviorSanitizer. Built with
#      clang in the fuzz preset (build-fuzz: -fsanitize=fuzzer-no-link,address,undefined), so
#      that the same build also gives the fuzz targets: one sanitizer build instead of two;
#   2. tsan: the unit tests of the modules that run threads (journal writer, alert workers,
#      the HA election thread against a real etcd,
#      HTTP server, route executor, recovery, daemon state file and control socket, agent)
#      under ThreadSanitizer (preset tsan, gcc);
#   3. fuzz: every libFuzzer target (from build-fuzz) for FUZZ_SECONDS (default 60) each,
#      starting from its corpus in fuzz/corpus/<target>/; new inputs stay in
#      build-fuzz/corpus/, never in the repository. A crash, leak or timeout fails the check
#      and leaves the reproducer in build-fuzz/artifacts/<target>/.
# Prints the time each step took and the executions per fuzz target. Needs nothing outside the
# repository (the tests run under tools/isolated).
#
#   FUZZ_SECONDS=600 tools/check.sh      longer fuzzing
#   CHECK_STEPS="asan fuzz" tools/check.sh   only some steps
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-60}
steps=${CHECK_STEPS:-headers asan tsan fuzz}

tools/deps.sh check

step_start=0
begin() { step_start=$(date +%s); echo "== check: $1"; }
end() { echo "== check: $1 done in $(($(date +%s) - step_start)) s"; }

if [[ " $steps " == *" headers "* ]]; then
  begin "every header compiles on its own"
  cmake --preset dev >/dev/null
  cmake --build --preset dev -j "$jobs" --target pp_header_check
  end "headers"
fi

if [[ " $steps " == *" asan "* ]]; then
  begin "unit tests under ASan + UBSan (clang, build-fuzz)"
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$jobs"
  (cd build-fuzz &&
    ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$repo/tools/isolated" ctest -L unit -j "$jobs" --output-on-failure --no-tests=error)
  end "asan"
fi

if [[ " $steps " == *" tsan "* ]]; then
  begin "threaded unit tests under TSan"
  cmake --preset tsan >/dev/null
  # ha_etcd_test: the HA election thread and the fence against a real etcd on loopback.
  threaded=(journal_test alert_test api_test httpserver_test aws_test runtime_test route_test recovery_test
            daemon_test agent_test ha_etcd_test)
  cmake --build --preset tsan -j "$jobs" --target "${threaded[@]}"
  for t in "${threaded[@]}"; do
    bin=$(find build-tsan/tests -type f -name "$t" -perm -u+x | head -1)
    [[ -n $bin ]] || { echo "check: $t not built" >&2; exit 1; }
    echo "-- $t"
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4" \
      "$repo/tools/isolated" "$bin" --gtest_brief=1
  done
  end "tsan"
fi

if [[ " $steps " == *" fuzz "* ]]; then
  begin "libFuzzer, ${fuzz_seconds} s per target"
  cmake --preset fuzz >/dev/null
  targets=()
  for src in fuzz/*_fuzz.cc; do
    targets+=("$(basename "$src" .cc)")
  done
  cmake --build --preset fuzz -j "$jobs" --target "${targets[@]}"
  for t in "${targets[@]}"; do
    seeds="fuzz/corpus/${t%_fuzz}"
    [[ -d $seeds ]] || { echo "check: $t has no corpus $seeds" >&2; exit 1; }
    work="build-fuzz/corpus/$t"
    artifacts="build-fuzz/artifacts/$t/"
    mkdir -p "$work" "$artifacts"
    log="build-fuzz/$t.log"
    if ! "build-fuzz/fuzz/$t" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts" "$work" "$seeds" >"$log" 2>&1; then
      tail -50 "$log"
      echo "check: $t found a problem; reproducer in $artifacts" >&2
      exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
    echo "-- $t: $runs executions in ${fuzz_seconds} s, coverage $cov, corpus $(ls "$work" | wc -l)"
  done
  end "fuzz"
fi
