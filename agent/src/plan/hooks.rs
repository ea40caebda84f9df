//! Helm hooks as plumb runs them (pure). Every sync is an install or an
//! upgrade: hooks of those events run in their phase (`pre-*` before the
//! release's objects, `post-*` after they are healthy, ordered by
//! `helm.sh/hook-weight`; see [`super::order`]); hooks of other events
//! never reach the plan (the render drops them). What Helm's
//! `helm.sh/hook-delete-policy` asks for:
//!
//! - `before-hook-creation` (Helm's default): a hook whose manifest changed
//!   is deleted and created again, so a changed migration Job runs again
//!   instead of failing as immutable;
//! - `hook-succeeded`: deleted once it succeeded; not run again until its
//!   manifest changes;
//! - `hook-failed`: deleted when it failed; run again on the next attempt.

use super::DesiredObject;

/// The hook annotation.
pub const HOOK_ANNOTATION: &str = super::HELM_HOOK_ANNOTATION;
/// The delete-policy annotation.
pub const HOOK_DELETE_POLICY_ANNOTATION: &str = "helm.sh/hook-delete-policy";

/// What a hook's delete policy asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HookPolicy {
    /// Delete the previous object before creating a changed one.
    pub before_creation: bool,
    /// Delete it once it succeeded.
    pub on_success: bool,
    /// Delete it when it failed.
    pub on_failure: bool,
}

/// The delete policy of `o`, when it is a Helm hook.
pub fn hook_policy(o: &DesiredObject) -> Option<HookPolicy> {
    o.annotation(HOOK_ANNOTATION)?;
    let Some(policy) = o.annotation(HOOK_DELETE_POLICY_ANNOTATION) else {
        // Helm's default when a hook names no policy.
        return Some(HookPolicy { before_creation: true, ..HookPolicy::default() });
    };
    let mut found = HookPolicy::default();
    for item in policy.split(',').map(str::trim) {
        match item {
            "before-hook-creation" => found.before_creation = true,
            "hook-succeeded" => found.on_success = true,
            "hook-failed" => found.on_failure = true,
            _ => {}
        }
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::{AppContext, Scopes, normalise};

    fn job(annotations: serde_json::Value) -> DesiredObject {
        let mut scopes = Scopes::default();
        scopes.insert("batch", "Job", true);
        let app = AppContext { name: "a".into(), namespace: Some("n".into()) };
        let m = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "m", "annotations": annotations}});
        normalise(&app, m, "t", &scopes).expect("valid")
    }

    #[test]
    fn policies_as_helm_reads_them() {
        assert_eq!(hook_policy(&job(json!({}))), None);
        let default = hook_policy(&job(json!({HOOK_ANNOTATION: "pre-install"})));
        assert_eq!(default, Some(HookPolicy { before_creation: true, ..HookPolicy::default() }));
        let both = hook_policy(&job(json!({HOOK_ANNOTATION: "post-upgrade",
            HOOK_DELETE_POLICY_ANNOTATION: "hook-succeeded, hook-failed"})));
        assert_eq!(both, Some(HookPolicy { before_creation: false, on_success: true, on_failure: true }));
    }
}
