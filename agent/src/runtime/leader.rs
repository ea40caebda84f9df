//! Leader election on a coordination.k8s.io/v1 Lease: only the leader
//! syncs, corrects and reports drift; standbys watch, serve metrics and
//! take over when the leader's lease expires. Updates carry the lease's
//! resourceVersion, so two candidates can never both win. A renewal that
//! fails keeps leadership only while the last successful renewal is still
//! well within the lease duration; after that this replica stops writing
//! at once (the cluster seam is fenced by the same signal).

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use serde_json::Value;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::cluster::{ClusterError, Resource, SharedCluster, Target};

/// Lease settings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Lease name (in plumb's namespace); follows the instance name.
    pub name: String,
    /// Namespace of the lease.
    pub namespace: String,
    /// This candidate's identity (the pod name).
    pub identity: String,
    /// How long a lease holds without renewal.
    pub duration: Duration,
    /// How often the leader renews (and standbys retry).
    pub renew_every: Duration,
}

/// What one round of the election decided, from the lease as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// We hold it: renew.
    Renew,
    /// Free or expired: take it.
    Acquire,
    /// Someone else holds a live lease.
    Follow,
}

/// Decides from the lease's holder and renew time (pure).
pub fn decide(holder: Option<&str>, renewed_secs_ago: Option<f64>, me: &str, duration: Duration) -> Decision {
    match (holder, renewed_secs_ago) {
        (Some(h), _) if h == me => Decision::Renew,
        (Some(h), Some(age)) if !h.is_empty() && age < duration.as_secs_f64() => Decision::Follow,
        _ => Decision::Acquire,
    }
}

/// After a failed renewal: a leader keeps leading while its last successful
/// renewal is younger than two thirds of the lease duration (another
/// candidate may take the lease only once a whole duration has passed), so
/// one missed renewal does not drop leadership and a partitioned leader
/// stops well before anyone else can start (pure).
pub fn keeps_leading(leading: bool, since_renewal: Duration, duration: Duration) -> bool {
    leading && since_renewal < duration.mul_f64(2.0 / 3.0)
}

fn now() -> MicroTime {
    MicroTime(jiff::Timestamp::now())
}

/// Runs the election until `shutdown`; `leader` tells whether we lead.
/// On shutdown a leader releases the lease so a standby takes over at once.
pub async fn run(
    cluster: SharedCluster,
    config: LeaseConfig,
    leader: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let leases = Resource::leases();
    let mut last_renewal: Option<Instant> = None;
    loop {
        let target = Target::new(&leases, Some(&config.namespace));
        let leading = match round(cluster.as_ref(), target, &config).await {
            Ok(true) => {
                last_renewal = Some(Instant::now());
                true
            }
            Ok(false) => false,
            Err(error) => {
                let kept =
                    last_renewal.is_some_and(|at| keeps_leading(*leader.borrow(), at.elapsed(), config.duration));
                warn!(%error, kept, "lease round failed");
                kept
            }
        };
        if *leader.borrow() != leading {
            info!(identity = %config.identity, leading, "leadership changed");
            let _ = leader.send(leading);
        }
        // A leader whose renewals keep failing must notice before its
        // lease could be taken: retry sooner than the renewal interval.
        let pause = if leading && last_renewal.is_some_and(|at| at.elapsed() > config.renew_every) {
            config.renew_every / 4
        } else {
            config.renew_every
        };
        let stop = tokio::select! {
            () = tokio::time::sleep(pause) => false,
            _ = shutdown.wait_for(|stop| *stop) => true,
        };
        if stop {
            if *leader.borrow() {
                release(cluster.as_ref(), Target::new(&leases, Some(&config.namespace)), &config).await;
            }
            let _ = leader.send(false);
            return;
        }
    }
}

fn lease_body(lease: &Lease) -> Value {
    let mut body = serde_json::to_value(lease).unwrap_or_default();
    body["apiVersion"] = Value::from("coordination.k8s.io/v1");
    body["kind"] = Value::from("Lease");
    body
}

async fn round(
    cluster: &dyn crate::cluster::Cluster,
    target: Target<'_>,
    config: &LeaseConfig,
) -> Result<bool, ClusterError> {
    let seconds = i32::try_from(config.duration.as_secs()).unwrap_or(i32::MAX);
    let Some(found) = cluster.get(target, &config.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta { name: Some(config.name.clone()), ..ObjectMeta::default() },
            spec: Some(LeaseSpec {
                holder_identity: Some(config.identity.clone()),
                lease_duration_seconds: Some(seconds),
                acquire_time: Some(now()),
                renew_time: Some(now()),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return match cluster.create(target, &lease_body(&lease)).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(e),
        };
    };
    let mut lease: Lease = serde_json::from_value(found)
        .map_err(|e| ClusterError::status(500, "InternalError", format!("the lease is not a Lease: {e}")))?;
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let age = spec.renew_time.as_ref().map(|t| jiff::Timestamp::now().duration_since(t.0).as_secs_f64());
    // The holder's claim lasts as long as it says (as client-go reads it),
    // not as long as this replica's own setting.
    let claimed = spec
        .lease_duration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s > 0)
        .map_or(config.duration, Duration::from_secs);
    match decide(spec.holder_identity.as_deref(), age, &config.identity, claimed) {
        Decision::Follow => return Ok(false),
        Decision::Acquire => {
            spec.holder_identity = Some(config.identity.clone());
            spec.acquire_time = Some(now());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        Decision::Renew => {}
    }
    spec.renew_time = Some(now());
    spec.lease_duration_seconds = Some(seconds);
    // An update carries the resourceVersion read: a concurrent winner makes it fail.
    match cluster.update(target, &config.name, &lease_body(&lease)).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_conflict() => Ok(false),
        Err(e) => Err(e),
    }
}

async fn release(cluster: &dyn crate::cluster::Cluster, target: Target<'_>, config: &LeaseConfig) {
    let Ok(Some(found)) = cluster.get(target, &config.name).await else { return };
    let Ok(mut lease) = serde_json::from_value::<Lease>(found) else { return };
    if let Some(spec) = lease.spec.as_mut()
        && spec.holder_identity.as_deref() == Some(config.identity.as_str())
    {
        spec.holder_identity = None;
        spec.renew_time = None;
        match cluster.update(target, &config.name, &lease_body(&lease)).await {
            Ok(_) => info!("lease released"),
            Err(error) => warn!(%error, "could not release the lease"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let d = Duration::from_secs(15);
        let table = [
            (Some("me"), Some(3.0), Decision::Renew),
            (Some("me"), Some(30.0), Decision::Renew),
            (Some("other"), Some(3.0), Decision::Follow),
            (Some("other"), Some(16.0), Decision::Acquire),
            (Some("other"), None, Decision::Acquire),
            (Some(""), Some(1.0), Decision::Acquire),
            (None, None, Decision::Acquire),
        ];
        for (holder, age, want) in table {
            assert_eq!(decide(holder, age, "me", d), want, "{holder:?} {age:?}");
        }
    }

    #[test]
    fn one_missed_renewal_keeps_leadership_a_long_outage_does_not() {
        let d = Duration::from_secs(15);
        assert!(keeps_leading(true, Duration::from_secs(5), d), "one missed 5 s renewal");
        assert!(!keeps_leading(true, Duration::from_secs(10), d), "two thirds of the lease gone");
        assert!(!keeps_leading(false, Duration::from_secs(1), d), "a standby stays a standby");
    }
}
