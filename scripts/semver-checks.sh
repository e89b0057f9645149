#!/usr/bin/env bash
# Compares the public API of tracing-ai and tracing-ai-macros with their last release, so that a
# release states its breaks (CHANGELOG.md: a patch release breaks nothing).
#
# The baseline is the newest version of tracing-ai on crates.io; before the first publication,
# the newest `tracing-ai-v*` git tag; with neither there is nothing to compare with and it says
# so. cargo-semver-checks is installed from crates.io into target/tools the first time it is
# needed (a few minutes), and found there afterwards.
#
#   scripts/semver-checks.sh                 # against the last release
#   scripts/semver-checks.sh --baseline-rev R  # against any commit (to try the check)
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.51.0
tool=target/tools/bin/cargo-semver-checks

baseline=("$@")
if [ ${#baseline[@]} -eq 0 ]; then
    # crates.io's sparse index: a line of JSON per published version; 404 before the first
    index=$(mktemp)
    status=$(curl -sS -o "$index" -w '%{http_code}' https://index.crates.io/tr/ac/tracing-ai)
    case $status in
        200) published=$(python3 -c 'import json,sys; v=[json.loads(l) for l in open(sys.argv[1])]; print(next((e["vers"] for e in reversed(v) if not e["yanked"]), ""))' "$index") ;;
        404) published= ;;
        *) echo "semver-checks: crates.io's index answered $status; cannot tell the last release" >&2; exit 1 ;;
    esac
    rm -f "$index"
    tag=$(git tag --list 'tracing-ai-v*' --sort=-v:refname | head -n1)
    if [ -n "$published" ]; then
        baseline=(--baseline-version "$published")
    elif [ -n "$tag" ]; then
        baseline=(--baseline-rev "$tag")
    else
        echo "semver-checks: tracing-ai has no release yet (not on crates.io, no tracing-ai-v* tag): nothing to compare with"
        exit 0
    fi
fi

if [ ! -x "$tool" ] || [ "$("$tool" semver-checks --version 2>/dev/null)" != "cargo-semver-checks $version" ]; then
    echo "semver-checks: installing cargo-semver-checks $version into target/tools"
    cargo install --quiet --locked --root target/tools cargo-semver-checks --version "$version"
fi
# Every feature: a break behind one feature is a break for its users.
"$tool" semver-checks --workspace --all-features "${baseline[@]}"
