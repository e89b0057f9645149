#!/usr/bin/env python3
"""Checks that docs.rs will show the feature of every feature-gated item of tracing-ai.

It builds the docs twice, as docs.rs does (all features, `--cfg docsrs`, warnings denied) and
with no feature, and compares them: every page, method, variant, field or implementation that
exists only with features must carry rustdoc's "Available on crate feature ... only" note.
The stable toolchain reads `#![feature(doc_cfg)]` under RUSTC_BOOTSTRAP=1, which is how docs.rs'
nightly sees it.
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "target" / "doc" / "tracing_ai"
BARE = ROOT / "target" / "doc-no-features"
ITEM_ID = re.compile(r'id="((?:method|tymethod|variant|structfield|impl|associatedconstant)[.-][^"]+)"')
NOTE = 'class="stab portability"'


def doc(*flags, docsrs=False):
    env = dict(os.environ, RUSTDOCFLAGS="-D warnings")
    if docsrs:
        env.update(RUSTC_BOOTSTRAP="1", RUSTDOCFLAGS="--cfg docsrs -D warnings")
    subprocess.run(
        ["cargo", "doc", "-p", "tracing-ai", "--no-deps", *flags], cwd=ROOT, env=env, check=True
    )


def pages(root):
    return {p.relative_to(root): p.read_text() for p in root.rglob("*.html")}


def sections(html):
    """Each item of a page, keyed by its id (a method by its impl's id and its name: rustdoc
    numbers repeated method ids in page order, which features change), with its text up to the
    next item. The auto-trait and blanket implementations, which other crates' features bring,
    are left out."""
    html = re.split(r'id="(?:synthetic|blanket)-implementations"', html, maxsplit=1)[0]
    found = list(ITEM_ID.finditer(html))
    ends = [m.start() for m in found[1:]] + [len(html)]
    items, impl = {}, ""
    for m, end in zip(found, ends):
        item = m.group(1)
        if item.startswith("impl-"):
            impl, key = item, item
        else:
            key = impl + "/" + re.sub(r"-\d+$", "", item)
        items[key] = html[m.start():end]
    return items


def main():
    doc("--no-default-features")
    shutil.rmtree(BARE, ignore_errors=True)
    shutil.copytree(DOC, BARE)
    doc("--all-features", docsrs=True)

    bare, full = pages(BARE), pages(DOC)
    missing, gated = [], 0
    for path, html in sorted(full.items()):
        if path.name in ("all.html", "sidebar-items.js") or path.name.startswith("index.html") and path.parent == pathlib.Path("."):
            continue
        if "http-equiv=\"refresh\"" in html:
            continue  # a redirect from a private module's path to the re-export
        if path not in bare:
            gated += 1
            # the page's own heading: the note sits right under it
            head = html.split('class="docblock"', 1)[0]
            if NOTE not in head:
                missing.append(f"{path}: the page")
            continue
        before = sections(bare[path])
        impl_is_ours, impl_noted = True, False
        for item, text in sections(html).items():
            if "/" not in item and item.startswith("impl-"):
                # a trait re-exported from another crate lists that crate's implementors too
                impl_is_ours, impl_noted = "src/tracing_ai/" in text, NOTE in text
            if item in before or not impl_is_ours:
                continue
            gated += 1
            # an item's note is in its own section, or on the impl block holding it
            if NOTE not in text and not impl_noted:
                missing.append(f"{path}#{item}")
    # the crate root's table of features names every feature of Cargo.toml
    manifest = (ROOT / "tracing-ai" / "Cargo.toml").read_text()
    table = manifest.split("[features]", 1)[1].split("\n[", 1)[0]
    root = full[pathlib.Path("index.html")]
    for feature in re.findall(r"^([a-z][a-z0-9-]*)\s*=", table, re.MULTILINE):
        if feature != "default" and f"<td><code>{feature}</code></td>" not in root:
            missing.append(f"index.html: the feature table has no row for `{feature}`")
    if missing:
        print(f"{len(missing)} feature-gated items show no feature on docs.rs:")
        for item in missing:
            print("  " + item)
        print("Add #[cfg_attr(docsrs, doc(cfg(feature = \"...\")))] next to their #[cfg], and "
              "a row for each feature to the table in lib.rs.")
        return 1
    print(f"docs.rs shows the feature of all {gated} feature-gated items.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
