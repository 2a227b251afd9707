//! Built-in `rate-limit`: token-bucket rate limits on the gateway's state store (in memory
//! on the node, or in Redis shared by all nodes), keyed by client IP, route, API, principal,
//! consumer, API key, a header or nothing at all. Every listed limit must admit a request;
//! a refused one gets 429 with `Retry-After`, and every response carries the `RateLimit-*`
//! headers (and their `X-RateLimit-*` twins). `docs/throttling.md` is the reference.
//!
//! ```yaml
//! plugins:
//!   limiter:
//!     builtin: rate-limit
//!     on_request: [meter]
//!     capabilities: [state, log, metrics]
//!     config:
//!       limits:
//!         - { rate: 10, per: 1s, burst: 20 }
//!         - { rate: 1000, per: 1h }
//!       key: [consumer]                      # default [client_ip]
//!       trusted_proxies: ["10.0.0.0/8"]      # believe their X-Forwarded-For
//!       # shadow: true                       # count and log, never refuse
//!       # headers: false                     # no RateLimit-* headers
//!       # message: "Slow down"
//! ```

mod config;
mod key;
mod net;

use serde_json::{Map, Value};
use tollgate_sdk::log::Level;
use tollgate_sdk::state::{self, Taken};
use tollgate_sdk::{Action, Plugin, Request, RequestPhase, Response, log, metrics};

use config::{Limit, Settings};

struct RateLimit(Settings);

/// The numbers the headers report: of the limit closest to refusing.
struct Standing {
    limit: u64,
    remaining: u64,
    reset: u64,
}

impl Standing {
    fn of(limit: &Limit, taken: &Taken) -> Self {
        Self {
            limit: limit.burst,
            remaining: taken.remaining,
            reset: limit.reset_secs(taken.remaining),
        }
    }

    /// Whether `self` is closer to refusing than `other`: fewer tokens left, then longer
    /// until full.
    fn tighter_than(&self, other: &Self) -> bool {
        (self.remaining, std::cmp::Reverse(self.reset))
            < (other.remaining, std::cmp::Reverse(other.reset))
    }
}

impl RateLimit {
    fn headers(&self, s: &Standing) -> Vec<(String, String)> {
        let (limit, remaining, reset) = (
            s.limit.to_string(),
            s.remaining.to_string(),
            s.reset.to_string(),
        );
        [
            ("ratelimit-limit", limit.clone()),
            ("ratelimit-remaining", remaining.clone()),
            ("ratelimit-reset", reset.clone()),
            ("ratelimit-policy", self.0.policy.clone()),
            ("x-ratelimit-limit", limit),
            ("x-ratelimit-remaining", remaining),
            ("x-ratelimit-reset", reset),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// 429, with `Retry-After` and the limit's standing.
    fn refuse(&self, limit: &Limit, taken: &Taken) -> Action {
        let _ = metrics::counter_add("rejections", &[("limit".into(), limit.label.clone())], 1);
        let retry_after = taken.retry_after_ms.div_ceil(1000).max(1);
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("retry-after".to_owned(), retry_after.to_string()),
        ];
        if self.0.headers {
            let standing = Standing::of(limit, taken);
            headers.extend(self.headers(&standing));
        }
        Action::Respond(Response {
            status: 429,
            headers,
            body: self.0.rejection_body.clone(),
        })
    }

    /// Shadow mode: what would have been refused is counted and logged, and passes.
    fn would_refuse(&self, limit: &Limit, taken: &Taken, key: &str) {
        let label = vec![("limit".to_owned(), limit.label.clone())];
        let _ = metrics::counter_add("shadow_rejections", &label, 1);
        let _ = log::log(
            Level::Warn,
            &format!(
                "would reject (shadow mode): limit {} ({}) exhausted for {key}, \
                 a token is back in {} s",
                limit.label,
                limit.policy,
                taken.retry_after_ms.div_ceil(1000)
            ),
        );
    }

    /// The store did not answer (or `state` is not granted): 503, never an unmetered pass.
    fn unavailable(error: &str) -> Action {
        let _ = log::log(
            Level::Error,
            &format!("rate limit store unavailable: {error}"),
        );
        tollgate_sdk::respond_message(503, "Rate limit store unavailable", &[])
    }
}

#[tollgate_sdk::plugin(filter)]
impl Plugin for RateLimit {
    type Config = Map<String, Value>;

    fn new(config: Map<String, Value>) -> Result<Self, String> {
        Settings::parse(config).map(Self)
    }

    fn on_request(&self, _phase: RequestPhase, req: &Request) -> Action {
        let key = key::of_request(&self.0, req);
        let mut tightest: Option<Standing> = None;
        for limit in &self.0.limits {
            let bucket = format!("{}{key}", limit.key_prefix);
            let taken = match state::take(&bucket, limit.burst, limit.refill_per_second, 1) {
                Ok(t) => t,
                Err(e) => return Self::unavailable(&e),
            };
            if !taken.allowed {
                if !self.0.shadow {
                    return self.refuse(limit, &taken);
                }
                self.would_refuse(limit, &taken, &key);
            }
            let standing = Standing::of(limit, &taken);
            if tightest.as_ref().is_none_or(|t| standing.tighter_than(t)) {
                tightest = Some(standing);
            }
        }
        if self.0.headers
            && let Some(standing) = tightest
        {
            let _ = req.add_response_headers(&self.headers(&standing));
        }
        Action::Continue
    }
}
