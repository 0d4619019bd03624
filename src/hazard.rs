//! Guard hazards: what a task's branch changed that its guards forbid. A task's own changes
//! (see [`crate::stack::own_changed_paths`]) may not touch
//! - a contract (`contracts`: the shared interfaces committed on the base before the agents
//!   started, read-only for every task),
//! - a protected path (the task's `protect`, or git config `agent.protected` for every task),
//! - and, under a "no new dependencies" constraint, a dependency manifest may not gain a
//!   dependency (nor a lock file change).
//!
//! `list` and `conflicts` show hazards; `integrate` refuses a task with any unless the user
//! allows it by name (`--allow-contract-change[=TASK]`).

use bstr::{BStr, ByteSlice};
use serde::Serialize;

use crate::output::JsonPath;
use crate::stack::OwnChanges;
use crate::state::TaskRecord;

/// One thing a task changed that it should not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Hazard {
    /// It changed a contract (`pathspec`, from its record).
    Contract { path: JsonPath, pathspec: String },
    /// It changed a protected path (`pathspec`, from its record's `protect` or `agent.protected`).
    Protected { path: JsonPath, pathspec: String, by: GuardSource },
    /// It added a dependency to a manifest, under a "no new dependencies" constraint.
    NewDependency { path: JsonPath, dependency: String },
    /// It changed a lock file, under a "no new dependencies" constraint.
    LockFile { path: JsonPath },
}

/// Where a protection comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuardSource {
    /// The task's record (`spawn --protect`, a plan's `protect`).
    Task,
    /// Git config `agent.protected`.
    Config,
}

impl Hazard {
    pub fn path(&self) -> &JsonPath {
        match self {
            Hazard::Contract { path, .. }
            | Hazard::Protected { path, .. }
            | Hazard::NewDependency { path, .. }
            | Hazard::LockFile { path } => path,
        }
    }

    /// "changes contract api/schema.ts", for text output.
    pub fn describe(&self) -> String {
        match self {
            Hazard::Contract { path, .. } => format!("changes contract {path}"),
            Hazard::Protected { path, by: GuardSource::Task, .. } => format!("changes protected {path}"),
            Hazard::Protected { path, by: GuardSource::Config, .. } => {
                format!("changes {path}, protected by agent.protected")
            }
            Hazard::NewDependency { path, dependency } => {
                format!("adds dependency {dependency} in {path} (constraint: no new dependencies)")
            }
            Hazard::LockFile { path } => format!("changes lock file {path} (constraint: no new dependencies)"),
        }
    }
}

/// The first guard pathspec of `guards` that `path` falls under.
pub fn guard_of<'a>(guards: &'a [String], path: &BStr) -> Option<&'a String> {
    guards.iter().find(|pathspec| crate::scope::contains(std::slice::from_ref(*pathspec), path))
}

/// The hazards of a task's own changes; `protected` is `agent.protected`.
pub fn hazards(
    repo: &gix::Repository,
    record: &TaskRecord,
    protected: &[String],
    own: &OwnChanges,
) -> anyhow::Result<Vec<Hazard>> {
    let mut found = Vec::new();
    for path in &own.paths {
        let path = path.as_bstr();
        if let Some(pathspec) = guard_of(&record.contracts, path) {
            found.push(Hazard::Contract { path: JsonPath(path.to_owned()), pathspec: pathspec.clone() });
        } else if let Some(pathspec) = guard_of(&record.protect, path) {
            found.push(Hazard::Protected {
                path: JsonPath(path.to_owned()),
                pathspec: pathspec.clone(),
                by: GuardSource::Task,
            });
        } else if let Some(pathspec) = guard_of(protected, path) {
            found.push(Hazard::Protected {
                path: JsonPath(path.to_owned()),
                pathspec: pathspec.clone(),
                by: GuardSource::Config,
            });
        }
    }
    if no_new_dependencies(&record.constraints) {
        found.extend(dependency_hazards(repo, own)?);
    }
    Ok(found)
}

/// Does one of the constraints forbid new dependencies? ("No new dependencies", "no new
/// deps.", "Do not add new dependencies", in any case.)
pub fn no_new_dependencies(constraints: &[String]) -> bool {
    constraints.iter().any(|constraint| {
        let words: Vec<String> =
            constraint.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
        words
            .windows(2)
            .any(|pair| pair[0] == "new" && (pair[1].starts_with("dependenc") || pair[1] == "deps" || pair[1] == "dep"))
            && (words.iter().any(|w| matches!(w.as_str(), "no" | "not" | "never" | "without" | "avoid" | "dont"))
                // "don't", "mustn't", "shouldn't": the apostrophe splits the word.
                || words.windows(2).any(|pair| pair[0].ends_with('n') && pair[1] == "t"))
    })
}

