//! An authorizer for the tests: `x-token: allow-<name>` allows as `<name>` with context
//! `role=tester` and usage key `key-<name>`, `x-token: deny` denies (403), anything else
//! is unauthorized (401). With `count: true` it counts its invocations in the `state`
//! store and puts the count in the context as `invocations`.

use serde::Deserialize;
use tollgate_sdk::{Decision, Grant, Plugin, Request, state};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Config {
    /// The header holding the token. Default `x-token`.
    header: Option<String>,
    /// Count invocations and put the count in the context as `invocations`.
    count: bool,
}

struct TestAuthorizer(Config);

#[tollgate_sdk::plugin]
impl Plugin for TestAuthorizer {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        Ok(Self(config))
    }

    fn authorize(&self, req: &Request) -> Decision {
        let header = self.0.header.as_deref().unwrap_or("x-token");
        let Some(token) = req.header(header) else {
            return Decision::Unauthorized;
        };
        if token == "deny" {
            return Decision::Deny;
        }
        let Some(name) = token.strip_prefix("allow-") else {
            return Decision::Unauthorized;
        };
        let mut context = vec![("role".to_owned(), "tester".to_owned())];
        if self.0.count {
            let n = state::incr("invocations", 1, 3_600_000).unwrap_or(-1);
            context.push(("invocations".into(), n.to_string()));
        }
        Decision::Allow(Grant {
            principal: name.to_owned(),
            context,
            usage_key: Some(format!("key-{name}")),
        })
    }
}
