//! Each app's objects as the dashboard lists them: apply order, the last
//! action and the health the last sync left them in. Pure: derived from a
//! sync's change set and the rows of the previous sync.

use std::collections::HashMap;
use std::sync::Arc;

use super::status::{ObjectHealth, ObjectStatus, SyncStamp};
use crate::apply::{ApplyError, ObjectAction, SyncReport};

/// The rows after `sync`, in its plan order (apply order, then prunes and
/// objects left alone). An unchanged object keeps the last action it had
/// in `previous`; a successful sync makes it healthy, as it does the app.
pub fn object_rows(sync: &SyncReport, previous: &[ObjectStatus], stamp: &Arc<SyncStamp>) -> Vec<ObjectStatus> {
    let previous: HashMap<&str, &ObjectStatus> = previous.iter().map(|row| (row.object.as_str(), row)).collect();
    let named = match &sync.result {
        Err(ApplyError::Unhealthy { object, reason }) => {
            Some((object.as_str(), ObjectHealth::Degraded(reason.clone())))
        }
        Err(ApplyError::HealthTimeout { object, reason, .. }) => {
            Some((object.as_str(), ObjectHealth::Progressing(reason.clone())))
        }
        _ => None,
    };
    let succeeded = sync.result.is_ok();
    sync.objects
        .iter()
        .map(|o| {
            let object = o.key.to_string();
            let before = previous.get(object.as_str()).copied();
            let decided = |health| ObjectStatus {
                object: object.clone(),
                action: o.action.as_str(),
                done: o.done,
                health,
                changed: Some(stamp.clone()),
            };
            let failed = o.error.clone().map(ObjectHealth::Failed);
            match o.action {
                ObjectAction::Unchanged => {
                    let health = match before {
                        _ if succeeded => ObjectHealth::Healthy,
                        Some(row) => row.health.clone(),
                        None => ObjectHealth::Unknown,
                    };
                    match before {
                        Some(row) => ObjectStatus { health, ..row.clone() },
                        None => ObjectStatus { object, action: o.action.as_str(), done: true, health, changed: None },
                    }
                }
                ObjectAction::Create | ObjectAction::Update | ObjectAction::Replace => {
                    decided(match (&named, failed) {
                        (_, Some(failed)) => failed,
                        (Some((name, health)), None) if *name == object => health.clone(),
                        _ if !o.done => ObjectHealth::NotApplied,
                        _ if succeeded => ObjectHealth::Healthy,
                        _ => ObjectHealth::Applied,
                    })
                }
                ObjectAction::Prune => decided(match failed {
                    Some(failed) => failed,
                    None if o.done => ObjectHealth::Pruned,
                    None => ObjectHealth::NotPruned,
                }),
                ObjectAction::LeftAlone(_) => decided(ObjectHealth::LeftAlone),
                ObjectAction::Gone => decided(ObjectHealth::Gone),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::apply::{Mode, ObjectReport};
    use crate::plan::ObjectKey;

    fn key(name: &str) -> ObjectKey {
        ObjectKey { group: "".into(), kind: "ConfigMap".into(), namespace: Some("n".into()), name: name.into() }
    }

    fn object(name: &str, action: ObjectAction, done: bool, error: Option<&str>) -> ObjectReport {
        ObjectReport {
            key: key(name),
            action,
            done,
            error: error.map(String::from),
            duration: Duration::ZERO,
            fields: Vec::new(),
        }
    }

    fn report(objects: Vec<ObjectReport>, result: Result<(), ApplyError>) -> SyncReport {
        SyncReport { objects, result, ..SyncReport::failed("app", "c2", ApplyError::Invalid(Vec::new())) }
    }

    fn stamp(commit: &str) -> Arc<SyncStamp> {
        Arc::new(SyncStamp { commit: commit.into(), time: "2025-01-01T00:00:00Z".into() })
    }

    fn summary(rows: &[ObjectStatus]) -> Vec<(String, &'static str, bool, ObjectHealth, Option<String>)> {
        rows.iter()
            .map(|r| {
                let name = r.object.rsplit('/').next().unwrap_or_default().to_string();
                (name, r.action, r.done, r.health.clone(), r.changed.as_ref().map(|s| s.commit.clone()))
            })
            .collect()
    }

    #[test]
    fn rows_follow_the_plan_order_and_each_outcome() {
        use ObjectAction::{Create, Prune, Unchanged};
        use ObjectHealth::{Healthy, Pruned};
        let c = |s: &str| Some(s.to_string());
        let previous = vec![ObjectStatus {
            object: key("kept").to_string(),
            action: "update",
            done: true,
            health: Healthy,
            changed: Some(stamp("c1")),
        }];
        let objects = || {
            vec![
                object("new", Create, true, None),
                object("kept", Unchanged, false, None),
                object("fresh", Unchanged, false, None),
                object("old", Prune, true, None),
                object("held", ObjectAction::LeftAlone(crate::plan::LeftAlone::PruneDisabled), false, None),
            ]
        };
        let ok = object_rows(&report(objects(), Ok(())), &previous, &stamp("c2"));
        assert_eq!(
            summary(&ok),
            vec![
                ("new".into(), "create", true, Healthy, c("c2")),
                ("kept".into(), "update", true, Healthy, c("c1")),
                ("fresh".into(), "unchanged", true, Healthy, None),
                ("old".into(), "prune", true, Pruned, c("c2")),
                ("held".into(), "left-alone", false, ObjectHealth::LeftAlone, c("c2")),
            ]
        );
    }

    #[test]
    fn a_failed_sync_names_the_unhealthy_object_and_what_was_not_reached() {
        use ObjectAction::*;
        use ObjectHealth::*;
        let objects = vec![
            object("first", Update, true, None),
            object("stuck", Create, true, None),
            object("broken", Update, false, Some("admission webhook denied it")),
            object("later", Create, false, None),
            object("before", Unchanged, false, None),
            object("leaving", Prune, false, None),
        ];
        let error = ApplyError::HealthTimeout {
            object: key("stuck").to_string(),
            reason: "0 of 1 replicas ready".into(),
            timeout: Duration::from_secs(60),
        };
        let rows = object_rows(&report(objects, Err(error)), &[], &stamp("c2"));
        let health: Vec<ObjectHealth> = rows.into_iter().map(|r| r.health).collect();
        assert_eq!(
            health,
            vec![
                Applied,
                Progressing("0 of 1 replicas ready".into()),
                Failed("admission webhook denied it".into()),
                NotApplied,
                Unknown,
                NotPruned,
            ]
        );
    }

    #[test]
    fn report_mode_plans_without_applying() {
        let objects = vec![object("would", ObjectAction::Create, false, None)];
        let sync = SyncReport { mode: Mode::Report, ..report(objects, Ok(())) };
        let rows = object_rows(&sync, &[], &stamp("c2"));
        assert_eq!((rows[0].action, rows[0].done, &rows[0].health), ("create", false, &ObjectHealth::NotApplied));
    }

    #[test]
    fn terminal_conditions_degrade_the_named_object() {
        let objects = vec![object("web", ObjectAction::Update, true, None)];
        let error = ApplyError::Unhealthy { object: key("web").to_string(), reason: "ProgressDeadlineExceeded".into() };
        let rows = object_rows(&report(objects, Err(error)), &[], &stamp("c2"));
        assert_eq!(rows[0].health, ObjectHealth::Degraded("ProgressDeadlineExceeded".into()));
        assert_eq!(rows[0].health.reason(), Some("ProgressDeadlineExceeded"));
    }
}