fn dependency_hazards(repo: &gix::Repository, own: &OwnChanges) -> anyhow::Result<Vec<Hazard>> {
    let mut found = Vec::new();
    for path in &own.paths {
        let path = path.as_bstr();
        if is_lock_file(path) {
            found.push(Hazard::LockFile { path: JsonPath(path.to_owned()) });
            continue;
        }
        let Some(kind) = Manifest::of(path) else { continue };
        // A dependency the task's dependencies added is theirs, not its own.
        let mut before = Vec::new();
        for commit in std::iter::once(own.merge_base).chain(own.inherited_tips.iter().copied()) {
            before.extend(kind.dependencies(&blob_at(repo, commit, path)?));
        }
        for dependency in kind.dependencies(&blob_at(repo, own.head, path)?) {
            if !before.contains(&dependency) {
                found.push(Hazard::NewDependency { path: JsonPath(path.to_owned()), dependency });
            }
        }
    }
    Ok(found)
}

/// The text of `path` in `commit` (empty when it is not there); at most a few MB are read,
/// a manifest larger than that is judged by its start.
fn blob_at(repo: &gix::Repository, commit: gix::ObjectId, path: &BStr) -> anyhow::Result<String> {
    const MAX_MANIFEST: usize = 4 << 20;
    let tree = repo.find_commit(commit)?.tree()?;
    let Some(entry) = tree.lookup_entry_by_path(gix::path::from_bstr(path)?)? else { return Ok(String::new()) };
    if !entry.mode().is_blob() {
        return Ok(String::new());
    }
    let blob = repo.find_blob(entry.object_id())?;
    let data = &blob.data[..blob.data.len().min(MAX_MANIFEST)];
    Ok(String::from_utf8_lossy(data).into_owned())
}

/// The dependency manifests the "no new dependencies" constraint reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Manifest {
    /// Cargo.toml: the keys of every `*dependencies` table (and `[dependencies.NAME]`).
    Cargo,
    /// package.json: the keys of dependencies, devDependencies, peerDependencies,
    /// optionalDependencies.
    Npm,
    /// requirements*.txt: one requirement a line.
    Requirements,
    /// pyproject.toml: PEP 621 dependency arrays and Poetry's dependency tables.
    PyProject,
    /// go.mod: the modules of `require`.
    GoMod,
}

impl Manifest {
    fn of(path: &BStr) -> Option<Manifest> {
        let name = path.rsplit_str("/").next().unwrap_or(path);
        Some(match name.as_bytes() {
            b"Cargo.toml" => Manifest::Cargo,
            b"package.json" => Manifest::Npm,
            b"pyproject.toml" => Manifest::PyProject,
            b"go.mod" => Manifest::GoMod,
            _ if name.starts_with(b"requirements") && name.ends_with(b".txt") => Manifest::Requirements,
            _ => return None,
        })
    }

