//! The alerting rules and the PrometheusRule in deploy/monitoring: valid
//! for promtool, unit-tested by promtool, and the same groups in both.

use std::path::{Path, PathBuf};
use std::process::Command;

fn monitoring() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/monitoring")
}

fn promtool(args: &[&str]) -> String {
    let output = Command::new("promtool")
        .current_dir(monitoring())
        .args(args)
        .output()
        .expect("promtool (tests/setup.sh installs it)");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn rules_pass_promtool_checks_and_unit_tests() {
    assert!(promtool(&["check", "rules", "rules.yaml"]).contains("SUCCESS: 5 rules found"));
    assert!(promtool(&["test", "rules", "rules.test.yaml"]).contains("SUCCESS"));
}

#[test]
fn the_prometheus_rule_carries_the_same_groups() {
    let read = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(monitoring().join(name)).expect("read");
        serde_saphyr::from_str(&text).expect("valid YAML")
    };
    let rules = read("rules.yaml");
    let operator = read("prometheusrule.yaml");
    assert_eq!(operator["kind"], "PrometheusRule");
    assert_eq!(operator["spec"]["groups"], rules["groups"]);
}

#[test]
fn every_alert_links_to_an_existing_runbook_section() {
    let rules = std::fs::read_to_string(monitoring().join("rules.yaml")).expect("rules");
    let runbook = std::fs::read_to_string(monitoring().join("../../docs/runbook.md")).expect("runbook");
    let slugs: Vec<String> = runbook
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| {
            h.to_lowercase()
                .chars()
                .filter_map(|c| {
                    if c == ' ' {
                        Some('-')
                    } else if c.is_alphanumeric() || c == '-' {
                        Some(c)
                    } else {
                        None
                    }
                })
                .collect()
        })
        .collect();
    let links: Vec<&str> =
        rules.lines().filter_map(|l| l.split("docs/runbook.md#").nth(1)).map(|a| a.trim_matches('"')).collect();
    assert_eq!(links.len(), 5);
    for anchor in links {
        assert!(slugs.iter().any(|s| s == anchor), "no runbook section for #{anchor}; sections: {slugs:?}");
    }
}
