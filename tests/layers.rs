//! The crate's modules import one way (issue 12), checked on the source text with the
//! command anyone can run: `cargo test -p keepalive --test layers`. Each file's imports
//! (`use` lines and `crate::` / `super::` / child-module paths in code) are resolved to the
//! module they name; the graph of those modules must have no cycle, and must follow the
//! layers of ARCHITECTURE.md, top to bottom. A failure names the file and line.
//!
//! The units are the crate's top-level modules, and inside `daemon` its files (a folder such
//! as `daemon/round/` counts as one unit: its parts are one layer). `lib.rs` only declares
//! the modules, so its own lines are not edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top to bottom: a unit may import units of its own row's layer only if listed
/// further right, and any unit of a lower row. Everything not listed is a leaf helper, which
/// may import no listed unit.
const LAYERS: &[&[&str]] = &[
    &["client"],
    &["daemon"],
    &["daemon::once"],
    &["daemon::server", "daemon::scheduler", "daemon::exit_with"],
    &["daemon::handler"],
    &["daemon::touch"],
    &["daemon::state"],
    &["daemon::setup"],
    &["daemon::agent"],
    &["daemon::metrics"],
    &["daemon::round"],
    &["daemon::socket", "daemon::readiness"],
    &["resets"],
    &["policy"],
    &["openclaw"],
];

/// An import: from the unit of `file:line` to `to`.
struct Edge {
    to: String,
    at: String,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file: `daemon/round/plan.rs` -> `daemon::round::plan`,
/// `daemon/mod.rs` -> `daemon`, `lib.rs` -> ``.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The unit a module belongs to: its top-level module, or `daemon::<file>`.
fn unit_of(module: &[String]) -> String {
    match module {
        [] => String::new(),
        [first, second, ..] if first == "daemon" => format!("daemon::{second}"),
        [first, ..] => first.clone(),
    }
}

/// Expands a `use` tree such as `super::{a, b::{c, d}}` into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').expect("closing brace")];
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(expand)
        .map(|tail| format!("{prefix}{tail}"))
        .collect()
}

/// The paths a line of code names that start with `crate::`, `super::` or `self::`, or with
/// one of `children` (modules declared in this file).
fn paths_in(code: &str, children: &BTreeSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if word(bytes[i]) && (i == 0 || (!word(bytes[i - 1]) && bytes[i - 1] != b':')) {
            let mut end = i;
            while end < bytes.len() && (word(bytes[end]) || code[end..].starts_with("::")) {
                end += if code[end..].starts_with("::") { 2 } else { 1 };
            }
            let path = code[i..end].trim_end_matches("::");
            let first = path.split("::").next().unwrap_or("");
            if path.contains("::")
                && (["crate", "super", "self"].contains(&first) || children.contains(first))
            {
                found.push(path.to_string());
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

/// The module a path names, resolved from `module`: the longest prefix that is a module.
fn target(path: &str, module: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut segments = path.split("::").peekable();
    let mut at: Vec<String> = match segments.peek().copied() {
        Some("crate") => {
            segments.next();
            Vec::new()
        }
        _ => module.to_vec(),
    };
    while let Some(&s) = segments.peek() {
        match s {
            "super" => {
                at.pop()?;
            }
            "self" => {}
            _ => break,
        }
        segments.next();
    }
    for s in segments {
        let mut next = at.clone();
        next.push(s.to_string());
        if !modules.contains(&next) {
            break;
        }
        at = next;
    }
    Some(at)
}

/// Every import between two different units, by the unit it starts from.
fn imports() -> BTreeMap<String, Vec<Edge>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.retain(|f| !f.starts_with(src().join("bin")));
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(f)).collect();
    let mut graph: BTreeMap<String, Vec<Edge>> = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        let from = unit_of(&module);
        if from.is_empty() {
            continue;
        }
        let children: BTreeSet<String> = modules
            .iter()
            .filter(|m| m.len() == module.len() + 1 && m.starts_with(&module))
            .map(|m| m[module.len()].clone())
            .collect();
        let text = std::fs::read_to_string(file).expect("read source");
        let mut statement = String::new();
        // Inline modules (`mod tests { ... }`) open here, with the brace depth outside them:
        // `super::` inside one names the file's own module.
        let (mut inline, mut depth): (Vec<(String, i32)>, i32) = (Vec::new(), 0);
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("").trim();
            let opens = code
                .strip_prefix("pub ")
                .unwrap_or(code)
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix('{'));
            if let Some(name) = opens {
                inline.push((name.trim().to_string(), depth));
            }
            depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
            if inline.last().is_some_and(|(_, outside)| depth <= *outside) {
                inline.pop();
            }
            let mut module = module.clone();
            module.extend(inline.iter().map(|(name, _)| name.clone()));
            let mut paths = Vec::new();
            let is_use = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
                .iter()
                .any(|start| code.starts_with(start));
            if is_use || !statement.is_empty() {
                statement.push_str(code);
                if code.ends_with(';') {
                    let tree = statement.trim_end_matches(';');
                    let tree = tree.split_once("use ").map_or(tree, |(_, t)| t);
                    paths.extend(expand(tree).into_iter().map(|p| {
                        let p = p.split(" as ").next().unwrap_or(&p).trim().to_string();
                        p.replace(' ', "")
                    }));
                    statement.clear();
                }
            } else {
                paths.extend(paths_in(code, &children));
            }
            for path in paths {
                let Some(to) = target(&path, &module, &modules) else {
                    continue;
                };
                let to = unit_of(&to);
                if to != from && !to.is_empty() {
                    let at = format!("{}:{}: {}", file.display(), n + 1, line.trim());
                    graph.entry(from.clone()).or_default().push(Edge { to, at });
                }
            }
        }
    }
    graph
}

