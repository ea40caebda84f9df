//! `.helmignore`: shell-glob patterns (one per line, `#` comments, `!`
//! negation, a trailing `/` for directories only, a leading `/` anchoring
//! at the chart root), as Helm's `ignore` package reads them.

/// The rules of one `.helmignore`.
#[derive(Debug, Default, Clone)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    glob: String,
    negate: bool,
    dir_only: bool,
    anchored: bool,
}

impl Rules {
    /// Parses a `.helmignore` file.
    pub fn parse(text: &str) -> Self {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negate, rest) = match line.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let dir_only = rest.ends_with('/');
            let rest = rest.trim_end_matches('/');
            let anchored = rest.starts_with('/');
            let glob = rest.trim_start_matches('/').to_string();
            if glob.is_empty() {
                continue;
            }
            patterns.push(Pattern { glob, negate, dir_only, anchored });
        }
        Rules { patterns }
    }

    /// Whether `path` (relative to the chart root) is ignored. A file is
    /// also ignored when one of its parent directories is.
    pub fn ignored(&self, path: &str) -> bool {
        if path == "Chart.yaml" {
            // Helm never ignores the chart's metadata.
            return false;
        }
        let parts: Vec<&str> = path.split('/').collect();
        for depth in 1..=parts.len() {
            let prefix = parts[..depth].join("/");
            let is_dir = depth < parts.len();
            if self.matches(&prefix, is_dir) {
                return true;
            }
        }
        false
    }

    fn matches(&self, path: &str, is_dir: bool) -> bool {
        let mut ignored = false;
        let base = path.rsplit('/').next().unwrap_or(path);
        for p in &self.patterns {
            if p.dir_only && !is_dir {
                continue;
            }
            let hit =
                if p.anchored || p.glob.contains('/') { glob_match(&p.glob, path) } else { glob_match(&p.glob, base) };
            if hit {
                ignored = !p.negate;
            }
        }
        ignored
    }
}

/// Go's `filepath.Match`: `*`, `?`, `[...]` classes; `*` never crosses `/`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => {
            let rest = &p[1..];
            for i in 0..=n.len() {
                if i > 0 && n[i - 1] == '/' {
                    break;
                }
                if match_from(rest, &n[i..]) {
                    return true;
                }
            }
            false
        }
        Some('?') => !n.is_empty() && n[0] != '/' && match_from(&p[1..], &n[1..]),
        Some('[') => {
            let Some(end) = p.iter().position(|c| *c == ']') else { return false };
            let Some(&c) = n.first() else { return false };
            let class = &p[1..end];
            let (negate, class) = match class.first() {
                Some('^' | '!') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut found = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    if class[i] <= c && c <= class[i + 2] {
                        found = true;
                    }
                    i += 3;
                } else {
                    if class[i] == c {
                        found = true;
                    }
                    i += 1;
                }
            }
            found != negate && match_from(&p[end + 1..], &n[1..])
        }
        Some('\\') if p.len() > 1 => !n.is_empty() && n[0] == p[1] && match_from(&p[2..], &n[1..]),
        Some(c) => !n.is_empty() && n[0] == *c && match_from(&p[1..], &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helmignore_rules() {
        let rules = Rules::parse("# comment\n.git/\n*.swp\n/OWNERS\nci/\n!keep.swp\ndocs/*.md\n");
        assert!(rules.ignored(".git/config"));
        assert!(rules.ignored("a.swp"));
        assert!(!rules.ignored("keep.swp"));
        assert!(rules.ignored("OWNERS"));
        assert!(rules.ignored("ci/values.yaml"));
        assert!(!rules.ignored("templates/ci.yaml"));
        assert!(rules.ignored("docs/a.md"));
        assert!(!rules.ignored("Chart.yaml"));
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.yaml", "a.yaml"));
        assert!(!glob_match("*.yaml", "d/a.yaml"));
        assert!(glob_match("files/*", "files/a"));
        assert!(glob_match("[ab]?.txt", "bx.txt"));
    }
}
