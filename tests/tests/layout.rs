//! The shape of the library's source, held by tests: its modules import each other without a
//! circle, no file grows past what a reader holds at once without saying why, and a token count
//! is listed in one table, not once per place that handles counts.
//!
//! The module graph is drawn from the code, with `syn`: an edge from a file to the file that
//! defines each item it names through `crate::`, `super::` or `self::` (a `use` or a path in
//! an expression, a type or a macro's tokens), following re-exports to the definition. A
//! `pub use` is a re-export, not a dependency: `budget` naming `crate::reserve::reserve` for
//! its users does not make the budgets call the layer. Items under `#[cfg(test)]` are left
//! out.
//!
//! "No circle" is checked at every level of the module tree: among the crate's top modules,
//! then among the children of each module (each with what it contains), where a parent and
//! its own children are one concern and may use each other. At the top that is the rule the
//! design holds: the budgets, the prices and the content settings are leaves the layer calls,
//! and what reaches a span's data from outside the layer goes through `layer::AiSpanExt`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module's path from the crate root: `[]` is the root, `["layer", "fields"]` its file.
type ModPath = Vec<String>;

struct Module {
    /// The names the file defines (types, functions, traits, consts, statics, macros).
    defines: BTreeSet<String>,
    /// What each name a `use` brings in stands for, as written, and whether it is re-exported.
    imports: BTreeMap<String, (Vec<String>, bool)>,
    /// The paths the code names, as written (`crate::..`, `super::..`, `self::..`, or through
    /// a child module's name), with whether they were written in a `pub use`.
    paths: Vec<(Vec<String>, bool)>,
}

fn library_modules() -> BTreeMap<ModPath, Module> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tracing-ai/src");
    let mut modules = BTreeMap::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).expect("under src");
        let mut path: ModPath = relative
            .with_extension("")
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        if path
            .last()
            .is_some_and(|last| last == "mod" || last == "lib")
        {
            path.pop();
        }
        let text = std::fs::read_to_string(&file).expect("readable");
        let syntax = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut collector = Collector::default();
        for item in &syntax.items {
            if !is_cfg_test(item_attrs(item)) {
                collector.visit_item(item);
            }
        }
        modules.insert(
            path,
            Module {
                defines: collector.defines,
                imports: collector.imports,
                paths: collector.paths,
            },
        );
    }
    modules
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Mod(item) => &item.attrs,
        syn::Item::Fn(item) => &item.attrs,
        syn::Item::Impl(item) => &item.attrs,
        syn::Item::Use(item) => &item.attrs,
        syn::Item::Struct(item) => &item.attrs,
        syn::Item::Enum(item) => &item.attrs,
        syn::Item::Const(item) => &item.attrs,
        syn::Item::Static(item) => &item.attrs,
        syn::Item::Trait(item) => &item.attrs,
        syn::Item::Type(item) => &item.attrs,
        syn::Item::Macro(item) => &item.attrs,
        _ => &[],
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .meta
                .require_list()
                .is_ok_and(|list| list.tokens.to_string() == "test")
    })
}

#[derive(Default)]
struct Collector {
    defines: BTreeSet<String>,
    imports: BTreeMap<String, (Vec<String>, bool)>,
    paths: Vec<(Vec<String>, bool)>,
}

