//! Dependency manifests and lock files: which dependencies a change adds.
//!
//! Known manifests, at any depth of the tree: `Cargo.toml` (`[dependencies]`,
//! `[dev-dependencies]`, `[build-dependencies]`, the same under `[target.<cfg>]`, and
//! `[workspace.dependencies]`), `package.json` (`dependencies`, `devDependencies`,
//! `peerDependencies`, `optionalDependencies`), `requirements*.txt`, `pyproject.toml`
//! (`[project].dependencies`, `[project.optional-dependencies]`, `[tool.poetry.dependencies]`
//! and `[tool.poetry.dev-dependencies]`) and `go.mod` (`require`). A dependency is added when
//! its name appears in a section of a manifest at the tip and not in the same section of the
//! same manifest at the base; a changed version is not an added dependency. Python names are
//! compared normalised as PEP 503 says (lower case, runs of `-`, `_`, `.` as one `-`).

use std::collections::BTreeSet;

use anyhow::Context as _;
use bstr::{BString, ByteSlice};
use gix::ObjectId;
use serde::Serialize;

/// A dependency a manifest has at the tip and did not have at the base.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub struct AddedDependency {
    /// The manifest's path in the tree, `/`-separated.
    pub manifest: String,
    pub name: String,
    /// Where in the manifest: `dependencies`, `dev-dependencies`, `target.<cfg>.dependencies`,
    /// `devDependencies`, `requirements`, `project.dependencies`, `require`, ...
    pub section: String,
}

/// The kinds of manifest this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cargo,
    Npm,
    Requirements,
    Pyproject,
    GoMod,
}

fn kind_of(path: &[u8]) -> Option<Kind> {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    match name {
        b"Cargo.toml" => Some(Kind::Cargo),
        b"package.json" => Some(Kind::Npm),
        b"pyproject.toml" => Some(Kind::Pyproject),
        b"go.mod" => Some(Kind::GoMod),
        _ if name.starts_with(b"requirements") && name.ends_with(b".txt") => Some(Kind::Requirements),
        _ => None,
    }
}

/// Whether `path` (any depth) is a dependency manifest this module reads.
pub fn is_manifest(path: &[u8]) -> bool {
    kind_of(path).is_some()
}

/// Whether `path` (any depth) declares or pins dependencies: a manifest this module reads, a
/// lock file, or a manifest it does not read (Pipfile, Gemfile, composer.json).
pub fn is_dependency_file(path: &[u8]) -> bool {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    is_manifest(path) || is_lock_file(path) || matches!(name, b"Pipfile" | b"Gemfile" | b"composer.json")
}

/// Whether `path` (any depth) is a lock file of a known package manager.
pub fn is_lock_file(path: &[u8]) -> bool {
    const LOCK_FILES: &[&[u8]] = &[
        b"Cargo.lock",
        b"package-lock.json",
        b"npm-shrinkwrap.json",
        b"yarn.lock",
        b"pnpm-lock.yaml",
        b"poetry.lock",
        b"uv.lock",
        b"Pipfile.lock",
        b"go.sum",
        b"Gemfile.lock",
        b"composer.lock",
    ];
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    LOCK_FILES.contains(&name)
}

/// The dependencies added between two trees, in the manifests that differ between them,
/// sorted by manifest, section and name. A manifest the tip cannot parse is an error naming
/// it; one the base cannot parse counts as having had no dependencies.
pub fn added_dependencies(
    repo: &gix::Repository,
    base_tree: ObjectId,
    tip_tree: ObjectId,
) -> anyhow::Result<Vec<AddedDependency>> {
    if base_tree == tip_tree {
        return Ok(Vec::new());
    }
    let old = repo.find_tree(base_tree)?;
    let new = repo.find_tree(tip_tree)?;
    let mut changed: Vec<BString> = Vec::new();
    old.changes()?
        .options(|options| {
            options.track_rewrites(None);
        })
        .for_each_to_obtain_tree(&new, |change| {
            if !change.entry_mode().is_tree() && is_manifest(change.location()) {
                changed.push(change.location().to_owned());
            }
            Ok(std::ops::ControlFlow::Continue(()))
        })?;
    let mut added = Vec::new();
    for path in changed {
        let kind = kind_of(&path).expect("only manifests were kept");
        let manifest = path.to_str_lossy().into_owned();
        let Some(tip) = blob_text(repo, &new, &path)? else { continue };
        let now = dependencies(kind, &tip).with_context(|| format!("cannot read the manifest {manifest}"))?;
        let before = match blob_text(repo, &old, &path)? {
            Some(text) => dependencies(kind, &text).unwrap_or_default(),
            None => BTreeSet::new(),
        };
        for (section, name) in now.difference(&before) {
            added.push(AddedDependency { manifest: manifest.clone(), name: name.clone(), section: section.clone() });
        }
    }
    added.sort();
    Ok(added)
}

