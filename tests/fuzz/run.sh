#!/usr/bin/env bash
# Coverage-guided fuzzing of raftkv's parsers with cargo-fuzz (libFuzzer), on the stable toolchain.
#
#   tests/fuzz/run.sh SECONDS [TARGET...]
#
# Builds the targets, then runs every target (or those named) for SECONDS each, one after the other,
# and prints per target the executions, the coverage libFuzzer reached (cov: edges, ft: features)
# and the crashes. Exits 1 if any target crashed (a panic, a sanitizer report, a timeout or an
# out-of-memory), 2 on a usage or build error.
#
# Inputs: the committed seeds in corpus/<target>/ (read only) and the corpus grown by earlier runs in
# work/<target>/corpus/, where new inputs go. A crash is saved in artifacts/<target>/ and minimised
# next to it (minimized-from-*). Both work/ and artifacts/ are git-ignored.
#
# Environment:
#   FUZZ_SANITIZER  address (default) or none: `none` runs about twice as fast; changing it
#                   rebuilds everything
#   FUZZ_JOBS       build jobs (default 1: the machine has 2 cores)
#   FUZZ_MAX_LEN    largest input libFuzzer generates (default 4096)
#   FUZZ_TMIN_RUNS  attempts when minimising a crash (default 5000; 0 skips minimising)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). No nightly toolchain: RUSTC_BOOTSTRAP=1 lets the
# stable compiler take the -Z flags cargo-fuzz passes.
set -uo pipefail

usage() {
  echo "usage: $0 SECONDS [TARGET...]" >&2
  exit 2
}
[[ $# -ge 1 && $1 =~ ^[0-9]+$ && $1 -gt 0 ]] || usage
seconds=$1
shift

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$fuzz_dir/../.." && pwd)"
cd "$root" || exit 2

export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS="${FUZZ_JOBS:-1}"
sanitizer="${FUZZ_SANITIZER:-address}"
max_len="${FUZZ_MAX_LEN:-4096}"
tmin_runs="${FUZZ_TMIN_RUNS:-5000}"
fuzz=(cargo fuzz)
flags=(--fuzz-dir "$fuzz_dir" --sanitizer "$sanitizer")

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
  exit 2
fi

mapfile -t known < <("${fuzz[@]}" list --fuzz-dir "$fuzz_dir")
if [[ $# -eq 0 ]]; then
  targets=("${known[@]}")
else
  targets=("$@")
  for t in "${targets[@]}"; do
    if ! printf '%s\n' "${known[@]}" | grep -qx -- "$t"; then
      echo "unknown target $t (known: ${known[*]})" >&2
      exit 2
    fi
  done
fi

echo "== building ${targets[*]} (sanitizer $sanitizer)"
for t in "${targets[@]}"; do
  if ! "${fuzz[@]}" build "${flags[@]}" "$t"; then
    echo "build of $t failed" >&2
    exit 2
  fi
done

# Prints the bytes of a file (its first 4 KiB) as a Rust byte-string literal.
as_literal() {
  local out='b"' h c
  for h in $(head -c 4096 "$1" | od -An -v -tx1); do
    c=$((16#$h))
    if ((c == 92)); then
      out+='\\'
    elif ((c == 34)); then
      out+='\"'
    elif ((c >= 32 && c < 127)); then
      out+="$(printf "\\x$h")"
    else
      out+="\\x$h"
    fi
  done
  printf '%s"\n' "$out"
}

summary=()
crashed=0
for t in "${targets[@]}"; do
  work="$fuzz_dir/work/$t"
  artifacts="$fuzz_dir/artifacts/$t"
  seeds="$fuzz_dir/corpus/$t"
  mkdir -p "$work/corpus" "$artifacts" "$seeds"
  log="$work/last-run.log"
  before="$(ls "$artifacts")"
  echo "== fuzzing $t for ${seconds}s (log: ${log#"$root"/})"
  "${fuzz[@]}" run "${flags[@]}" "$t" "$work/corpus" "$seeds" -- \
    -max_total_time="$seconds" -print_final_stats=1 -max_len="$max_len" \
    -timeout=10 -rss_limit_mb=4096 >"$log" 2>&1
  rc=$?

  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')"
  per_sec="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')"
  last="$(grep -E '^#[0-9]+.*cov: [0-9]+' "$log" | tail -1)"
  [[ -n $execs ]] || execs="$(sed -E -n 's/^#([0-9]+).*/\1/p' <<<"$last")"
  cov="$(sed -E -n 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")"
  ft="$(sed -E -n 's/.*ft: ([0-9]+).*/\1/p' <<<"$last")"
  corp="$(sed -E -n 's/.*corp: ([0-9]+).*/\1/p' <<<"$last")"

  new_artifacts=()
  while IFS= read -r f; do
    [[ -n $f ]] && ! grep -qxF -- "$f" <<<"$before" && new_artifacts+=("$f")
  done < <(ls "$artifacts")
  crashes=${#new_artifacts[@]}
  if [[ $rc -ne 0 && $crashes -eq 0 ]]; then
    crashes=1 # a failure that saved no input (the log says why)
  fi

  if [[ $crashes -gt 0 ]]; then
    crashed=$((crashed + 1))
    echo "!! $t failed (exit $rc):"
    grep -m1 -A1 -E 'panicked at|ERROR: (AddressSanitizer|libFuzzer)' "$log" | sed 's/^/   /'
    for f in "${new_artifacts[@]}"; do
      input="$artifacts/$f"
      echo "   input: ${input#"$root"/}"
      if [[ $tmin_runs -gt 0 ]]; then
        "${fuzz[@]}" tmin "${flags[@]}" -r "$tmin_runs" "$t" "$input" >"$work/tmin.log" 2>&1
        small="$artifacts/minimized-from-${f#*-}"
        if [[ -f $small ]]; then
          input="$small"
          echo "   minimised: ${input#"$root"/}"
        fi
      fi
      echo "   bytes ($(wc -c <"$input")): $(as_literal "$input")"
      echo "   replay: cargo fuzz run --fuzz-dir tests/fuzz $t ${input#"$root"/}"
      echo "   keep as a regression: cp ${input#"$root"/} tests/fuzz/regressions/$t/"
    done
  fi
  summary+=("$(printf '%-14s %8s %10s %8s %6s %7s %7s %8s' "$t" "${seconds}s" "${execs:-?}" \
    "${per_sec:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes")")
done

echo
printf '%-14s %8s %10s %8s %6s %7s %7s %8s\n' target time execs "exec/s" cov ft corpus crashes
printf '%s\n' "${summary[@]}"
if [[ $crashed -gt 0 ]]; then
  echo "$crashed target(s) crashed: inputs in tests/fuzz/artifacts/" >&2
  exit 1
fi
