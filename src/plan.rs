//! Plan files: a decomposition of one feature into tasks, validated before anything is created.
//!
//! ```json
//! {
//!   "version": 1,
//!   "base": "main",
//!   "contracts": ["api/schema.ts"],
//!   "constraints": ["No new dependencies"],
//!   "gate": true,
//!   "tasks": [
//!     { "name": "db",  "brief": "Add the activity table", "scope": ["db/"],
//!       "acceptance": ["the migration applies to an empty database"] },
//!     { "name": "api", "brief": "Serve /activity", "scope": ["api/"], "after": ["db"],
//!       "acceptance": ["GET /activity returns the last 50 events"],
//!       "protect": ["tests/api_activity.rs"], "gate": false }
//!   ]
//! }
//! ```
//!
//! Unknown fields are errors (a typo such as `"afer"` must not silently drop a dependency).

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::error::bad_input;
use crate::graph;
use crate::names::validate_task_name;
use crate::scope::overlapping_entries;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    #[serde(default = "one")]
    pub version: u32,
    /// Base revision for every task (default: as for `spawn`).
    #[serde(default)]
    pub base: Option<String>,
    /// Pathspecs of the shared contracts, committed on the base: read-only for every task.
    #[serde(default)]
    pub contracts: Vec<String>,
    /// Constraints every task is given (each task may add its own).
    #[serde(default)]
    pub constraints: Vec<String>,
    /// Every task starts behind the plan review gate (a task's own `gate` overrides).
    #[serde(default)]
    pub gate: bool,
    pub tasks: Vec<PlannedTask>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedTask {
    pub name: String,
    #[serde(default)]
    pub brief: String,
    #[serde(default)]
    pub scope: Vec<String>,
    #[serde(default)]
    pub after: Vec<String>,
    #[serde(default)]
    pub acceptance: Vec<String>,
    /// The agent command as an argument vector (default: agent.command).
    #[serde(default)]
    pub command: Vec<String>,
    /// The kind of work (see `git agent cost`): lint, docs, architecture, ...
    #[serde(default)]
    pub kind: Option<String>,
    /// Pathspecs this task must not change (the tests written for it, say).
    #[serde(default)]
    pub protect: Vec<String>,
    /// Constraints this task is given, besides the plan's.
    #[serde(default)]
    pub constraints: Vec<String>,
    /// Start behind the plan review gate (default: the plan's `gate`).
    #[serde(default)]
    pub gate: Option<bool>,
}

fn one() -> u32 {
    1
}

/// What validation found. The plan may be spawned only when `errors` is empty.
#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct PlanCheck {
    /// Task names in the order they will be spawned (dependencies first).
    pub order: Vec<String>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// Reads a plan file (`-` for standard input).
pub fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let bytes = if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).context("cannot read the plan from stdin")?;
        bytes
    } else {
        std::fs::read(path).map_err(|err| bad_input(format!("cannot read plan file {}: {err}", path.display())))?
    };
    serde_json::from_slice(&bytes).map_err(|err| {
        bad_input(format!("plan file {} is not a valid plan: {err}", path.display()))
            .hint("see `git agent spawn --help` and the README for the plan format")
            .into()
    })
}

/// A task that exists already, as far as plan validation cares.
pub struct ExistingTask<'a> {
    pub name: &'a str,
    pub scope: &'a [String],
    /// Only unfinished tasks can still collide with new work.
    pub active: bool,
}

