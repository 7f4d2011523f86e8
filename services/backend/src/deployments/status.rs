//! The revision status machine as listeners drive it. A listener claims a queued revision
//! (`QUEUED → AWAITING_DEPLOY`), starts it (`→ DEPLOYING`) and reports the outcome
//! (`DEPLOYED` or `DEPLOY_FAILED`). Repeating the current status is a no-op that renews the
//! claim, so a retried report is safe. One listener replica holds a revision's lease at a time;
//! another may take over once the lease has expired (its holder died mid-rollout).

use chrono::{DateTime, Utc};
use ironsmith_api_types::deployments::RevisionStatus;

use RevisionStatus::*;

/// Whether a listener may move a revision from `from` to `to` (the same status included).
pub fn listener_may_move(from: RevisionStatus, to: RevisionStatus) -> bool {
    from == to && !matches!(from, Queued)
        || matches!(
            (from, to),
            (Queued, AwaitingDeploy)
                | (AwaitingDeploy, Deploying)
                | (AwaitingDeploy, DeployFailed)
                | (Deploying, Deployed)
                | (Deploying, DeployFailed)
        )
}

/// Statuses of a revision still waiting to be rolled out, which a newer revision reaching
/// `DEPLOYING` supersedes.
pub const PENDING: [RevisionStatus; 6] = [
    Queued,
    AwaitingBuild,
    Building,
    AwaitingDeploy,
    Deploying,
    Creating,
];

pub fn pending_names() -> Vec<String> {
    PENDING.iter().map(|s| s.as_str().to_owned()).collect()
}

/// Whether `holder` may report on a revision leased to `lease_holder` until `expires`.
pub fn may_hold(
    holder: Option<&str>,
    lease_holder: Option<&str>,
    expires: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    match (lease_holder, expires) {
        (Some(current), Some(until)) if until > now => holder == Some(current),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_move_revisions_forward_only() {
        assert!(listener_may_move(Queued, AwaitingDeploy));
        assert!(listener_may_move(AwaitingDeploy, Deploying));
        assert!(listener_may_move(Deploying, Deployed));
        assert!(listener_may_move(Deploying, DeployFailed));
        assert!(listener_may_move(Deployed, Deployed));
        assert!(!listener_may_move(Queued, Queued));
        assert!(!listener_may_move(Queued, Deployed));
        assert!(!listener_may_move(Deployed, Deploying));
        assert!(!listener_may_move(Skipped, Deploying));
        assert!(!listener_may_move(DeployFailed, Deployed));
    }

    #[test]
    fn a_live_lease_belongs_to_its_holder_and_an_expired_one_to_anyone() {
        let now = Utc::now();
        let later = now + chrono::Duration::seconds(30);
        let earlier = now - chrono::Duration::seconds(1);
        assert!(may_hold(Some("a"), Some("a"), Some(later), now));
        assert!(!may_hold(Some("b"), Some("a"), Some(later), now));
        assert!(may_hold(Some("b"), Some("a"), Some(earlier), now));
        assert!(may_hold(Some("b"), None, None, now));
    }
}
