//! Reading and resetting a caller's usage (the admin API's `/usage/{plan}/{key}`).

use serde::Serialize;

use super::PlanRuntime;
use crate::state::{StateStore, StoreError, unix_ms};

/// A caller's usage of a plan.
#[derive(Debug, Serialize)]
pub struct Usage {
    /// The plan.
    pub plan: String,
    /// The usage key.
    pub key: String,
    /// The quota in the current period, when the plan has one.
    pub quota: Option<QuotaUsage>,
}

/// Quota use in the current period.
#[derive(Debug, Serialize)]
pub struct QuotaUsage {
    /// Requests allowed per period.
    pub limit: u64,
    /// `DAY`, `WEEK` or `MONTH`.
    pub period: String,
    /// Requests counted in this period.
    pub used: u64,
    /// Requests left.
    pub remaining: u64,
    /// When the period started (RFC 3339, UTC).
    pub period_start: String,
    /// When it ends and the count starts again.
    pub resets_at: String,
}

/// The usage of `key` under `plan` now.
pub async fn read(store: &StateStore, plan: &PlanRuntime, key: &str) -> Result<Usage, StoreError> {
    let now = unix_ms();
    let quota = match (plan.quota, plan.quota_key(&plan.tag(key), now)) {
        (Some(q), Some((counter, start, end))) => {
            let used = store.get(&counter).await?.max(0) as u64;
            Some(QuotaUsage {
                limit: q.limit,
                period: format!("{:?}", q.period).to_uppercase(),
                used,
                remaining: q.limit.saturating_sub(used),
                period_start: rfc3339(start),
                resets_at: rfc3339(end),
            })
        }
        _ => None,
    };
    Ok(Usage {
        plan: plan.name.to_string(),
        key: key.to_owned(),
        quota,
    })
}

/// Resets `key`'s quota in the current period (as Amazon API Gateway's usage update; the
/// throttle refills by itself).
pub async fn reset(store: &StateStore, plan: &PlanRuntime, key: &str) -> Result<(), StoreError> {
    match plan.quota_key(&plan.tag(key), unix_ms()) {
        Some((counter, _, _)) => store.remove(&counter).await,
        None => Ok(()),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix milliseconds.
fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = super::period::civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}