/// Validates the decomposition: names, dependencies, cycles, scope overlaps, acceptance criteria.
pub fn check_plan(plan: &Plan, existing: &[ExistingTask<'_>], allow_overlap: bool) -> PlanCheck {
    let mut check = PlanCheck::default();
    if plan.version != 1 {
        check.errors.push(format!("plan version {} is not supported; this git-agent reads version 1", plan.version));
    }
    if plan.tasks.is_empty() {
        check.errors.push("the plan has no tasks".into());
    }
    let existing_names: HashSet<&str> = existing.iter().map(|t| t.name).collect();
    let mut seen = HashSet::new();
    for task in &plan.tasks {
        if let Err(err) = validate_task_name(&task.name) {
            check.errors.push(err.message);
        } else if !seen.insert(task.name.as_str()) {
            check.errors.push(format!("task {:?} appears more than once", task.name));
        } else if existing_names.contains(task.name.as_str()) {
            check.errors.push(format!("task {:?} exists already", task.name));
        }
        if let Some(Err(why)) = task.kind.as_deref().map(crate::ops::cost::validate_kind) {
            check.errors.push(format!("task {:?}: {why}", task.name));
        }
        if task.acceptance.is_empty() {
            check.warnings.push(format!("task {:?} has no acceptance criteria", task.name));
        }
        if task.scope.is_empty() {
            check.warnings.push(format!("task {:?} has no scope: changes outside it cannot be flagged", task.name));
        }
    }

    let names: Vec<String> = plan.tasks.iter().map(|t| t.name.clone()).collect();
    let index = graph::index_by_name(&names);
    let mut deps = vec![Vec::new(); names.len()];
    for (i, task) in plan.tasks.iter().enumerate() {
        for dep in &task.after {
            match index.get(dep.as_str()) {
                Some(&d) => deps[i].push(d),
                None if existing_names.contains(dep.as_str()) => {}
                None => check.errors.push(format!(
                    "task {:?} is after {dep:?}, which is neither in the plan nor an existing task",
                    task.name
                )),
            }
        }
    }
    match graph::topo_order(&names, &deps) {
        Ok(order) => check.order = order.into_iter().map(|i| names[i].clone()).collect(),
        Err(cycle) => check.errors.push(format!("dependency cycle: {cycle}")),
    }

    let overlaps = scope_overlaps(plan, existing);
    if allow_overlap {
        check.warnings.extend(overlaps);
    } else {
        check.errors.extend(overlaps.into_iter().map(|o| format!("{o} (pass --allow-overlap to accept)")));
    }
    check
}

/// Every pair of tasks (new against new, new against active existing) whose scopes overlap.
fn scope_overlaps(plan: &Plan, existing: &[ExistingTask<'_>]) -> Vec<String> {
    let mut found = Vec::new();
    let describe = |a: &str, b: &str, pairs: Vec<(&str, &str)>| {
        let pairs: Vec<String> = pairs.iter().map(|(x, y)| format!("{x:?} ~ {y:?}")).collect();
        format!("scopes of {a:?} and {b:?} overlap: {}", pairs.join(", "))
    };
    for (i, a) in plan.tasks.iter().enumerate() {
        for b in &plan.tasks[i + 1..] {
            let pairs = overlapping_entries(&a.scope, &b.scope);
            if !pairs.is_empty() {
                found.push(describe(&a.name, &b.name, pairs));
            }
        }
        for b in existing.iter().filter(|t| t.active) {
            let pairs = overlapping_entries(&a.scope, b.scope);
            if !pairs.is_empty() {
                found.push(describe(&a.name, b.name, pairs));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(json: &str) -> Plan {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_good_plan_orders_dependencies_first() {
        let p = plan(
            r#"{"tasks":[
            {"name":"tests","after":["api","web"],"scope":["tests/"],"acceptance":["x"]},
            {"name":"web","after":["api"],"scope":["web/"],"acceptance":["x"]},
            {"name":"api","after":["db"],"scope":["api/"],"acceptance":["x"]},
            {"name":"db","scope":["db/"],"acceptance":["x"]}]}"#,
        );
        let check = check_plan(&p, &[], false);
        assert!(check.errors.is_empty(), "{:?}", check.errors);
        assert!(check.warnings.is_empty(), "{:?}", check.warnings);
        assert_eq!(check.order, ["db", "api", "web", "tests"]);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let p = plan(
            r#"{"tasks":[
            {"name":"a","after":["b"],"scope":["src/"]},
            {"name":"b","after":["a"],"scope":["src/lib.rs"]},
            {"name":"a","scope":["x"]},
            {"name":"bad/name"},
            {"name":"c","after":["ghost"]},
            {"name":"old"}]}"#,
        );
        let existing = [ExistingTask { name: "old", scope: &[], active: true }];
        let check = check_plan(&p, &existing, false);
        let all = check.errors.join("\n");
        assert!(all.contains("dependency cycle: a -> b -> a"), "{all}");
        assert!(all.contains("\"a\" appears more than once"), "{all}");
        assert!(all.contains("path separator"), "{all}");
        assert!(all.contains("\"ghost\""), "{all}");
        assert!(all.contains("\"old\" exists already"), "{all}");
        assert!(all.contains("scopes of \"a\" and \"b\" overlap"), "{all}");
        assert!(check.warnings.iter().any(|w| w.contains("no acceptance criteria")));
    }

    #[test]
    fn allow_overlap_turns_overlaps_into_warnings() {
        let p = plan(
            r#"{"tasks":[{"name":"a","scope":["src"],"acceptance":["x"]},{"name":"b","scope":["src/x"],"acceptance":["x"]}]}"#,
        );
        let check = check_plan(&p, &[], true);
        assert!(check.errors.is_empty());
        assert_eq!(check.warnings.len(), 1);
    }

    #[test]
    fn dependencies_on_existing_tasks_are_fine() {
        let p = plan(r#"{"tasks":[{"name":"api","after":["db"],"scope":["api"],"acceptance":["x"]}]}"#);
        let existing = [ExistingTask { name: "db", scope: &[], active: true }];
        assert!(check_plan(&p, &existing, false).errors.is_empty());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<Plan>(r#"{"tasks":[{"name":"a","afer":["b"]}]}"#).is_err());
    }
}