    /// The names of the dependencies `text` declares (a best effort: lines, not a full
    /// parser; what it cannot read it leaves out).
    fn dependencies(self, text: &str) -> Vec<String> {
        let mut names = Vec::new();
        match self {
            Manifest::Npm => {
                let json: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
                for table in ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"] {
                    if let Some(table) = json.get(table).and_then(serde_json::Value::as_object) {
                        names.extend(table.keys().cloned());
                    }
                }
            }
            Manifest::Requirements => {
                names.extend(text.lines().filter_map(|line| requirement_name(line.split('#').next().unwrap_or(""))));
            }
            Manifest::GoMod => {
                let mut in_block = false;
                for line in text.lines().map(|l| l.split("//").next().unwrap_or("").trim()) {
                    let spec = if in_block {
                        in_block = line != ")";
                        line.trim_end_matches(')')
                    } else if let Some(rest) = line.strip_prefix("require") {
                        in_block = rest.trim() == "(";
                        rest.trim().trim_start_matches('(')
                    } else {
                        continue;
                    };
                    names.extend(spec.split_whitespace().next().map(str::to_owned));
                }
            }
            Manifest::Cargo | Manifest::PyProject => {
                let mut section = String::new();
                let mut in_array = false;
                for line in text.lines().map(|l| l.split('#').next().unwrap_or("").trim()) {
                    let quoted = |text: &str| -> Vec<String> {
                        text.split(['"', '\'']).skip(1).step_by(2).filter_map(requirement_name).collect()
                    };
                    if in_array {
                        names.extend(quoted(line));
                        in_array = !line.contains(']');
                    } else if let Some(header) = line.strip_prefix('[') {
                        section = header.trim_matches(['[', ']', ' ']).to_owned();
                        // `[dependencies.serde]`: a dependency in a table of its own.
                        if let Some((table, name)) = section.rsplit_once('.')
                            && table.ends_with("dependencies")
                        {
                            names.push(name.trim_matches(['"', '\'']).to_owned());
                        }
                    } else if let Some((key, value)) = line.split_once('=') {
                        let key = key.trim().trim_matches('"');
                        let value = value.trim();
                        if self == Manifest::PyProject
                            && value.starts_with('[')
                            && ((section == "project" && key == "dependencies")
                                || section.ends_with("optional-dependencies"))
                        {
                            // `dependencies = ["requests>=2", ...]`, on one line or several.
                            names.extend(quoted(value));
                            in_array = !value.contains(']');
                        } else if section.ends_with("dependencies") && !key.is_empty() {
                            // `serde.workspace = true` is the dependency serde.
                            names.extend(key.split('.').next().map(str::to_owned));
                        }
                    }
                }
                if self == Manifest::PyProject {
                    // Poetry lists the interpreter among its dependencies.
                    names.retain(|name| name != "python");
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

/// The project name a requirement (`requests[socks]>=2; python_version<"3.8"`) names, in
/// lower case, or None for a blank line or an option (`-r other.txt`).
fn requirement_name(requirement: &str) -> Option<String> {
    let requirement = requirement.trim();
    let end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(requirement.len());
    let name = &requirement[..end];
    (!name.is_empty() && !requirement.starts_with('-')).then(|| name.to_ascii_lowercase().replace('_', "-"))
}

/// Lock files of the common package managers.
fn is_lock_file(path: &BStr) -> bool {
    let name = path.rsplit_str("/").next().unwrap_or(path);
    [
        "Cargo.lock",
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "poetry.lock",
        "uv.lock",
        "go.sum",
        "Gemfile.lock",
        "composer.lock",
    ]
    .iter()
    .any(|lock| name == lock.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_new_dependencies_is_recognised_in_its_usual_wordings() {
        for yes in [
            "No new dependencies",
            "no new deps.",
            "Do not add new dependencies",
            "NO NEW DEPENDENCY",
            "Don't add new dependencies",
            "Avoid new dependencies",
        ] {
            assert!(no_new_dependencies(&[yes.to_owned()]), "{yes}");
        }
        for no in ["Keep the API stable", "new dependencies welcome", "no new files"] {
            assert!(!no_new_dependencies(&[no.to_owned()]), "{no}");
        }
    }

    fn deps(kind: Manifest, text: &str) -> Vec<String> {
        kind.dependencies(text)
    }

    #[test]
    fn manifests_are_read_for_their_dependencies() {
        let cargo = "[package]\nname = \"x\"\n[dependencies]\nserde = { version = \"1\" }\nrand.workspace = true\n\
                     [dev-dependencies.proptest]\nversion = \"1\"\n[target.'cfg(unix)'.build-dependencies]\ncc = \"1\"\n";
        assert_eq!(deps(Manifest::Cargo, cargo), ["cc", "proptest", "rand", "serde"]);
        let npm = r#"{"name": "x", "dependencies": {"left-pad": "1"}, "devDependencies": {"jest": "29"}}"#;
        assert_eq!(deps(Manifest::Npm, npm), ["jest", "left-pad"]);
        let requirements = "# pinned\nRequests[socks]>=2 ; python_version > '3'\n-r base.txt\nfoo_bar==1\n";
        assert_eq!(deps(Manifest::Requirements, requirements), ["foo-bar", "requests"]);
        let pyproject = "[project]\nname = \"x\"\ndependencies = [\n  \"httpx>=0.27\",\n  'rich',\n]\n\
                         [project.optional-dependencies]\ndev = [\"pytest\"]\n[tool.poetry.dependencies]\npython = \"^3.12\"\nclick = \"8\"\n";
        assert_eq!(deps(Manifest::PyProject, pyproject), ["click", "httpx", "pytest", "rich"]);
        let gomod = "module x\n\ngo 1.22\n\nrequire golang.org/x/text v0.3.0\nrequire (\n\tgithub.com/a/b v1.0.0 // indirect\n\tgithub.com/c/d v2.0.0\n)\n";
        assert_eq!(deps(Manifest::GoMod, gomod), ["github.com/a/b", "github.com/c/d", "golang.org/x/text"]);
    }
}
