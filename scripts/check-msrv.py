#!/usr/bin/env python3
"""Checks that the published crates' `rust-version` is true.

For the default features, no feature and each feature of tracing-ai alone, it lists the
dependencies the published crates pull in (normal and build dependencies, every target, the
versions of Cargo.lock: `cargo tree`) and takes the highest `rust-version` they declare
(`cargo metadata`). It fails when the workspace's claim is below that, or when the README
says another version.

    scripts/check-msrv.py               # the claim of Cargo.toml
    scripts/check-msrv.py --claim 1.80  # what-if: must fail (CI checks the check)
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PUBLISHED = "tracing-ai"


def version(text):
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def show(v):
    return ".".join(str(part) for part in (v[:2] if v[2] == 0 else v))


def cargo(*args):
    return subprocess.run(
        ["cargo", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--claim", help="check this rust-version instead of the declared one")
    args = parser.parse_args()

    metadata = json.loads(cargo("metadata", "--format-version", "1", "--locked"))
    members = set(metadata["workspace_members"])
    declared = {
        (p["name"], p["version"]): p.get("rust_version")
        for p in metadata["packages"]
        if p["id"] not in members
    }
    crate = next(p for p in metadata["packages"] if p["name"] == PUBLISHED)
    claim = version(args.claim or crate["rust_version"])
    features = sorted(f for f in crate["features"] if f != "default" and not f.startswith("__"))

    configs = [("default features", [])] + [
        (f"--no-default-features --features '{f}'", ["--no-default-features", "--features", f])
        for f in [""] + features
    ]
    need, worst = (0, 0, 0), []
    for label, flags in configs:
        tree = cargo(
            "tree", "-p", PUBLISHED, "--locked", "--target", "all", "-e", "normal,build",
            "--prefix", "none", "-f", "{p}", *flags,
        )
        highest, by = (0, 0, 0), "-"
        for line in set(tree.splitlines()):
            # "name v1.2.3" or "name v1.2.3 (/path)" or "name v1.2.3 (*)"
            name, ver = line.split()[:2]
            rv = declared.get((name, ver.lstrip("v")))
            if rv and version(rv) > highest:
                highest, by = version(rv), f"{name} {ver}"
        print(f"{show(highest):>6}  {label:<55} {by}")
        if highest > need:
            need = highest
        worst.append((highest, label, by))

    failed = False
    if claim < need:
        print(f"\nrust-version {show(claim)} is below what the tree needs, {show(need)}:")
        for highest, label, by in worst:
            if highest > claim:
                print(f"  {label}: {by} declares {show(highest)}")
        print("Raise rust-version in the workspace Cargo.toml (and the README), or pin the "
              "dependency below the release that raised it, with the reason next to the pin.")
        failed = True
    for doc in ["README.md", "tracing-ai/src/lib.rs"]:
        said = re.search(
            r"minimum supported Rust version is (\d+\.\d+(?:\.\d+)?)", (ROOT / doc).read_text()
        )
        if not args.claim and (not said or version(said.group(1)) != claim):
            found = said.group(1) if said else "nothing"
            print(f"\n{doc} says {found}; Cargo.toml declares {show(claim)}: make them agree.")
            failed = True
    if not failed:
        print(f"\nrust-version {show(claim)} holds: the tree needs {show(need)}.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
