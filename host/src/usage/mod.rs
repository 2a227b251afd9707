//! Usage plans (Amazon API Gateway's): a throttle and a quota per caller, for the usage keys
//! attached to a plan, checked by the host at the start of the meter phase. The caller's
//! usage key comes from the authorize phase (the `api-key` plugin's consumer, or an
//! authorizer's `usage-key`). See `docs/throttling.md`.

mod admin;
mod period;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

pub use admin::{Usage, read, reset};
pub use period::bounds;

use crate::config::{Config, MeterMode, Quota, Throttle, UsagePlan};
use crate::error::Refusal;
use crate::plugin::Identity;
use crate::state::{Meter, Metered, StateStore, unix_ms, untagged};

/// A compiled plan.
pub struct PlanRuntime {
    /// Its name.
    pub name: Arc<str>,
    throttle: Option<Throttle>,
    /// Its quota.
    pub quota: Option<Quota>,
    routes: HashMap<String, Throttle>,
    mode: MeterMode,
}

impl PlanRuntime {
    /// The key prefix of `usage_key`'s counters: one hash tag for the throttle and quota.
    pub fn tag(&self, usage_key: &str) -> String {
        format!("u:{{{}:{}}}", self.name, untagged(usage_key))
    }

    /// The quota counter (under `tag`, see [`PlanRuntime::tag`]) in the period holding
    /// `now_ms`, and the period's bounds.
    pub fn quota_key(&self, tag: &str, now_ms: u64) -> Option<(String, u64, u64)> {
        let q = self.quota?;
        let (start, end) = bounds(now_ms, q.period, q.offset);
        Some((format!("{tag}:q:{start}"), start, end))
    }
}

/// The plans covering one API stage, by usage key.
#[derive(Default)]
pub struct StagePlans {
    by_key: HashMap<String, Arc<PlanRuntime>>,
    /// A plan names this stage (or its API): callers in none of its plans are refused.
    required: bool,
    /// Where route overrides' buckets are: `<api>/<stage>/`, escaped.
    overrides_at: Box<str>,
}

/// Every plan of a config version.
#[derive(Default)]
pub struct UsagePlans {
    /// Plans by name.
    pub plans: HashMap<String, Arc<PlanRuntime>>,
    config: Vec<(Arc<PlanRuntime>, UsagePlan)>,
}

impl UsagePlans {
    /// Compiles the plans of `config` (validated: names, references, offsets).
    pub fn compile(config: &Config) -> Self {
        let mut out = Self::default();
        for (name, p) in &config.usage_plans {
            let plan = Arc::new(PlanRuntime {
                name: name.as_str().into(),
                throttle: p.throttle,
                quota: p.quota,
                routes: p.routes.clone().into_iter().collect(),
                mode: p.mode,
            });
            out.plans.insert(name.clone(), Arc::clone(&plan));
            out.config.push((plan, p.clone()));
        }
        out
    }

    /// The plans covering stage `stage` of API `api`, if any.
    pub fn for_stage(&self, api: &str, stage: &str) -> Option<Arc<StagePlans>> {
        let qualified = format!("{api}/{stage}");
        let mut plans = StagePlans {
            overrides_at: untagged(&format!("{qualified}/")).into(),
            ..StagePlans::default()
        };
        for (plan, def) in &self.config {
            let named = def.apis.iter().any(|a| *a == api || *a == qualified);
            if !(named || def.apis.is_empty()) {
                continue;
            }
            plans.required |= named;
            for consumer in &def.consumers {
                plans
                    .by_key
                    .entry(consumer.clone())
                    .or_insert_with(|| Arc::clone(plan));
            }
        }
        (plans.required || !plans.by_key.is_empty()).then(|| Arc::new(plans))
    }

    /// Route overrides naming no route of the APIs their plan covers, as
    /// `(plan, route key)`.
    pub fn unknown_routes(
        &self,
        routes_by_api: &HashMap<&str, BTreeSet<String>>,
    ) -> Vec<(String, String)> {
        let mut unknown = Vec::new();
        for (plan, def) in &self.config {
            for key in def.routes.keys() {
                let known = routes_by_api.iter().any(|(api, keys)| {
                    let covered = def.apis.is_empty()
                        || def.apis.iter().any(|a| a.split('/').next() == Some(*api));
                    covered && keys.contains(key)
                });
                if !known {
                    unknown.push((plan.name.to_string(), key.clone()));
                }
            }
        }
        unknown
    }
}

