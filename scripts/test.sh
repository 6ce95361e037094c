#!/usr/bin/env bash
# The project's test command (see README): installs what is missing on a
# fresh Debian machine, then runs the fast checks and every test, including
# the root-only integration and end-to-end tests in network namespaces.
# Prints "N passed, N failed" as its last line; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

bash scripts/setup.sh --for-tests || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== deno fmt --check / deno lint / deno check"
deno fmt --check || status=1
deno lint || status=1
deno task check || status=1

# Namespaces have no route out: npm packages must be cached beforehand.
deno install --quiet || status=1

echo "== deno task test"
deno task test 2>&1 | tee "$log"
test_status=${PIPESTATUS[0]}
[ "$test_status" -eq 0 ] || status=1

# Deno's closing line: "ok | 12 passed (3 steps) | 0 failed (1s)" or "FAILED | ...".
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1)
passed=$(echo "$summary" | sed -nE 's/.*\| ([0-9]+) passed.*/\1/p')
failed=$(echo "$summary" | sed -nE 's/.*\| ([0-9]+) failed.*/\1/p')
passed=${passed:-0}
failed=${failed:-0}

# The quick benchmark: fails only when the agent leaves a wrong kernel state
# (timings never fail it). Counted as one more test.
echo "== deno task bench --quick"
if deno task bench --quick; then
  passed=$((passed + 1))
else
  echo "bench --quick: the agent left a wrong kernel state, or the benchmark could not run"
  failed=$((failed + 1))
  status=1
fi

# The quick fabric benchmark (10 spokes, a hub, one spoke joining and
# leaving): fails only when a node's final flood list is wrong. One more test.
echo "== deno task fabric --quick"
if deno task fabric --quick; then
  passed=$((passed + 1))
else
  echo "fabric --quick: a node's final kernel state was wrong, or the benchmark could not run"
  failed=$((failed + 1))
  status=1
fi

# The short fault soak: a seed whose 10 rounds draw every kind of fault
# (soak/README.md). Counted as one more test.
soak_seed=${SOAK_SEED:-13}
soak_rounds=${SOAK_ROUNDS:-10}
echo "== deno task soak --seed ${soak_seed} --rounds ${soak_rounds}"
if deno task soak --seed "$soak_seed" --rounds "$soak_rounds"; then
  passed=$((passed + 1))
else
  echo "soak: FAIL (replay with: deno task soak --seed ${soak_seed} --rounds ${soak_rounds})"
  failed=$((failed + 1))
  status=1
fi

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The checks or the runner itself failed before any test could fail.
  failed=1
fi
echo "${passed} passed, ${failed} failed"
exit "$status"
