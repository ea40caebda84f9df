//! Leader election on a coordination.k8s.io/v1 Lease: only the leader
//! syncs and corrects drift; standbys watch, serve metrics and take over
//! when the leader's lease expires. Updates use the lease's
//! resourceVersion, so two candidates can never both win.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::{PostParams, Resource};
use tokio::sync::watch;
use tracing::{info, warn};

/// Lease settings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Lease name (in plumb's namespace).
    pub name: String,
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

fn now() -> MicroTime {
    MicroTime(jiff::Timestamp::now())
}

/// Runs the election until `shutdown`; `leader` tells whether we lead.
/// On shutdown a leader releases the lease so a standby takes over at once.
pub async fn run(
    api: Api<Lease>,
    config: LeaseConfig,
    leader: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let leading = match round(&api, &config).await {
            Ok(leading) => leading,
            Err(error) => {
                warn!(%error, "lease round failed");
                false
            }
        };
        if *leader.borrow() != leading {
            info!(identity = %config.identity, leading, "leadership changed");
            let _ = leader.send(leading);
        }
        let stop = tokio::select! {
            () = tokio::time::sleep(config.renew_every) => false,
            _ = shutdown.wait_for(|stop| *stop) => true,
        };
        if stop {
            let leading = *leader.borrow();
            if leading {
                release(&api, &config).await;
            }
            let _ = leader.send(false);
            return;
        }
    }
}

async fn round(api: &Api<Lease>, config: &LeaseConfig) -> Result<bool, kube::Error> {
    let seconds = i32::try_from(config.duration.as_secs()).unwrap_or(i32::MAX);
    let Some(mut lease) = api.get_opt(&config.name).await? else {
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
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let age = spec.renew_time.as_ref().map(|t| jiff::Timestamp::now().duration_since(t.0).as_secs_f64());
    match decide(spec.holder_identity.as_deref(), age, &config.identity, config.duration) {
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
    // A replace carries the resourceVersion read: a concurrent winner makes it fail.
    let name = lease.meta().name.clone().unwrap_or_default();
    match api.replace(&name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

async fn release(api: &Api<Lease>, config: &LeaseConfig) {
    if let Ok(Some(mut lease)) = api.get_opt(&config.name).await
        && let Some(spec) = lease.spec.as_mut()
        && spec.holder_identity.as_deref() == Some(config.identity.as_str())
    {
        spec.holder_identity = None;
        spec.renew_time = None;
        let name = config.name.clone();
        if let Err(error) = api.replace(&name, &PostParams::default(), &lease).await {
            warn!(%error, "could not release the lease");
        } else {
            info!("lease released");
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
}
