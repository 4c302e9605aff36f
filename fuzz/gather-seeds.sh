#!/usr/bin/env bash
# Builds the fuzzers' seed corpus in fuzz/corpus/seeds/ (git-ignored, rebuilt on every
# run) from:
#
#   * the Rust sources written in this repository that exercise the linter: every
#     fixture (fixtures/src/bin, fixtures/lint-only, fixtures/src/lib.rs), the README's
#     example, the fuzz regressions, and fuzz/local-seeds/ (shapes written here for the
#     macro expander, which no fixture needs);
#   * .rs files of the local cargo registry ($CARGO_HOME/registry/src/*/, where
#     `crates/fork-lint/tests/registry_sweep.rs` looks too) that mention a fork point as
#     a whole word: the files with the most mentions first, at most SEEDS_PER_PACKAGE
#     (4) from one package (so that one large crate does not fill the corpus) and SEEDS_MAX (100) in all, each at most 64 KiB (the
#     fuzzers' -max_len).
#
# Other people's code is read from the registry at fuzz time, never committed.
# A shell script rather than a Rust binary in the fuzz crate: the fuzz crate builds
# only with cargo-fuzz's nightly flags and libFuzzer, while this needs find and grep.
#
# Usage: fuzz/gather-seeds.sh [OUT_DIR]   (run `cargo fetch` in the workspace first)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/fuzz/corpus/seeds}"
per_package="${SEEDS_PER_PACKAGE:-4}"
max="${SEEDS_MAX:-100}"
max_bytes=65536
# The prefilter's WORDS (crates/fork-lint/src/prefilter.rs), as whole words.
words='v?fork|forkrt|pre_exec|before_exec|procspawn|[Dd]aemonize|daemon'

rm -rf "$out"
mkdir -p "$out"

# A path inside its tree, as one file name: `src/bin/x.rs` -> `src_bin_x.rs`.
flat() { printf '%s' "$1" | tr '/' '_'; }

local_count=0
for f in "$root"/fixtures/src/bin/*.rs "$root"/fixtures/lint-only/*.rs \
    "$root"/fixtures/src/lib.rs "$root"/examples/hazards.rs \
    "$root"/crates/fork-lint/tests/fuzz-regressions/*.rs "$root"/fuzz/local-seeds/*.rs; do
    [ -f "$f" ] || continue
    rel="${f#"$root"/}"
    cp "$f" "$out/local__$(flat "$rel")"
    local_count=$((local_count + 1))
done

cargo_home="${CARGO_HOME:-$HOME/.cargo}"
registry_count=0
shopt -s nullglob
registries=("$cargo_home"/registry/src/*/)
if [ ${#registries[@]} -eq 0 ]; then
    echo "gather-seeds: no registry sources under $cargo_home/registry/src:" \
        "run \`cargo fetch\` in the workspace for registry seeds" >&2
else
    # One line per candidate: mentions, package directory, file; most mentions first.
    declare -A taken
    while IFS=$'\t' read -r _ package file; do
        [ "$registry_count" -lt "$max" ] || break
        [ "${taken[$package]:-0}" -lt "$per_package" ] || continue
        taken[$package]=$((${taken[$package]:-0} + 1))
        name="$(basename "$package")"
        cp "$file" "$out/registry__${name}__$(flat "${file#"$package"/}")"
        registry_count=$((registry_count + 1))
    done < <(
        for registry in "${registries[@]}"; do
            for package in "$registry"*/; do
                package="${package%/}"
                # grep fails when a package has no match: not an error here.
                { grep -rcwE --include='*.rs' "$words" "$package" 2>/dev/null || true; } |
                    while IFS= read -r line; do
                        count="${line##*:}"
                        file="${line%:*}"
                        [ "$count" -gt 0 ] || continue
                        [ "$(stat -c %s "$file")" -le "$max_bytes" ] || continue
                        printf '%s\t%s\t%s\n' "$count" "$package" "$file"
                    done
            done
        done | sort -t$'\t' -k1,1nr -k3,3
    )
fi

echo "gather-seeds: $local_count local and $registry_count registry files in $out"
