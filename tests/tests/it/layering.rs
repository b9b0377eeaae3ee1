//! The layering rules of ARCHITECTURE.md, checked on the sources: no module imports another
//! that imports it back, at any length, among a crate's top-level modules and among the
//! children of any one module; and each crate's layers only look down.
//!
//! A module's imports are every `crate::…`, `super::…` and `crate::{…}` path in its files
//! outside `#[cfg(test)]` code (test modules may import what they test from anywhere).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path: `["server", "routes"]`.
type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file of `src` defines (`lib.rs` and `main.rs` are the root).
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn ident_at(text: &str) -> Option<&str> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    (end > 0).then(|| &text[..end])
}

/// The paths `text` (one file, without its tests) reaches through `crate::` and `super::`,
/// resolved against `module`; each as far as its first two segments.
fn imports(module: &Module, text: &str) -> BTreeSet<Module> {
    let mut out = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(i) = rest
        .find("crate::")
        .into_iter()
        .chain(rest.find("super::"))
        .min()
    {
        let is_crate = rest[i..].starts_with("crate::");
        // `$crate::` in macros and identifiers ending in `crate`/`super` are not paths.
        let before = rest[..i].chars().last();
        rest = &rest[i + 7..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let mut base: Module = if is_crate {
            Vec::new()
        } else {
            module[..module.len().saturating_sub(1)].to_vec()
        };
        let mut tail = rest;
        // `super::super::…`
        while let Some(t) = tail.strip_prefix("super::") {
            base.pop();
            tail = t;
        }
        let mut targets = Vec::new();
        if let Some(group) = tail.strip_prefix('{') {
            // `crate::{a, b::c}`: the first segment of each top-level item.
            let mut depth = 0;
            let mut start = true;
            for (n, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_ascii_alphabetic() || c == '_') => {
                        if let Some(id) = ident_at(&group[n..]) {
                            targets.push(vec![id.to_owned()]);
                        }
                        start = false;
                    }
                    _ => {}
                }
            }
        } else if let Some(first) = ident_at(tail) {
            let mut path = vec![first.to_owned()];
            if let Some(second) = tail[first.len()..].strip_prefix("::").and_then(ident_at) {
                path.push(second.to_owned());
            }
            targets.push(path);
        }
        for t in targets {
            let mut full = base.clone();
            full.extend(t);
            out.insert(full);
        }
    }
    out
}

/// Module → the modules it imports, for every file of `src`.
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        let module = module_of(src, &file);
        let found = imports(&module, text);
        graph.entry(module).or_default().extend(found);
    }
    graph
}

/// A cycle among `nodes` under `edges`, if any.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

/// Every cycle-free level of `src`: its top-level modules, and the children of each module.
fn cycles(src: &Path) -> Vec<String> {
    let graph = graph(src);
    let mut parents: BTreeSet<Module> = graph
        .keys()
        .map(|m| m[..m.len().saturating_sub(1)].to_vec())
        .collect();
    parents.insert(Vec::new());
    let mut found = Vec::new();
    for parent in parents {
        // Edges between the children of `parent`: from the child holding the importing file
        // to the child holding the imported path.
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (module, targets) in &graph {
            if module.len() <= parent.len() || module[..parent.len()] != parent[..] {
                continue;
            }
            let from = &module[parent.len()];
            for target in targets {
                if target.len() <= parent.len() || target[..parent.len()] != parent[..] {
                    continue;
                }
                let to = &target[parent.len()];
                if to != from
                    && graph
                        .keys()
                        .any(|m| m.starts_with(&target[..=parent.len()]))
                {
                    edges.entry(from.clone()).or_default().insert(to.clone());
                }
            }
        }
        if let Some(cycle) = find_cycle(&edges) {
            let at = if parent.is_empty() {
                "crate root".to_owned()
            } else {
                parent.join("::")
            };
            found.push(format!("{} ({at}): {}", src.display(), cycle.join(" → ")));
        }
    }
    found
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let root = workspace();
    let mut found = Vec::new();
    for krate in [
        "proto",
        "ingest-engine/storage",
        "ingest-engine",
        "control-plane",
        "probe",
        "benches",
    ] {
        found.extend(cycles(&root.join(krate).join("src")));
    }
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle_and_resolves_super_and_groups() {
    let dir = tempfile_dir();
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a; mod b;").unwrap();
    std::fs::write(src.join("a/mod.rs"), "mod x; mod y;\nuse crate::{b::B, c};").unwrap();
    std::fs::write(src.join("a/x.rs"), "use super::y::Y;").unwrap();
    std::fs::write(
        src.join("a/y.rs"),
        "pub struct Y;\n#[cfg(test)]\nuse super::x;",
    )
    .unwrap();
    std::fs::write(src.join("b.rs"), "pub struct B;").unwrap();
    assert!(cycles(&src).is_empty(), "{:?}", cycles(&src));
    std::fs::write(src.join("b.rs"), "use crate::a::x;").unwrap();
    let found = cycles(&src);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("a → b → a") || found[0].contains("b → a → b"));
    std::fs::write(src.join("b.rs"), "").unwrap();
    std::fs::write(src.join("a/y.rs"), "use super::x::X;").unwrap();
    let found = cycles(&src);
    assert!(found[0].contains("(a): x → y → x"), "{found:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-layering-{}", std::process::id()));
    let _ignored = std::fs::remove_dir_all(&dir);
    dir
}
