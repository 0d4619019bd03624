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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Hazard {
    /// It changed a contract (`pathspec`, from its record).
    Contract { path: JsonPath, pathspec: String },
    /// It changed a protected path (`pathspec`, from its record's `protect` or `agent.protected`).
    Protected { path: JsonPath, pathspec: String, by: GuardSource },
    /// It added a dependency to a manifest, under a "no new dependencies" constraint.
    /// (`section`: where in the manifest, e.g. `dev-dependencies`; for a manifest that cannot
    /// be read, `dependency` is `?` and `section` says why.)
    NewDependency { path: JsonPath, dependency: String, section: String },
    /// It changed a lock file, under a "no new dependencies" constraint.
    LockFile { path: JsonPath },
}

/// Where a protection comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
            Hazard::NewDependency { path, dependency, section } => {
                format!("adds dependency {dependency} ({section}) in {path} (constraint: no new dependencies)")
            }
            Hazard::LockFile { path } => format!("changes lock file {path} (constraint: no new dependencies)"),
        }
    }
}

/// The first guard pathspec of `guards` that `path` falls under.
pub fn guard_of<'a>(guards: &'a [String], path: &BStr) -> Option<&'a String> {
    guards.iter().find(|pathspec| crate::scope::contains(std::slice::from_ref(*pathspec), path))
}

/// Can the task have hazards at all? Callers skip its (tree-diffing) own changes when not.
pub fn guarded(record: &TaskRecord, protected: &[String]) -> bool {
    !record.protect.is_empty()
        || !record.contracts.is_empty()
        || !protected.is_empty()
        || no_new_dependencies(&record.constraints)
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

/// Do `words` start with "dependencies" (or "deps", "dependency") as a noun of its own? The
/// singular followed by another noun modifies it ("dependency injection", "dependency
/// graph"): that is about something else.
fn names_dependencies(words: &[String]) -> bool {
    const THEN: &[&str] = &[
        "and", "or", "is", "are", "allowed", "may", "should", "must", "unless", "without", "please", "added", "at",
        "in", "to", "for", "of", "beyond", "except", "other", "than",
    ];
    match words {
        [] => false,
        [word, rest @ ..] => match word.as_str() {
            "dependencies" | "deps" => true,
            "dependency" | "dep" => rest.first().is_none_or(|next| THEN.contains(&next.as_str())),
            _ => false,
        },
    }
}

/// Does one of the constraints forbid new dependencies? ("No new dependencies", "no new
/// deps.", "Do not add new dependencies", in any case.)
pub fn no_new_dependencies(constraints: &[String]) -> bool {
    constraints.iter().any(|constraint| {
        let words: Vec<String> =
            constraint.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
        (0..words.len().saturating_sub(1)).any(|i| words[i] == "new" && names_dependencies(&words[i + 1..]))
            && (words.iter().any(|w| matches!(w.as_str(), "no" | "not" | "never" | "without" | "avoid" | "dont"))
                // "don't", "mustn't", "shouldn't": the apostrophe splits the word.
                || words.windows(2).any(|pair| pair[0].ends_with('n') && pair[1] == "t"))
    })
}

/// Under a "no new dependencies" constraint: each dependency the task's own changes add to a
/// manifest, and each lock file they change. A manifest that cannot be read at the tip is a
/// hazard too: the constraint cannot be shown to hold.
fn dependency_hazards(repo: &gix::Repository, own: &OwnChanges) -> anyhow::Result<Vec<Hazard>> {
    let mut found: Vec<Hazard> = own
        .paths
        .iter()
        .filter(|path| crate::manifest::is_lock_file(path))
        .map(|path| Hazard::LockFile { path: JsonPath(path.clone()) })
        .collect();
    if !own.paths.iter().any(|path| crate::manifest::is_manifest(path)) {
        return Ok(found);
    }
    let tree = |commit| -> anyhow::Result<gix::ObjectId> { Ok(repo.find_commit(commit)?.tree_id()?.detach()) };
    // A dependency its dependencies added (to a manifest it changed too) is theirs.
    let mut inherited = Vec::new();
    for &tip in &own.inherited_tips {
        inherited
            .extend(crate::manifest::added_dependencies(repo, tree(own.merge_base)?, tree(tip)?).unwrap_or_default());
    }
    match crate::manifest::added_dependencies(repo, tree(own.merge_base)?, tree(own.head)?) {
        Ok(added) => found.extend(
            added
                .into_iter()
                // Only the task's own manifests: one it inherited from a dependency is that one's.
                .filter(|dep| own.paths.iter().any(|path| path == dep.manifest.as_bytes()))
                .filter(|dep| !inherited.contains(dep))
                .map(|dep| Hazard::NewDependency {
                    path: JsonPath(dep.manifest.into()),
                    dependency: dep.name,
                    section: dep.section,
                }),
        ),
        Err(err) => {
            let manifest = own.paths.iter().find(|path| crate::manifest::is_manifest(path)).cloned();
            found.push(Hazard::NewDependency {
                path: JsonPath(manifest.unwrap_or_default()),
                dependency: "?".into(),
                section: format!("{err:#}"),
            })
        }
    }
    Ok(found)
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
        for no in [
            "Keep the API stable",
            "new dependencies welcome",
            "no new files",
            "No new dependency injection framework",
            "no new dependency graph tooling",
        ] {
            assert!(!no_new_dependencies(&[no.to_owned()]), "{no}");
        }
    }
}