/// A cycle in `graph`, as the lines that make it, if there is one.
fn cycle(graph: &BTreeMap<String, Vec<Edge>>) -> Option<Vec<String>> {
    fn visit<'g>(
        unit: &'g str,
        graph: &'g BTreeMap<String, Vec<Edge>>,
        done: &mut BTreeSet<&'g str>,
        path: &mut Vec<(&'g str, &'g str)>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|(u, _)| *u == unit) {
            return Some(path[start..].iter().map(|(_, at)| at.to_string()).collect());
        }
        if !done.insert(unit) {
            return None;
        }
        for edge in graph.get(unit).into_iter().flatten() {
            path.push((unit, &edge.at));
            if let Some(found) = visit(&edge.to, graph, done, path) {
                return Some(found);
            }
            path.pop();
        }
        None
    }
    let mut done = BTreeSet::new();
    for unit in graph.keys() {
        let mut path = Vec::new();
        if let Some(found) = visit(unit, graph, &mut done, &mut path) {
            return Some(found);
        }
    }
    None
}

/// Where `unit` stands: (row, place in the row); leaf helpers stand below every row.
fn rank(unit: &str) -> (usize, usize) {
    for (row, units) in LAYERS.iter().enumerate() {
        if let Some(place) = units.iter().position(|u| *u == unit) {
            return (row, place);
        }
    }
    (LAYERS.len(), 0)
}

#[test]
fn no_import_cycle_among_the_modules() {
    let graph = imports();
    assert_eq!(cycle(&graph), None, "an import cycle, line by line");
}

#[test]
fn every_import_goes_down_the_layers() {
    let mut upward = Vec::new();
    for (from, edges) in imports() {
        for edge in edges {
            let ((row, place), (to_row, to_place)) = (rank(&from), rank(&edge.to));
            let leaf = row == LAYERS.len();
            let down = to_row > row || (to_row == row && to_place > place && !leaf);
            if !(down || leaf && to_row == LAYERS.len()) {
                upward.push(format!("{from} -> {}: {}", edge.to, edge.at));
            }
        }
    }
    assert_eq!(upward, Vec::<String>::new(), "imports that go up a layer");
}

/// The checks see what they must: without these, the tests above could pass by reading
/// nothing.
#[test]
fn the_checks_see_imports_and_cycles() {
    let graph = imports();
    let from_handler: BTreeSet<&str> = graph["daemon::handler"]
        .iter()
        .map(|e| e.to.as_str())
        .collect();
    assert!(from_handler.contains("daemon::state"), "{from_handler:?}");
    assert!(from_handler.contains("daemon::touch"), "{from_handler:?}");
    let edge = |to: &str, at: &str| Edge {
        to: to.into(),
        at: at.into(),
    };
    let looped = BTreeMap::from([
        ("a".to_string(), vec![edge("b", "a.rs:1")]),
        ("b".to_string(), vec![edge("c", "b.rs:1")]),
        ("c".to_string(), vec![edge("a", "c.rs:1")]),
    ]);
    assert_eq!(
        cycle(&looped),
        Some(vec!["a.rs:1".into(), "b.rs:1".into(), "c.rs:1".into()])
    );
    assert_eq!(
        expand("super::{a, b::{c, d}}"),
        ["super::a", "super::b::c", "super::b::d"]
    );
}