/// The text of the blob at `path` in `tree`, if there is one (lossy: manifests are UTF-8).
fn blob_text(repo: &gix::Repository, tree: &gix::Tree<'_>, path: &[u8]) -> anyhow::Result<Option<String>> {
    let Some((mode, id)) = crate::git::entry_at(tree, path)? else { return Ok(None) };
    if !mode.is_blob() {
        return Ok(None);
    }
    let blob = repo.find_blob(id)?;
    Ok(Some(blob.data.to_str_lossy().into_owned()))
}

/// (section, name) of every dependency the manifest declares.
type Declared = BTreeSet<(String, String)>;

fn dependencies(kind: Kind, text: &str) -> anyhow::Result<Declared> {
    match kind {
        Kind::Cargo => cargo(text),
        Kind::Npm => npm(text),
        Kind::Requirements => Ok(requirements(text)),
        Kind::Pyproject => pyproject(text),
        Kind::GoMod => Ok(go_mod(text)),
    }
}

const CARGO_SECTIONS: &[&str] = &["dependencies", "dev-dependencies", "build-dependencies"];

fn cargo(text: &str) -> anyhow::Result<Declared> {
    let doc: toml::Table = text.parse()?;
    let mut found = Declared::new();
    let mut take = |prefix: &str, table: &toml::Table| {
        for section in CARGO_SECTIONS {
            if let Some(deps) = table.get(*section).and_then(|v| v.as_table()) {
                for name in deps.keys() {
                    found.insert((format!("{prefix}{section}"), name.clone()));
                }
            }
        }
    };
    take("", &doc);
    if let Some(targets) = doc.get("target").and_then(|v| v.as_table()) {
        for (cfg, table) in targets {
            if let Some(table) = table.as_table() {
                take(&format!("target.{cfg}."), table);
            }
        }
    }
    if let Some(deps) = doc.get("workspace").and_then(|w| w.get("dependencies")).and_then(|v| v.as_table()) {
        for name in deps.keys() {
            found.insert(("workspace.dependencies".to_owned(), name.clone()));
        }
    }
    Ok(found)
}

fn npm(text: &str) -> anyhow::Result<Declared> {
    let doc: serde_json::Value = serde_json::from_str(text)?;
    let mut found = Declared::new();
    for section in ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"] {
        if let Some(deps) = doc.get(section).and_then(|v| v.as_object()) {
            for name in deps.keys() {
                found.insert((section.to_owned(), name.clone()));
            }
        }
    }
    Ok(found)
}

/// The project name a PEP 508 requirement (`requests[socks]>=2; python_version<"3.8"`) is
/// for, normalised; `None` for an empty one.
fn pep508_name(requirement: &str) -> Option<String> {
    let name: String =
        requirement.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
    if name.is_empty() {
        return None;
    }
    let mut normal = String::with_capacity(name.len());
    for c in name.to_ascii_lowercase().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !normal.ends_with('-') {
                normal.push('-');
            }
        } else {
            normal.push(c);
        }
    }
    Some(normal)
}

/// `requirements*.txt`: one requirement a line; comments, options (`-r`, `-e`, `--index-url`)
/// and URLs without a name are not dependencies by name.
fn requirements(text: &str) -> Declared {
    text.lines()
        .map(|line| line.split(" #").next().unwrap_or(line).trim())
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('-') && !line.contains("://"))
        .filter_map(pep508_name)
        .map(|name| ("requirements".to_owned(), name))
        .collect()
}

fn pyproject(text: &str) -> anyhow::Result<Declared> {
    let doc: toml::Table = text.parse()?;
    let mut found = Declared::new();
    let project = doc.get("project");
    let pep508 = |values: Option<&toml::Value>| -> Vec<String> {
        values
            .and_then(|v| v.as_array())
            .map(|list| list.iter().filter_map(|v| v.as_str()).filter_map(pep508_name).collect())
            .unwrap_or_default()
    };
    for name in pep508(project.and_then(|p| p.get("dependencies"))) {
        found.insert(("project.dependencies".to_owned(), name));
    }
    if let Some(groups) = project.and_then(|p| p.get("optional-dependencies")).and_then(|v| v.as_table()) {
        for (group, list) in groups {
            for name in pep508(Some(list)) {
                found.insert((format!("project.optional-dependencies.{group}"), name));
            }
        }
    }
    let poetry = doc.get("tool").and_then(|t| t.get("poetry"));
    for section in ["dependencies", "dev-dependencies"] {
        if let Some(deps) = poetry.and_then(|p| p.get(section)).and_then(|v| v.as_table()) {
            // `python` is the interpreter constraint, not a package.
            for name in deps.keys().filter(|k| *k != "python").filter_map(|k| pep508_name(k)) {
                found.insert((format!("tool.poetry.{section}"), name));
            }
        }
    }
    Ok(found)
}

