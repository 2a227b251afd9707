//! `usage_plans:` — Amazon API Gateway's usage plans: a throttle and a quota per caller,
//! for the consumers attached to the plan.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, de};

/// A usage plan.
///
/// ```yaml
/// usage_plans:
///   gold:
///     apis: [pets, pets/prod]        # API, or API/stage; default: every API
///     consumers: [acme, globex]      # usage keys (the api-key plugin's consumers)
///     throttle: { rate: 100, burst: 200 }
///     quota: { limit: 100000, period: MONTH, offset: 0 }
///     routes:                        # per-route throttle overrides, by route key
///       "POST /orders": { rate: 5, burst: 10 }
///     mode: strict                   # or best_effort
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UsagePlan {
    /// The APIs (`name`) or stages (`name/stage`) the plan covers; empty: every API. On a
    /// stage a plan names, a caller whose usage key is in none of its plans gets 403.
    #[serde(default)]
    pub apis: Vec<String>,
    /// Usage keys attached to the plan (the `api-key` plugin's consumers, or an
    /// authorizer's `usage-key`).
    #[serde(default)]
    pub consumers: Vec<String>,
    /// Steady rate and burst per caller.
    #[serde(default)]
    pub throttle: Option<Throttle>,
    /// Requests per caller per period.
    #[serde(default)]
    pub quota: Option<Quota>,
    /// Throttle overrides by route key (`GET /pets/{id}`).
    #[serde(default)]
    pub routes: BTreeMap<String, Throttle>,
    /// `strict` (default): exact, one atomic store call per request. `best_effort`: the
    /// throttle counts on each node and the quota is synchronised in the background.
    #[serde(default)]
    pub mode: MeterMode,
}

/// A token bucket: `rate` requests a second on average, `burst` at once.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Requests per second (may be fractional: 0.5 is one every two seconds).
    #[serde(deserialize_with = "positive")]
    pub rate: f64,
    /// The bucket's size. Default: the rate, rounded up.
    #[serde(default)]
    pub burst: Option<u64>,
}

impl Throttle {
    /// The bucket's size.
    pub fn capacity(&self) -> u64 {
        self.burst
            .unwrap_or_else(|| self.rate.ceil().min(u64::MAX as f64) as u64)
            .max(1)
    }
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(de::Error::custom(format!(
            "the rate must be a number above 0, not {v}"
        )))
    }
}

/// A quota.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Requests per period.
    pub limit: u64,
    /// `DAY`, `WEEK` or `MONTH` (UTC).
    pub period: Period,
    /// Where a period starts: DAY the hour (0-23), WEEK the weekday (0 Sunday - 6), MONTH
    /// the day of the month less one (0-27).
    #[serde(default)]
    pub offset: u32,
}

/// A quota period.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "UPPERCASE")]
pub enum Period {
    /// A day.
    #[serde(alias = "day")]
    Day,
    /// A week.
    #[serde(alias = "week")]
    Week,
    /// A calendar month.
    #[serde(alias = "month")]
    Month,
}

impl Period {
    /// The largest offset the period takes.
    pub fn max_offset(self) -> u32 {
        match self {
            Self::Day => 23,
            Self::Week => 6,
            Self::Month => 27,
        }
    }
}

/// How exactly a plan is enforced.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MeterMode {
    /// Exact: throttle and quota in one atomic store call per request.
    #[default]
    Strict,
    /// Cheaper: the throttle counts per node, the quota is synchronised every second.
    BestEffort,
}

/// Checks plan names, the APIs and stages plans name, quota offsets, bursts, and that no
/// usage key is in two plans covering one stage.
pub(super) fn validate(config: &super::Config, file: &str) -> Result<(), super::ConfigError> {
    let err =
        |field: String, msg: String| Err(super::ConfigError::invalid(file, None, field, msg, None));
    let stages_of = |api: &super::Api| -> Vec<String> {
        if api.stages.is_empty() {
            vec![super::DEFAULT_STAGE.to_owned()]
        } else {
            api.stages.keys().map(|s| s.0.clone()).collect()
        }
    };
    let mut coverage: Vec<(&str, Vec<(String, String)>)> = Vec::new();
    for (name, plan) in &config.usage_plans {
        let field = format!("usage_plans.{name}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return err(field, "a plan name is letters, digits, `-` and `_`".into());
        }
        if plan.throttle.is_none() && plan.quota.is_none() && plan.routes.is_empty() {
            return err(
                field,
                "a plan needs a `throttle`, a `quota` or `routes`".into(),
            );
        }
        let throttles = plan
            .throttle
            .iter()
            .map(|t| (format!("{field}.throttle"), t))
            .chain(
                plan.routes
                    .iter()
                    .map(|(k, t)| (format!("{field}.routes.{k}"), t)),
            );
        for (f, t) in throttles {
            if t.burst == Some(0) {
                return err(format!("{f}.burst"), "the burst must be at least 1".into());
            }
        }
        if let Some(q) = &plan.quota
            && q.offset > q.period.max_offset()
        {
            return err(
                format!("{field}.quota.offset"),
                format!(
                    "the offset of a {:?} quota is 0 to {}, not {}",
                    q.period,
                    q.period.max_offset(),
                    q.offset
                ),
            );
        }
        let mut covered = Vec::new();
        for (i, target) in plan.apis.iter().enumerate() {
            let (api_name, stage) = match target.split_once('/') {
                Some((a, s)) => (a, Some(s)),
                None => (target.as_str(), None),
            };
            let Some(api) = config.apis.iter().find(|a| a.name.value == api_name) else {
                return err(
                    format!("{field}.apis[{i}]"),
                    format!("there is no API `{api_name}`"),
                );
            };
            let stages = stages_of(api);
            match stage {
                Some(s) if !stages.iter().any(|x| x == s) => {
                    return err(
                        format!("{field}.apis[{i}]"),
                        format!(
                            "API `{api_name}` has no stage `{s}` (stages: {})",
                            stages.join(", ")
                        ),
                    );
                }
                Some(s) => covered.push((api_name.to_owned(), s.to_owned())),
                None => covered.extend(stages.into_iter().map(|s| (api_name.to_owned(), s))),
            }
        }
        if plan.apis.is_empty() {
            for api in &config.apis {
                covered.extend(
                    stages_of(api)
                        .into_iter()
                        .map(|s| (api.name.value.clone(), s)),
                );
            }
        }
        coverage.push((name, covered));
    }
    for (i, (a, a_cov)) in coverage.iter().enumerate() {
        for (b, b_cov) in &coverage[i + 1..] {
            let Some(stage) = a_cov.iter().find(|s| b_cov.contains(s)) else {
                continue;
            };
            let a_keys = &config.usage_plans[*a].consumers;
            if let Some(key) = config.usage_plans[*b]
                .consumers
                .iter()
                .find(|k| a_keys.contains(k))
            {
                return err(
                    format!("usage_plans.{b}.consumers"),
                    format!(
                        "`{key}` is also in plan `{a}`, which covers {}/{} too: a caller has one plan per stage",
                        stage.0, stage.1
                    ),
                );
            }
        }
    }
    Ok(())
}
