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