/// `go.mod`: `require path version` lines and `require ( ... )` blocks.
fn go_mod(text: &str) -> Declared {
    let mut found = Declared::new();
    let mut in_block = false;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        let module = if in_block {
            if line.starts_with(')') {
                in_block = false;
                continue;
            }
            line
        } else if let Some(rest) = line.strip_prefix("require") {
            let rest = rest.trim();
            if rest.starts_with('(') {
                in_block = true;
                continue;
            }
            rest
        } else {
            continue;
        };
        if let Some(path) = module.split_whitespace().next() {
            found.insert(("require".to_owned(), path.to_owned()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(declared: &Declared) -> Vec<String> {
        declared.iter().map(|(section, name)| format!("{section}:{name}")).collect()
    }

    #[test]
    fn cargo_sections() {
        let text = r#"
[package]
name = "x"
[dependencies]
serde = "1"
[dev-dependencies]
tempfile = "3"
[build-dependencies.cc]
version = "1"
[target.'cfg(unix)'.dependencies]
rustix = "1"
[workspace.dependencies]
anyhow = "1"
"#;
        assert_eq!(
            names(&cargo(text).unwrap()),
            [
                "build-dependencies:cc",
                "dependencies:serde",
                "dev-dependencies:tempfile",
                "target.cfg(unix).dependencies:rustix",
                "workspace.dependencies:anyhow"
            ]
        );
        assert!(cargo("[dependencies\n").is_err());
    }

    #[test]
    fn npm_sections() {
        let text = r#"{"name": "x", "dependencies": {"left-pad": "1"}, "devDependencies": {"jest": "29"},
            "peerDependencies": {"react": "18"}, "optionalDependencies": {"fsevents": "2"}, "scripts": {"t": "x"}}"#;
        assert_eq!(
            names(&npm(text).unwrap()),
            [
                "dependencies:left-pad",
                "devDependencies:jest",
                "optionalDependencies:fsevents",
                "peerDependencies:react"
            ]
        );
    }

    #[test]
    fn requirements_lines() {
        let text = "# pinned\nRequests[socks]>=2.0 ; python_version < '3.8'\n-r base.txt\n\n-e .\nzope.interface==5 # why\nhttps://x/y.whl\n";
        assert_eq!(names(&requirements(text)), ["requirements:requests", "requirements:zope-interface"]);
    }

    #[test]
    fn pyproject_sections() {
        let text = r#"
[project]
name = "x"
dependencies = ["httpx>=0.27", "Typing_Extensions"]
[project.optional-dependencies]
test = ["pytest"]
[tool.poetry.dependencies]
python = "^3.11"
django = "5"
"#;
        assert_eq!(
            names(&pyproject(text).unwrap()),
            [
                "project.dependencies:httpx",
                "project.dependencies:typing-extensions",
                "project.optional-dependencies.test:pytest",
                "tool.poetry.dependencies:django"
            ]
        );
    }

    #[test]
    fn go_mod_requires() {
        let text = "module x\n\ngo 1.22\n\nrequire github.com/a/b v1.0.0\nrequire (\n\tgolang.org/x/sys v0.1.0 // indirect\n\tgithub.com/c/d v2.0.0\n)\n";
        assert_eq!(
            names(&go_mod(text)),
            ["require:github.com/a/b", "require:github.com/c/d", "require:golang.org/x/sys"]
        );
    }

    #[test]
    fn file_kinds() {
        assert!(is_manifest(b"crates/x/Cargo.toml"));
        assert!(is_manifest(b"requirements-dev.txt"));
        assert!(!is_manifest(b"docs/requirements.md"));
        assert!(!is_manifest(b"Cargo.toml.orig"));
        assert!(is_lock_file(b"web/yarn.lock"));
        assert!(is_lock_file(b"go.sum"));
        assert!(!is_lock_file(b"go.mod"));
    }
}