/// Checks the caller's plan among the `plans` of the request's stage for the route
/// `route_key`; `Some` when it refuses the request.
pub async fn check(
    store: &StateStore,
    plans: Option<&StagePlans>,
    route_key: &str,
    identity: Option<&Identity>,
) -> Option<Refusal> {
    let plans = plans?;
    let usage_key = identity.and_then(|i| i.usage_key.as_deref())?;
    let Some(plan) = plans.by_key.get(usage_key) else {
        if plans.required {
            reject("", "no_plan");
            return Some(Refusal::Forbidden);
        }
        return None;
    };
    let tag = plan.tag(usage_key);
    // A route override throttles the route of this API stage (as Amazon API Gateway's
    // method throttling); the plan's throttle spans every API it covers.
    let (throttle, bucket_key) = match plan.routes.get(route_key) {
        Some(t) => (
            Some(t),
            format!("{tag}:t:{}{}", plans.overrides_at, untagged(route_key)),
        ),
        None => (plan.throttle.as_ref(), format!("{tag}:t")),
    };
    let now = unix_ms();
    let quota = plan.quota_key(&tag, now).zip(plan.quota);
    let meter = Meter {
        bucket: throttle.map(|t| (bucket_key.as_str(), t.capacity(), t.rate)),
        quota: quota.as_ref().map(|((key, _, end), q)| {
            (
                key.as_str(),
                q.limit,
                Duration::from_millis(end.saturating_sub(now)),
            )
        }),
    };
    if meter.bucket.is_none() && meter.quota.is_none() {
        return None;
    }
    let verdict = match plan.mode {
        MeterMode::Strict => store.meter(&meter).await,
        MeterMode::BestEffort => store.meter_deferred(&meter).await,
    };
    match verdict {
        Ok(Metered::Allowed { .. }) => None,
        Ok(Metered::Throttled(t)) => {
            reject(&plan.name, "throttle");
            Some(Refusal::Throttled(t.retry_after))
        }
        Ok(Metered::OverQuota { .. }) => {
            reject(&plan.name, "quota");
            let left = quota.map(|((_, _, end), _)| Duration::from_millis(end.saturating_sub(now)));
            Some(Refusal::OverQuota(left))
        }
        Err(e) => {
            tracing::warn!(plan = %plan.name, error = %e, "usage plan not checked: the state store is unavailable");
            Some(Refusal::StoreUnavailable)
        }
    }
}

fn reject(plan: &str, reason: &'static str) {
    metrics::counter!("tollgate_usage_plan_rejections_total", "plan" => plan.to_owned(), "reason" => reason)
        .increment(1);
}

/// A JSON answer as Amazon API Gateway gives it, with `Retry-After` in whole seconds.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Period;
    use crate::state::MemoryStore;

    #[test]
    fn a_new_period_starts_a_new_count() {
        let plan = PlanRuntime {
            name: "gold".into(),
            throttle: None,
            quota: Some(Quota {
                limit: 2,
                period: Period::Day,
                offset: 0,
            }),
            routes: HashMap::new(),
            mode: MeterMode::Strict,
        };
        let store = MemoryStore::default();
        // 2026-11-25T23:59:59.999Z, then midnight.
        let before = 1_795_651_199_999;
        let check = |now: u64| {
            let (key, _, end) = plan.quota_key(&plan.tag("acme"), now).expect("quota");
            let ttl = Duration::from_millis(end - now);
            store.meter(&Meter {
                bucket: None,
                quota: Some((key.as_str(), 2, ttl)),
            })
        };
        assert!(matches!(check(before), Metered::Allowed { used: 1, .. }));
        assert!(matches!(check(before), Metered::Allowed { used: 2, .. }));
        assert_eq!(check(before), Metered::OverQuota { used: 2 });
        assert!(matches!(
            check(before + 1),
            Metered::Allowed { used: 1, .. }
        ));
        let (key, start, _) = plan
            .quota_key(&plan.tag("acme"), before + 1)
            .expect("quota");
        assert_eq!(start, before + 1);
        assert_eq!(key, format!("u:{{gold:acme}}:q:{start}"));
    }
}
