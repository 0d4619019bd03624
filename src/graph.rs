//! Dependency order between tasks: a stable topological sort that names a cycle when it
//! finds one. Shared by plan validation (spawn order) and integration (merge order).

use std::collections::HashMap;

/// A dependency cycle, as the list of task names along it; the first name is repeated at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle(pub Vec<String>);

impl std::fmt::Display for Cycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" -> "))
    }
}

/// Orders `nodes` so that every node comes after the nodes it depends on.
///
/// `deps[i]` are the indices that `nodes[i]` depends on. Among nodes that are ready at the same
/// time, the one that comes first in `nodes` goes first ("ties in spawn order"), which makes
/// the order stable and predictable.
pub fn topo_order(nodes: &[String], deps: &[Vec<usize>]) -> Result<Vec<usize>, Cycle> {
    assert_eq!(nodes.len(), deps.len());
    if let Some(cycle) = find_cycle(nodes, deps) {
        return Err(cycle);
    }
    let mut done = vec![false; nodes.len()];
    let mut order = Vec::with_capacity(nodes.len());
    while order.len() < nodes.len() {
        // Quadratic, but plans are tens of tasks; simplicity wins over a heap here.
        let next = (0..nodes.len())
            .find(|&i| !done[i] && deps[i].iter().all(|&d| done[d]))
            .expect("acyclic graphs always have a ready node");
        done[next] = true;
        order.push(next);
    }
    Ok(order)
}

/// Finds one cycle by depth-first search, returning it in dependency order.
fn find_cycle(nodes: &[String], deps: &[Vec<usize>]) -> Option<Cycle> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    fn visit(i: usize, deps: &[Vec<usize>], marks: &mut [Mark], stack: &mut Vec<usize>) -> Option<Vec<usize>> {
        marks[i] = Mark::OnStack;
        stack.push(i);
        for &d in &deps[i] {
            match marks[d] {
                Mark::OnStack => {
                    let start = stack.iter().position(|&s| s == d).expect("on stack");
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(d);
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(d, deps, marks, stack) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks[i] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; nodes.len()];
    for i in 0..nodes.len() {
        if marks[i] == Mark::New {
            let mut stack = Vec::new();
            if let Some(cycle) = visit(i, deps, &mut marks, &mut stack) {
                return Some(Cycle(cycle.into_iter().map(|i| nodes[i].clone()).collect()));
            }
        }
    }
    None
}

/// Maps names to their indices, for building `deps` from names.
pub fn index_by_name(nodes: &[String]) -> HashMap<&str, usize> {
    let mut index = HashMap::new();
    for (i, name) in nodes.iter().enumerate() {
        // Keep the first of duplicated names; duplicates are reported by the caller.
        index.entry(name.as_str()).or_insert(i);
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dependencies_come_first_and_ties_keep_input_order() {
        let nodes = names(&["tests", "frontend", "api", "db", "docs"]);
        // tests after frontend+api+db; frontend after api; api after db.
        let deps = vec![vec![1, 2, 3], vec![2], vec![3], vec![], vec![]];
        let order: Vec<_> = topo_order(&nodes, &deps).unwrap().into_iter().map(|i| nodes[i].as_str()).collect();
        assert_eq!(order, ["db", "api", "frontend", "tests", "docs"]);
    }

    #[test]
    fn independent_nodes_keep_input_order() {
        let nodes = names(&["c", "a", "b"]);
        let order = topo_order(&nodes, &[vec![], vec![], vec![]]).unwrap();
        assert_eq!(order, [0, 1, 2]);
    }

    #[test]
    fn names_the_cycle() {
        let nodes = names(&["a", "b", "c", "d"]);
        let deps = vec![vec![], vec![2], vec![3], vec![1]];
        let cycle = topo_order(&nodes, &deps).unwrap_err();
        assert_eq!(cycle.to_string(), "b -> c -> d -> b");
    }

    #[test]
    fn self_dependency_is_a_cycle() {
        let nodes = names(&["a"]);
        assert_eq!(topo_order(&nodes, &[vec![0]]).unwrap_err().to_string(), "a -> a");
    }
}
