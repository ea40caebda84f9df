//! Who owns what, across the apps of one commit and the plumb instances
//! sharing a cluster (pure).
//!
//! An object has one owner: the app whose `plumb.dev/app` label it carries.
//! Within a commit, every app's rendered keys are claimed up front, so two
//! apps rendering one object is an error before any write, and an object
//! moving from one app to another is handed over (applied by the new owner,
//! never pruned by the old one), whichever app syncs first. Apps whose
//! inventory belongs to another plumb instance are foreign: their objects
//! are never taken over, and their inventories never removed.

use std::collections::{BTreeMap, HashMap};

use super::ObjectKey;

/// What a sync of one app needs to know about the other owners.
#[derive(Debug, Clone, Default)]
pub struct Ownership {
    /// Objects rendered in this commit, by the app of this instance that renders them.
    claims: HashMap<ObjectKey, String>,
    /// Apps of other plumb instances: app -> the instance that owns it.
    foreign: HashMap<String, String>,
}

/// An object rendered by two apps of one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoubleClaim {
    /// The object.
    pub key: ObjectKey,
    /// The two apps, in config order.
    pub apps: (String, String),
}

impl Ownership {
    /// Ownership of one commit: `renders` are each app's rendered keys (in
    /// config order), `foreign` the apps other instances own. Objects
    /// rendered by two apps are returned, and claimed by neither.
    pub fn of_commit<'a>(
        renders: impl IntoIterator<Item = (&'a str, Vec<&'a ObjectKey>)>,
        foreign: HashMap<String, String>,
    ) -> (Self, Vec<DoubleClaim>) {
        let mut claims: HashMap<ObjectKey, String> = HashMap::new();
        let mut doubles: BTreeMap<ObjectKey, (String, String)> = BTreeMap::new();
        for (app, keys) in renders {
            for key in keys {
                match claims.get(key) {
                    Some(first) if first != app => {
                        doubles.entry(key.clone()).or_insert_with(|| (first.clone(), app.to_string()));
                    }
                    _ => {
                        claims.insert(key.clone(), app.to_string());
                    }
                }
            }
        }
        for key in doubles.keys() {
            claims.remove(key);
        }
        let doubles = doubles.into_iter().map(|(key, apps)| DoubleClaim { key, apps }).collect();
        (Self { claims, foreign }, doubles)
    }

    /// Ownership that knows only of other instances' apps (one app synced
    /// alone, as `plumb diff` does).
    pub fn with_foreign(foreign: HashMap<String, String>) -> Self {
        Self { claims: HashMap::new(), foreign }
    }

    /// The app of this commit that renders `key`, if another than `app`.
    pub fn claimed_by_other(&self, key: &ObjectKey, app: &str) -> Option<&str> {
        self.claims.get(key).map(String::as_str).filter(|owner| *owner != app)
    }

    /// The instance owning `app`, when another instance owns it.
    pub fn foreign_instance(&self, app: &str) -> Option<&str> {
        self.foreign.get(app).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ObjectKey {
        ObjectKey::new("", "ConfigMap", Some("ns"), name)
    }

    #[test]
    fn claims_hand_over_and_double_claims() {
        let (a, b, c) = (key("a"), key("b"), key("c"));
        let foreign = HashMap::from([("theirs".to_string(), "other-instance".to_string())]);
        let (ownership, doubles) =
            Ownership::of_commit([("web", vec![&a, &b]), ("db", vec![&b, &c]), ("web", vec![&a])], foreign);
        assert_eq!(doubles, vec![DoubleClaim { key: b.clone(), apps: ("web".into(), "db".into()) }]);
        assert_eq!(ownership.claimed_by_other(&c, "web"), Some("db"));
        assert_eq!(ownership.claimed_by_other(&c, "db"), None);
        assert_eq!(ownership.claimed_by_other(&b, "web"), None, "a double claim belongs to neither");
        assert_eq!(ownership.foreign_instance("theirs"), Some("other-instance"));
        assert_eq!(ownership.foreign_instance("web"), None);
    }
}