impl Collector {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, reexport: bool) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(prefix, &path.tree, reexport);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                let mut full = prefix.clone();
                let name = name.ident.to_string();
                let bound = if name == "self" {
                    prefix.last().cloned().unwrap_or_default()
                } else {
                    full.push(name.clone());
                    name
                };
                self.imports.insert(bound, (full.clone(), reexport));
                self.paths.push((full, reexport));
            }
            syn::UseTree::Rename(rename) => {
                let mut full = prefix.clone();
                if rename.ident != "self" {
                    full.push(rename.ident.to_string());
                }
                if rename.rename != "_" {
                    self.imports
                        .insert(rename.rename.to_string(), (full.clone(), reexport));
                }
                self.paths.push((full, reexport));
            }
            syn::UseTree::Glob(_) => self.paths.push((prefix.clone(), reexport)),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree, reexport);
                }
            }
        }
    }

    /// Paths in a macro's tokens (`tracing::event!`, `format!`), which `syn` leaves unparsed.
    fn tokens(&mut self, tokens: proc_macro2::TokenStream) {
        let tokens: Vec<_> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                proc_macro2::TokenTree::Group(group) => self.tokens(group.stream()),
                proc_macro2::TokenTree::Ident(ident)
                    if ident == "crate" || ident == "super" || ident == "self" =>
                {
                    let mut path = vec![ident.to_string()];
                    let mut j = i + 1;
                    while let (
                        Some(proc_macro2::TokenTree::Punct(a)),
                        Some(proc_macro2::TokenTree::Punct(b)),
                        Some(proc_macro2::TokenTree::Ident(next)),
                    ) = (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        path.push(next.to_string());
                        j += 3;
                    }
                    if path.len() > 1 {
                        self.paths.push((path, false));
                    }
                    i = j - 1;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if is_cfg_test(item_attrs(item)) {
            return;
        }
        let defined = match item {
            syn::Item::Struct(item) => Some(&item.ident),
            syn::Item::Enum(item) => Some(&item.ident),
            syn::Item::Fn(item) => Some(&item.sig.ident),
            syn::Item::Trait(item) => Some(&item.ident),
            syn::Item::Type(item) => Some(&item.ident),
            syn::Item::Const(item) => Some(&item.ident),
            syn::Item::Static(item) => Some(&item.ident),
            syn::Item::Union(item) => Some(&item.ident),
            syn::Item::Macro(item) => item.ident.as_ref(),
            _ => None,
        };
        if let Some(ident) = defined {
            self.defines.insert(ident.to_string());
        }
        if let syn::Item::Use(item) = item {
            let reexport = !matches!(item.vis, syn::Visibility::Inherited);
            self.use_tree(&mut Vec::new(), &item.tree, reexport);
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 {
            self.paths.push((segments, false));
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

/// The file (module) that defines what `path`, written in module `from`, names; `None` for a
/// path outside the crate.
fn resolve(
    modules: &BTreeMap<ModPath, Module>,
    from: &ModPath,
    path: &[String],
    depth: usize,
) -> Option<ModPath> {
    if depth > 16 || path.is_empty() {
        return None;
    }
    let mut current: ModPath;
    let mut rest = path;
    match path[0].as_str() {
        "crate" => {
            current = Vec::new();
            rest = &path[1..];
        }
        "super" | "self" => {
            current = from.clone();
            while let Some(segment) = rest.first() {
                match segment.as_str() {
                    "super" => {
                        current.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        first => {
            // A child module named without `self::` (2018 paths), or nothing of this crate.
            let mut child = from.clone();
            child.push(first.to_owned());
            if !modules.contains_key(&child) {
                return None;
            }
            current = from.clone();
        }
    }
    for (index, segment) in rest.iter().enumerate() {
        let mut child = current.clone();
        child.push(segment.clone());
        if modules.contains_key(&child) {
            current = child;
            continue;
        }
        let module = &modules[&current];
        if module.defines.contains(segment) {
            return Some(current);
        }
        if let Some((target, _)) = module.imports.get(segment) {
            let mut target = target.clone();
            target.extend(rest[index + 1..].iter().cloned());
            return resolve(modules, &current, &target, depth + 1).or(Some(current));
        }
        return Some(current);
    }
    Some(current)
}

/// Every file's dependencies on other files, by the rules in this file's opening comment.
fn dependencies(modules: &BTreeMap<ModPath, Module>) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (from, module) in modules {
        for (path, reexport) in &module.paths {
            if *reexport {
                continue;
            }
            if let Some(to) = resolve(modules, from, path, 0) {
                if &to != from {
                    edges.entry(from.clone()).or_default().insert(to);
                }
            }
        }
    }
    edges
}

/// The circles among the children of each module: `(parent, circle, why)`, where `why` holds
/// the file-to-file edges behind each step.
fn circles(
    edges: &BTreeMap<ModPath, BTreeSet<ModPath>>,
) -> Vec<(String, Vec<String>, Vec<String>)> {
    // parent -> child -> child, with the edges that made them.
    type Level = BTreeMap<ModPath, BTreeSet<ModPath>>;
    let mut levels: BTreeMap<ModPath, Level> = BTreeMap::new();
    let mut why: BTreeMap<(ModPath, ModPath), Vec<String>> = BTreeMap::new();
    for (from, tos) in edges {
        for to in tos {
            let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
            if common == from.len() || common == to.len() {
                // A module and its own descendant: one concern.
                continue;
            }
            let parent = from[..common].to_vec();
            let a = from[..=common].to_vec();
            let b = to[..=common].to_vec();
            levels
                .entry(parent)
                .or_default()
                .entry(a.clone())
                .or_default()
                .insert(b.clone());
            why.entry((a, b))
                .or_default()
                .push(format!("{} -> {}", name(from), name(to)));
        }
    }
    let mut found = Vec::new();
    for (parent, level) in &levels {
        for component in strongly_connected(level) {
            let mut steps = Vec::new();
            for a in &component {
                for b in level.get(a).into_iter().flatten() {
                    if component.contains(b) {
                        steps.extend(why[&(a.clone(), b.clone())].iter().cloned());
                    }
                }
            }
            found.push((
                name(parent),
                component.iter().map(|m| name(m)).collect(),
                steps,
            ));
        }
    }
    found
}

fn name(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_owned()
    } else {
        path.join("::")
    }
}

/// The strongly connected components of more than one node (Tarjan).
fn strongly_connected(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct State<'a> {
        graph: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        found: Vec<Vec<ModPath>>,
    }
    fn visit<'a>(state: &mut State<'a>, node: &'a ModPath) {
        let next = state.index.len();
        state.index.insert(node, next);
        state.low.insert(node, next);
        state.stack.push(node);
        state.on_stack.insert(node);
        for to in state.graph.get(node).into_iter().flatten() {
            if !state.index.contains_key(to) {
                visit(state, to);
                let low = state.low[to].min(state.low[node]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(to) {
                let low = state.index[to].min(state.low[node]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(top) = state.stack.pop() {
                state.on_stack.remove(top);
                component.push(top.clone());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node) {
            visit(&mut state, node);
        }
    }
    state.found
}

#[test]
fn the_library_modules_import_each_other_without_a_circle() {
    let modules = library_modules();
    let edges = dependencies(&modules);
    // The graph is read, not empty: the layer uses the budgets and the prices, and the
    // helpers over it reach it through its span door.
    let depends = |from: &[&str], to: &[&str]| {
        let from: ModPath = from.iter().map(|s| s.to_string()).collect();
        let to: ModPath = to.iter().map(|s| s.to_string()).collect();
        edges.get(&from).is_some_and(|tos| tos.contains(&to))
    };
    assert!(depends(&["layer", "call"], &["budget", "config"]));
    assert!(depends(&["reserve"], &["layer", "span_ext"]));
    assert!(depends(&["record", "content"], &["layer", "span_ext"]));
    assert!(
        !depends(&["budget"], &["reserve"]),
        "a re-export is no edge"
    );
    let found = circles(&edges);
    assert!(
        found.is_empty(),
        "import circles:\n{}",
        found
            .iter()
            .map(|(parent, circle, why)| format!(
                "  in {parent}: {}\n    {}",
                circle.join(", "),
                why.join("\n    ")
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_circle_is_found_when_there_is_one() {
    let path = |s: &str| -> ModPath { s.split("::").map(str::to_owned).collect() };
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    // budget::reserve -> layer::span_ext -> layer -> budget: a circle among the top modules,
    // though no file imports itself.
    edges
        .entry(path("budget::reserve"))
        .or_default()
        .insert(path("layer::span_ext"));
    edges
        .entry(path("layer::call"))
        .or_default()
        .insert(path("budget"));
    // A parent and its child using each other is no circle.
    edges
        .entry(path("export"))
        .or_default()
        .insert(path("export::plan"));
    edges
        .entry(path("export::plan"))
        .or_default()
        .insert(path("export"));
    let found = circles(&edges);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "crate");
    assert_eq!(found[0].1, ["budget", "layer"]);
}

/// Lines of code before a file's tests: neither blank nor a comment.
fn lines_of_code(text: &str) -> usize {
    let before_tests = text.split("\n#[cfg(test)]\nmod ").next().unwrap_or(text);
    before_tests
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .count()
}

/// The longest a file grows, in lines of code, unless its opening comment says why it stays
/// whole (a line starting `//! Stays whole:`).
const MAX_LINES_OF_CODE: usize = 450;

#[test]
fn library_files_stay_short_or_say_why_they_stay_whole() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut too_long = Vec::new();
    let mut counted = 0;
    for src in ["tracing-ai/src", "tracing-ai-macros/src"] {
        for file in rust_files(&root.join(src)) {
            let text = std::fs::read_to_string(&file).expect("readable");
            counted += 1;
            let code = lines_of_code(&text);
            let says_why = text
                .lines()
                .take_while(|line| line.starts_with("//!"))
                .any(|line| line.starts_with("//! Stays whole:"));
            if code > MAX_LINES_OF_CODE && !says_why {
                too_long.push(format!(
                    "{}: {code} lines of code",
                    file.strip_prefix(&root).unwrap_or(&file).display()
                ));
            }
        }
    }
    assert!(counted > 50, "the sources were found: {counted} files");
    assert!(
        too_long.is_empty(),
        "over {MAX_LINES_OF_CODE} lines of code, with no `//! Stays whole:` line saying why:\n  {}",
        too_long.join("\n  ")
    );
}

#[test]
fn lines_of_code_leave_out_comments_blanks_and_tests() {
    let text = "//! A module.\n\nuse a;\n/// Doc.\nfn f() {}\n\n#[cfg(test)]\nmod tests {\n    fn g() {}\n}\n";
    assert_eq!(lines_of_code(text), 2);
}

/// One token count of the facts table's `parts`, by every name code could know it by.
#[derive(Debug)]
struct CountNames {
    kind: String,
    names: Vec<String>,
}

/// The `parts` of the facts table (`tracing-ai/src/facts.rs`): each row's kind, attribute
/// constant and its value, `Usage` field and setter.
fn table_counts(root: &Path) -> Vec<CountNames> {
    let facts = std::fs::read_to_string(root.join("tracing-ai/src/facts.rs")).expect("facts.rs");
    let attr = std::fs::read_to_string(root.join("tracing-ai/src/attr.rs")).expect("attr.rs");
    let parts = facts
        .split_once("parts: [")
        .and_then(|(_, rest)| rest.split_once("recorded: ["))
        .map(|(parts, _)| parts)
        .expect("the table's parts");
    let value_after = |text: &str, key: &str| -> String {
        let after = text.split_once(key).map(|(_, rest)| rest).unwrap_or("");
        after
            .trim_start()
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("")
            .to_owned()
    };
    let mut counts = Vec::new();
    // Each row is `Kind {` (after its doc lines) up to the next row.
    let mut rest = parts;
    while let Some(at) = rest.find("attribute:") {
        let before = &rest[..at];
        let kind = before
            .trim_end()
            .strip_suffix('{')
            .and_then(|head| head.split_whitespace().last())
            .expect("a row's kind")
            .to_owned();
        let row = &rest[at..];
        let row = &row[..row.find("set_by:").expect("a row's setter") + 60.min(row.len())];
        let constant = value_after(row, "attribute:");
        let value = attr
            .split_once(&format!("pub const {constant}: &str ="))
            .and_then(|(_, rest)| rest.split('"').nth(1))
            .unwrap_or_else(|| panic!("{constant} in attr.rs"))
            .to_owned();
        let names = vec![
            format!("TokenKind::{kind}"),
            constant,
            value,
            value_after(row, "usage:"),
            value_after(row, "set_by:"),
        ];
        counts.push(CountNames { kind, names });
        rest = &rest[at + "attribute:".len()..];
        rest = rest.split_once("set_by:").map_or("", |(_, after)| after);
    }
    counts
}

/// The files that may name every token count: the table, the names' documentation, pricing
/// (where each count has its own rate), and the client integrations, which map what a
/// client's response reports (a new count joins one when that client reports it, not before).
const MAY_LIST_THE_COUNTS: [&str; 4] = [
    "tracing-ai/src/facts.rs",
    "tracing-ai/src/attr.rs",
    "tracing-ai/src/pricing/",
    "tracing-ai/src/integrations/",
];

/// Adding a count is its row in the table, its name and its price: a file that names every
/// count (before its tests) is a list the new count would have to join, and only the table,
/// `attr.rs` and pricing may hold one.
#[test]
fn a_new_count_is_named_only_by_the_table_its_price_and_the_docs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let counts = table_counts(&root);
    // Every row read, whole: as many as the table has setters, each with five names (so that
    // a new row needs no change here).
    let kinds: Vec<&str> = counts.iter().map(|count| count.kind.as_str()).collect();
    let facts = std::fs::read_to_string(root.join("tracing-ai/src/facts.rs")).expect("facts.rs");
    let setters = facts
        .split_once("parts: [")
        .and_then(|(_, rest)| rest.split_once("recorded: ["))
        .map_or(0, |(parts, _)| parts.matches("set_by:").count());
    assert!(
        kinds.len() >= 6 && kinds.len() == setters && kinds[..2] == ["CacheRead", "CacheWrite"],
        "the table's parts were read: {counts:?}"
    );
    assert!(
        counts
            .iter()
            .all(|count| count.names.iter().all(|name| name.len() > 3)),
        "a row's names were read: {counts:?}"
    );
    let mut lists = Vec::new();
    for src in ["tracing-ai/src", "tracing-ai-macros/src"] {
        for file in rust_files(&root.join(src)) {
            let relative = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .display()
                .to_string();
            if MAY_LIST_THE_COUNTS
                .iter()
                .any(|allowed| relative.starts_with(allowed))
            {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("readable");
            let code = text.split("\n#[cfg(test)]\nmod ").next().unwrap_or(&text);
            let names_all = counts
                .iter()
                .all(|count| count.names.iter().any(|name| code.contains(name.as_str())));
            if names_all {
                lists.push(relative);
            }
        }
    }
    assert!(
        lists.is_empty(),
        "these files name every token count, a list each new count would have to join; \
         generate it from the facts table (`__facts!`) instead:\n  {}",
        lists.join("\n  ")
    );
}

/// The builders' options each say what happens without them ("By default ..."), as
/// tracing-opentelemetry's do.
#[test]
fn every_builder_option_says_what_happens_by_default() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = rust_files(&root.join("tracing-ai/src/layer/builder"));
    files.push(root.join("tracing-ai/src/export/builder.rs"));
    let mut options = 0;
    let mut silent = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let syntax = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for item in &syntax.items {
            let syn::Item::Impl(block) = item else {
                continue;
            };
            for item in &block.items {
                let syn::ImplItem::Fn(method) = item else {
                    continue;
                };
                let name = method.sig.ident.to_string();
                let deprecated = method.attrs.iter().any(|a| a.path().is_ident("deprecated"));
                if !matches!(method.vis, syn::Visibility::Public(_))
                    || !name.starts_with("with_")
                    || deprecated
                {
                    continue;
                }
                options += 1;
                let doc: String = method
                    .attrs
                    .iter()
                    .filter(|a| a.path().is_ident("doc"))
                    .filter_map(|a| match &a.meta {
                        syn::Meta::NameValue(nv) => match &nv.value {
                            syn::Expr::Lit(syn::ExprLit {
                                lit: syn::Lit::Str(text),
                                ..
                            }) => Some(text.value()),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase();
                if !doc.contains("by default") {
                    silent.push(name);
                }
            }
        }
    }
    assert!(options > 30, "the builders' options were found: {options}");
    assert!(
        silent.is_empty(),
        "these options do not say what happens by default:\n  {}",
        silent.join("\n  ")
    );
}
