//! YAML read the way Helm reads values and `fromYaml` input: go-yaml v2's
//! YAML 1.1 scalars (`yes`/`on` are booleans, `0755` is octal), and the
//! bounds every YAML parse in plumb runs under ([`bound`]).
//!
//! The bounds are on what a text can cost *beyond its own size*: alias
//! expansion (a billion-laughs bomb) and nesting depth (a stack bomb). Node,
//! event and document counts are not capped: they grow with the text, whose
//! size the caller bounds (plumb charges every file it reads to a per-commit
//! byte budget), and legitimate files (multi-megabyte CRD bundles, tens of
//! thousands of generated objects) exceed any fixed count.

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::granit_parser::ErrorKind;
use serde_saphyr::options::AliasLimits;
use serde_saphyr::{Budget, DuplicateKeyPolicy, Error, ExternalMessageSource, Options};

/// Nodes that aliases may add to one parse, over the text's own: far more
/// than manifests and values files use (anchors for repeated blocks), few
/// enough that a bomb is refused within milliseconds and megabytes.
pub const MAX_ALIAS_EXPANSION: usize = 250_000;

/// Nesting depth of mappings and sequences. The deepest real manifests are
/// CRD schemas (JobSet's is 38 levels). The parser recurses per level, and
/// plumb parses on threads with 2 MiB stacks (tokio's blocking pool): a
/// debug build overflows one near 90 levels, so the bound stays well below.
pub const MAX_DEPTH: usize = 64;

/// Scalar bytes that aliases may add to one parse, over the text's own.
const MAX_ALIAS_SCALAR_BYTES: usize = 64 * 1024 * 1024;

/// Applies plumb's bounds to `options` for a text of `input_len` bytes.
pub fn bound(options: &mut Options, input_len: usize) {
    let mut budget = Budget::default();
    // Counts that only grow with the text are left to the caller's byte budget.
    budget.max_events = usize::MAX;
    budget.max_nodes = usize::MAX;
    budget.max_documents = usize::MAX;
    budget.max_aliases = usize::MAX;
    budget.max_anchors = usize::MAX;
    budget.max_merge_keys = usize::MAX;
    // Replays are bounded in total below; a ratio would refuse a file that
    // uses one anchor often, which costs nothing.
    budget.enforce_alias_anchor_ratio = false;
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_recorded_anchor_events = MAX_ALIAS_EXPANSION;
    // A scalar's text is never longer than its source, so anything beyond
    // the input's size comes from aliases.
    budget.max_total_scalar_bytes = input_len.saturating_add(MAX_ALIAS_SCALAR_BYTES);
    budget.max_recorded_anchor_bytes = MAX_ALIAS_SCALAR_BYTES;
    options.budget = Some(budget);
    let mut aliases = AliasLimits::default();
    aliases.max_total_replayed_events = MAX_ALIAS_EXPANSION;
    aliases.max_replay_stack_depth = MAX_DEPTH;
    options.alias_limits = aliases;
}

/// A YAML parser error as one line, `line L column C: reason` (the caller
/// prefixes the file). Bounds that were hit say so plainly: the file is
/// refused as a bomb, not as broken YAML.
pub fn yaml_error(error: &Error) -> String {
    let at = error.location().map(|l| format!("line {} column {}: ", l.line(), l.column())).unwrap_or_default();
    let nesting =
        || format!("{at}refused as a YAML bomb: mappings and sequences nest more than {MAX_DEPTH} levels deep");
    let expansion = || {
        format!(
            "{at}refused as a YAML bomb: its aliases expand to more than {MAX_ALIAS_EXPANSION} nodes \
             (or {} MiB of text); write the repeated content out instead of aliasing it",
            MAX_ALIAS_SCALAR_BYTES / (1024 * 1024)
        )
    };
    // Errors raised inside an alias's replay come wrapped with its locations.
    let mut cause = error;
    while let Error::AliasError { error, .. } | Error::WithSnippet { error, .. } = cause {
        cause = error;
    }
    let parser_nesting = |source: &ExternalMessageSource| matches!(source, ExternalMessageSource::Parser(e) if matches!(e.kind(), ErrorKind::RecursionLimitExceeded));
    match cause {
        Error::Budget { breach: BudgetBreach::Depth { .. }, .. } | Error::AliasReplayStackDepthExceeded { .. } => {
            nesting()
        }
        Error::ExternalMessage { source, .. } if parser_nesting(source) => nesting(),
        Error::Budget {
            breach:
                BudgetBreach::ScalarBytes { .. }
                | BudgetBreach::RecordedAnchorEvents { .. }
                | BudgetBreach::RecordedAnchorBytes { .. },
            ..
        }
        | Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. } => expansion(),
        _ => {
            let text = error.to_string();
            text.lines().next().unwrap_or_default().trim_start_matches("error: ").to_string()
        }
    }
}

/// Parses the first YAML document of `text` into JSON (`null` for an empty
/// document); like go-yaml's `Unmarshal`, later documents are not read.
pub fn from_str(text: &str) -> Result<serde_json::Value, String> {
    let first = first_document(text);
    if first.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_saphyr::from_str_with_options::<serde_json::Value>(first, options(first.len(), DuplicateKeyPolicy::LastWins))
        .map_err(|e| yaml_error(&e))
}

/// Options for reading `input_len` bytes as Helm and kubectl read YAML (1.1
/// octal numbers), under plumb's [`bound`]s. go-yaml keeps the last of
/// repeated keys ([`DuplicateKeyPolicy::LastWins`]).
pub fn options(input_len: usize, duplicates: DuplicateKeyPolicy) -> Options {
    let mut options = Options::default();
    options.legacy_octal_numbers = true;
    options.duplicate_keys = duplicates;
    bound(&mut options, input_len);
    options
}

/// The text of the first document: up to the second `---` marker line (a
/// leading marker opens the first document).
fn first_document(text: &str) -> &str {
    let mut offset = 0;
    let mut seen_content = false;
    for line in text.split_inclusive('\n') {
        let is_marker = line.starts_with("---") && line[3..].chars().next().is_none_or(char::is_whitespace);
        if is_marker && seen_content {
            return &text[..offset];
        }
        let trimmed = line.trim();
        if is_marker || (!trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with('%')) {
            seen_content = true;
        }
        offset += line.len();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_scalars() {
        let value = from_str("a: yes\nb: '0755'\nc: 0755\nd: off\ne: \"yes\"\nf: 1.0\n").unwrap_or_default();
        assert_eq!(value["a"], serde_json::json!(true));
        assert_eq!(value["b"], serde_json::json!("0755"));
        assert_eq!(value["c"], serde_json::json!(493));
        assert_eq!(value["d"], serde_json::json!(false));
        assert_eq!(value["e"], serde_json::json!("yes"));
        assert_eq!(value["f"], serde_json::json!(1.0));
        assert_eq!(from_str("").unwrap_or_default(), serde_json::Value::Null);
        let several = from_str("# c\n---\na: 1\n---\nb: [\n").unwrap_or_default();
        assert_eq!(several, serde_json::json!({"a": 1}));
    }
}
