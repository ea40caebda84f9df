//! Dependency graphs: a topological order, or the cycle that prevents one.
//! Used for object dependencies and for app-level `dependsOn`.

/// Orders nodes `0..deps.len()` so that each comes after every node in its
/// `deps` list. On a cycle, returns its members in dependency order with the
/// first repeated at the end (`[a, b, a]`: a depends on b, b on a).
pub fn topo_order(deps: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::New; deps.len()];
    let mut order = Vec::with_capacity(deps.len());
    for root in 0..deps.len() {
        if marks[root] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, index of the next dependency to visit).
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::OnPath;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                match marks[dep] {
                    Mark::New => {
                        marks[dep] = Mark::OnPath;
                        path.push((dep, 0));
                    }
                    Mark::OnPath => {
                        let start = path.iter().position(|&(n, _)| n == dep).unwrap_or(0);
                        let mut cycle: Vec<usize> = path[start..].iter().map(|&(n, _)| n).collect();
                        cycle.push(dep);
                        return Err(cycle);
                    }
                    Mark::Done => {}
                }
            } else {
                marks[node] = Mark::Done;
                order.push(node);
                path.pop();
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(order: &[usize], n: usize) -> usize {
        order.iter().position(|&x| x == n).expect("present")
    }

    #[test]
    fn orders_dependencies_first() {
        // 0 -> 1 -> 2, 3 -> 1
        let deps = vec![vec![1], vec![2], vec![], vec![1]];
        let order = topo_order(&deps).expect("acyclic");
        assert_eq!(order.len(), 4);
        assert!(position(&order, 2) < position(&order, 1));
        assert!(position(&order, 1) < position(&order, 0));
        assert!(position(&order, 1) < position(&order, 3));
    }

    #[test]
    fn names_the_cycle() {
        let table: [(Vec<Vec<usize>>, Vec<usize>); 3] = [
            (vec![vec![0]], vec![0, 0]),
            (vec![vec![1], vec![0]], vec![0, 1, 0]),
            (vec![vec![1], vec![2], vec![3], vec![1]], vec![1, 2, 3, 1]),
        ];
        for (deps, cycle) in table {
            assert_eq!(topo_order(&deps), Err(cycle));
        }
    }
}
