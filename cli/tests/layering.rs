//! The layers of cli/src (README "Layout"): every module belongs to one layer and imports
//! (`crate::…` paths) only from its own module or from lower layers, and no modules import each
//! other in a circle. Read from the source text, so a new module or an upward `use` fails here
//! with the file and the path named.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first. Modules of one layer may not import each other.
const LAYERS: &[&[&str]] = &[
    &["sys"],
    &["daemon"],
    &["servers"],
    &["targets"],
    &["config"],
    &["report"],
    &["cmd", "tofurkey"],
    &["man", "fuzzing"],
];

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&top))
}

/// Every .rs file under `dir` (recursively), sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file relative to src/ ("servers::nginx"; `mod.rs` is its directory);
/// `None` for lib.rs and the binaries.
fn module_of(rel: &Path) -> Option<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    (!parts.is_empty()).then(|| parts.join("::"))
}

/// The source without `//` comments (doc comments name modules without importing them).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The module paths named after `crate::` (`crate::a::b::C`, and each item of
/// `crate::{a::b, c}`), as lists of segments.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = code[at..].find("crate::") {
        let start = at + i;
        at = start + "crate::".len();
        if start > 0 && (is_ident(bytes[start - 1]) || bytes[start - 1] == b':') {
            continue; // `$crate::` or `keywheel_crate::`
        }
        if bytes.get(at) == Some(&b'{') {
            // A group: its top-level items, each up to a ',' or a nested '{'.
            let mut depth = 0;
            let mut item = String::new();
            for &b in &bytes[at..] {
                match b {
                    b'{' => {
                        depth += 1;
                        if depth == 2 {
                            found.push(segments(&item));
                        }
                    }
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            found.push(segments(&item));
                            break;
                        }
                    }
                    b',' if depth == 1 => {
                        found.push(segments(&item));
                        item.clear();
                    }
                    _ if depth == 1 => item.push(char::from(b)),
                    _ => {}
                }
                if depth == 1 && b == b'{' {
                    item.clear();
                }
            }
        } else {
            let end = bytes[at..]
                .iter()
                .position(|&b| !(is_ident(b) || b == b':'))
                .map_or(bytes.len(), |n| at + n);
            found.push(segments(&code[at..end]));
        }
    }
    found.retain(|p| !p.is_empty());
    found
}

fn segments(path: &str) -> Vec<String> {
    path.trim()
        .split("::")
        .map(str::trim)
        .take_while(|s| !s.is_empty() && s.bytes().all(is_ident))
        .map(str::to_owned)
        .collect()
}

/// The problems of the tree at `src`: modules outside every layer, imports upwards or
/// sideways between layers, and circles of modules.
fn problems(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut modules: BTreeMap<String, (PathBuf, String)> = BTreeMap::new();
    for path in &files {
        let rel = path.strip_prefix(src).unwrap();
        if let Some(module) = module_of(rel) {
            let text = fs::read_to_string(path).unwrap();
            modules.insert(module, (rel.to_owned(), code(&text)));
        }
    }
    let mut problems = Vec::new();
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (module, (rel, code)) in &modules {
        let top = module.split("::").next().unwrap_or_default();
        let Some(layer) = layer_of(top) else {
            problems.push(format!(
                "{}: module {top} is in no layer (add it to LAYERS in cli/tests/layering.rs \
                 and to README \"Layout\")",
                rel.display()
            ));
            continue;
        };
        for path in crate_paths(code) {
            let target_top = path[0].as_str();
            let shown = path.join("::");
            if target_top != top {
                match layer_of(target_top) {
                    Some(l) if l < layer => {}
                    Some(l) if l == layer => problems.push(format!(
                        "{}: crate::{shown} imports {target_top}, a module of the same layer",
                        rel.display()
                    )),
                    Some(_) => problems.push(format!(
                        "{}: crate::{shown} imports upwards: {target_top} is a higher layer \
                         than {top}",
                        rel.display()
                    )),
                    None => {}
                }
            }
            // The longest module the path names, for the circle check.
            let target = (1..=path.len())
                .rev()
                .map(|k| path[..k].join("::"))
                .find(|m| modules.contains_key(m));
            if let Some((target, _)) = target.and_then(|t| modules.get_key_value(&t)) {
                let is_ancestor = module.starts_with(&format!("{target}::"));
                if target != module && !is_ancestor {
                    edges.entry(module).or_default().insert(target);
                }
            }
        }
    }
    // Circles: a depth-first search that meets a module on its own stack.
    fn visit<'a>(
        m: &'a str,
        edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
        circles: &mut Vec<String>,
    ) {
        state.insert(m, 1);
        stack.push(m);
        for &next in edges.get(m).into_iter().flatten() {
            match state.get(next) {
                Some(1) => {
                    let from = stack.iter().position(|&s| s == next).unwrap_or(0);
                    let mut circle: Vec<&str> = stack[from..].to_vec();
                    circle.push(next);
                    circles.push(format!(
                        "modules import each other in a circle: {}",
                        circle.join(" -> ")
                    ));
                }
                Some(_) => {}
                None => visit(next, edges, state, stack, circles),
            }
        }
        stack.pop();
        state.insert(m, 2);
    }
    let mut state = BTreeMap::new();
    for m in modules.keys() {
        if !state.contains_key(m.as_str()) {
            visit(m, &edges, &mut state, &mut Vec::new(), &mut problems);
        }
    }
    problems
}

#[test]
fn cli_src_imports_only_downwards_without_circles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = problems(&src);
    assert!(
        problems.is_empty(),
        "layering of cli/src broken:\n{}",
        problems.join("\n")
    );
}

/// The checker itself, on a small tree written here: it must see each kind of problem.
#[test]
fn the_checker_finds_upward_imports_circles_and_strays() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let path = src.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod sys;\nmod daemon;\nmod extra;\n");
    write(
        "sys/mod.rs",
        "mod a;\nmod b;\nuse crate::daemon::Loop; // upward\n",
    );
    write("sys/a.rs", "use crate::sys::b::X;\n");
    write("sys/b.rs", "use crate::{sys::a::Y, sys::os};\n");
    write(
        "daemon/mod.rs",
        "use crate::{sys::{a, b}};\n// use crate::cmd::X; (a comment)\n",
    );
    write("extra.rs", "\n");
    let found = problems(src);
    let has = |needle: &str| found.iter().any(|p| p.contains(needle));
    assert!(
        has("sys/mod.rs: crate::daemon::Loop imports upwards"),
        "{found:#?}"
    );
    assert!(has("circle: sys::a -> sys::b -> sys::a"), "{found:#?}");
    assert!(has("circle: daemon -> sys -> daemon"), "{found:#?}");
    assert!(has("extra.rs: module extra is in no layer"), "{found:#?}");
    assert_eq!(found.len(), 4, "{found:#?}");
}
