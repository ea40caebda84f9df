//! Conformance against Helm's install path: for every case of the shared
//! charts (`shared/charts`) and of the public chart corpus (`tests/charts`,
//! charts pinned as Go modules and read from the module cache), the objects
//! plumb applies equal, object by object, the objects `helm install` applies
//! (release manifest, hooks and CRDs; see `plumb_testenv::helm_oracle`).
//! Templates random on every render are skipped; error cases fail with
//! Helm's message.

mod corpus;

use corpus::{Case, all_cases, compare};
use plumb_testenv::helm_oracle;

#[test]
fn objects_match_helms_install_case_by_case() {
    let cases = all_cases();
    let requests: Vec<_> = cases.iter().map(Case::request).collect();
    let results = helm_oracle::install(&requests).expect("Helm's install path");
    let (mut failures, mut objects, mut charts) = (Vec::new(), 0, std::collections::BTreeSet::new());
    for case in &cases {
        charts.insert(case.chart_name.clone());
        match compare(case, helm_oracle::objects(&results[&case.id])) {
            Ok(n) => objects += n,
            Err(e) => failures.push(format!("{}: {e}", case.id)),
        }
    }
    eprintln!("install conformance: {} charts, {} cases, {objects} objects compared", charts.len(), cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Helm's install:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        charts.len() >= 13 && cases.len() >= 40 && objects >= 1000,
        "only {} charts, {} cases and {objects} objects",
        charts.len(),
        cases.len()
    );
}
