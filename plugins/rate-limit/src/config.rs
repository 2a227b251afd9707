//! The plugin's config, read once at `init` into [`Settings`]. Every error names the field
//! it is about (`limits[1].per: ...`), since the gateway shows it as the reason it refuses
//! the whole config.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tollgate_sdk::http::is_token;

use crate::net::Cidr;

/// One token bucket every request must get a token from.
#[derive(Debug)]
pub struct Limit {
    /// Its place in `limits` (the `limit` label of the metrics).
    pub label: String,
    /// Most tokens the bucket holds: `RateLimit-Limit`.
    pub burst: u64,
    /// Tokens added per second: `rate / per`.
    pub refill_per_second: f64,
    /// Tokens added per `per_ms`.
    pub rate: u64,
    /// The refill period in milliseconds.
    pub per_ms: u64,
    /// `<burst>;w=<per in seconds>`, its entry in `RateLimit-Policy`.
    pub policy: String,
    /// The start of its bucket keys: the index and the shape, so that a changed limit
    /// starts with fresh buckets instead of inheriting the old ones.
    pub key_prefix: String,
}

impl Limit {
    /// Whole seconds, rounded up, until a bucket with `remaining` tokens is full again.
    /// Exact integer arithmetic: `missing × per / rate`.
    pub fn reset_secs(&self, remaining: u64) -> u64 {
        let missing = u128::from(self.burst.saturating_sub(remaining));
        let ms = missing * u128::from(self.per_ms);
        let per_sec = u128::from(self.rate) * 1000;
        u64::try_from(ms.div_ceil(per_sec)).unwrap_or(u64::MAX)
    }
}

/// What a part of the bucket key is taken from.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyPart {
    /// The matched route's key (`GET /orders/{id}`).
    Route,
    /// The API and the stage.
    Api,
    /// The identity's principal.
    Principal,
    /// The usage key the authorizer granted, else the principal.
    Consumer,
    /// The SHA-256 of the API key in [`Settings::api_key_header`], else the usage key.
    ApiKey,
    /// The client's address (see [`Settings::trusted`]).
    ClientIp,
    /// A request header (lowercase name).
    Header(String),
    /// One bucket for everyone.
    Global,
}

/// The checked config.
#[derive(Debug)]
pub struct Settings {
    /// The limits in the order they are checked: fastest refill first, so that a request
    /// refused by a slow limit has spent only tokens that come back soon.
    pub limits: Vec<Limit>,
    /// `RateLimit-Policy`: every limit as `<burst>;w=<per in seconds>`, in config order.
    pub policy: String,
    /// What the bucket key is made of, in order.
    pub key: Vec<KeyPart>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted: Vec<Cidr>,
    /// Count and log, never refuse.
    pub shadow: bool,
    /// Send the rate-limit headers.
    pub headers: bool,
    /// The body of a 429: `{"message": ...}`.
    pub rejection_body: Vec<u8>,
    /// Where the `api_key` key part reads the key (lowercase).
    pub api_key_header: String,
}

const FIELDS: [&str; 7] = [
    "limits",
    "key",
    "trusted_proxies",
    "shadow",
    "headers",
    "message",
    "api_key_header",
];

const LIMIT_FIELDS: [&str; 3] = ["rate", "per", "burst"];

const KINDS: &str = "route, api, principal, consumer, api_key, client_ip, header:NAME, global";

/// Takes `name` out of `map` and deserialises it; the error names `path`.
fn take<T: DeserializeOwned>(
    map: &mut Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<T>, String> {
    map.remove(name)
        .map(|v| serde_json::from_value(v).map_err(|e| format!("{path}: {e}")))
        .transpose()
}

/// Refuses any key of `map` not in `known`.
fn no_unknown(map: &Map<String, Value>, known: &[&str], at: &str) -> Result<(), String> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{at}unknown field `{k}`, expected one of {}",
            known
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => Ok(()),
    }
}

/// A duration as the gateway's config writes them (`500ms`, `1s`, `1m`, `1h`, `1d`,
/// `1h 30m`), in whole milliseconds.
pub fn parse_per(s: &str) -> Result<u64, String> {
    let d = tollgate_sdk::duration::parse(s)?;
    u64::try_from(d.as_millis()).map_err(|_| format!("`{s}` is too long"))
}

/// Milliseconds as seconds for `RateLimit-Policy`: `60`, or `0.5` below a whole second.
fn window(per_ms: u64) -> String {
    if per_ms.is_multiple_of(1000) {
        (per_ms / 1000).to_string()
    } else {
        let s = format!("{}.{:03}", per_ms / 1000, per_ms % 1000);
        s.trim_end_matches('0').to_owned()
    }
}

fn parse_key_part(s: &str, at: &str) -> Result<KeyPart, String> {
    Ok(match s {
        "route" => KeyPart::Route,
        "api" => KeyPart::Api,
        "principal" => KeyPart::Principal,
        "consumer" => KeyPart::Consumer,
        "api_key" => KeyPart::ApiKey,
        "client_ip" => KeyPart::ClientIp,
        "global" => KeyPart::Global,
        _ => match s.strip_prefix("header:") {
            Some(name) if is_token(name) => KeyPart::Header(name.to_ascii_lowercase()),
            Some(_) => return Err(format!("{at}: `{s}` does not name a header")),
            None => return Err(format!("{at}: `{s}` is not one of {KINDS}")),
        },
    })
}

fn parse_limit(index: usize, value: Value) -> Result<Limit, String> {
    let at = format!("limits[{index}]");
    let Value::Object(mut map) = value else {
        return Err(format!(
            "{at}: expected a limit such as {{ rate: 10, per: 1s, burst: 20 }}"
        ));
    };
    no_unknown(&map, &LIMIT_FIELDS, &format!("{at}: "))?;
    let rate: u64 = take(&mut map, "rate", &format!("{at}.rate"))?
        .ok_or_else(|| format!("{at}.rate: missing (requests per `per`)"))?;
    if rate == 0 {
        return Err(format!(
            "{at}.rate: must be at least 1 (for fewer requests, lengthen `per`)"
        ));
    }
    let per = map
        .remove("per")
        .ok_or_else(|| format!("{at}.per: missing (a duration such as 1s, 1m or 1h)"))?;
    let per_ms = match &per {
        Value::String(s) => parse_per(s).map_err(|e| format!("{at}.per: {e}"))?,
        other => {
            return Err(format!(
                "{at}.per: `{other}` is not a duration such as 500ms, 1s, 1m, 1h or 1d"
            ));
        }
    };
    if per_ms == 0 {
        return Err(format!("{at}.per: must be at least 1ms"));
    }
    let burst: u64 = take(&mut map, "burst", &format!("{at}.burst"))?.unwrap_or(rate);
    if burst == 0 {
        return Err(format!("{at}.burst: must be at least 1"));
    }
    Ok(Limit {
        label: index.to_string(),
        burst,
        refill_per_second: rate as f64 * 1000.0 / per_ms as f64,
        rate,
        per_ms,
        policy: format!("{burst};w={}", window(per_ms)),
        key_prefix: format!("v1|{index}|{burst}|{rate}/{per_ms}|"),
    })
}

impl Settings {
    /// Checks the plugin's JSON config.
    pub fn parse(mut map: Map<String, Value>) -> Result<Self, String> {
        no_unknown(&map, &FIELDS, "")?;
        let raw: Vec<Value> = take(&mut map, "limits", "limits")?
            .ok_or("limits: missing; give at least one, e.g. [{ rate: 10, per: 1s }]")?;
        if raw.is_empty() {
            return Err("limits: empty; give at least one, e.g. [{ rate: 10, per: 1s }]".into());
        }
        let mut limits = raw
            .into_iter()
            .enumerate()
            .map(|(i, v)| parse_limit(i, v))
            .collect::<Result<Vec<_>, _>>()?;
        let policy = limits
            .iter()
            .map(|l| l.policy.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        limits.sort_by(|a, b| b.refill_per_second.total_cmp(&a.refill_per_second));

        let key = match map.remove("key") {
            None => vec![KeyPart::ClientIp],
            Some(Value::String(s)) => vec![parse_key_part(&s, "key")?],
            Some(v) => {
                let list: Vec<String> =
                    serde_json::from_value(v).map_err(|e| format!("key: {e}"))?;
                if list.is_empty() {
                    return Err(format!("key: empty; give one or more of {KINDS}"));
                }
                list.iter()
                    .enumerate()
                    .map(|(i, s)| parse_key_part(s, &format!("key[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?
            }
        };

        let proxies: Vec<String> =
            take(&mut map, "trusted_proxies", "trusted_proxies")?.unwrap_or_default();
        let trusted = proxies
            .iter()
            .enumerate()
            .map(|(i, s)| Cidr::parse(s).map_err(|e| format!("trusted_proxies[{i}]: {e}")))
            .collect::<Result<Vec<_>, _>>()?;

        let shadow = take(&mut map, "shadow", "shadow")?.unwrap_or(false);
        let headers = take(&mut map, "headers", "headers")?.unwrap_or(true);
        let message: String =
            take(&mut map, "message", "message")?.unwrap_or_else(|| "Too Many Requests".to_owned());
        let api_key_header: String = take(&mut map, "api_key_header", "api_key_header")?
            .unwrap_or_else(|| "x-api-key".to_owned());
        if !is_token(&api_key_header) {
            return Err(format!(
                "api_key_header: `{api_key_header}` is not a header name"
            ));
        }
        Ok(Self {
            limits,
            policy,
            key,
            trusted,
            shadow,
            headers,
            rejection_body: tollgate_sdk::message_body(&message).into_bytes(),
            api_key_header: api_key_header.to_ascii_lowercase(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Settings, String> {
        Settings::parse(serde_json::from_str(json).map_err(|e| e.to_string())?)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_per("500ms"), Ok(500));
        assert_eq!(parse_per("1s"), Ok(1000));
        assert_eq!(parse_per("2m"), Ok(120_000));
        assert_eq!(parse_per("1h"), Ok(3_600_000));
        assert_eq!(parse_per("1d"), Ok(86_400_000));
        assert_eq!(
            parse_per("1h 30m"),
            Ok(5_400_000),
            "as the gateway's durations"
        );
        for bad in ["", "s", "1", "1x", "-1s", "99999999999999999999d"] {
            assert!(parse_per(bad).is_err(), "{bad}");
        }
        assert!(parse_per("60").unwrap_err().contains("has no unit"));
    }

    #[test]
    fn defaults_order_and_policy() {
        let s = parse(r#"{"limits":[{"rate":1000,"per":"1h"},{"rate":10,"per":"1s","burst":20}]}"#)
            .expect("valid");
        assert_eq!(s.key, vec![KeyPart::ClientIp]);
        assert_eq!(s.policy, "1000;w=3600, 20;w=1");
        assert_eq!(
            s.limits[0].label, "1",
            "the fastest refill is checked first"
        );
        assert_eq!(s.limits[0].burst, 20);
        assert!((s.limits[0].refill_per_second - 10.0).abs() < 1e-9);
        assert_eq!(s.limits[1].key_prefix, "v1|0|1000|1000/3600000|");
        assert_eq!(s.limits[1].reset_secs(999), 4, "3.6 s rounded up");
        assert_eq!(s.limits[1].reset_secs(0), 3600);
        assert_eq!(s.limits[0].reset_secs(20), 0);
        assert_eq!(s.limits[0].reset_secs(0), 2);
        assert!(s.headers && !s.shadow);
        assert_eq!(s.rejection_body, br#"{"message":"Too Many Requests"}"#);
        assert_eq!(window(500), "0.5");
        assert_eq!(window(1250), "1.25");
    }

    #[test]
    fn errors_name_the_field() {
        for (json, want) in [
            (r#"{}"#, "limits: missing"),
            (r#"{"limits":[]}"#, "limits: empty"),
            (
                r#"{"limits":[{"rate":0,"per":"1s"}]}"#,
                "limits[0].rate: must be at least 1",
            ),
            (
                r#"{"limits":[{"rate":1,"per":"1x"}]}"#,
                "limits[0].per: `1x` is not a duration",
            ),
            (
                r#"{"limits":[{"rate":1,"per":"60"}]}"#,
                "limits[0].per: `60` has no unit",
            ),
            (
                r#"{"limits":[{"rate":1,"per":60}]}"#,
                "limits[0].per: `60` is not a duration",
            ),
            (r#"{"limits":[{"rate":1,"per":"0s"}]}"#, "limits[0].per:"),
            (
                r#"{"limits":[{"rate":1,"per":"1s","burst":0}]}"#,
                "limits[0].burst: must be",
            ),
            (
                r#"{"limits":[{"rate":"x","per":"1s"}]}"#,
                "limits[0].rate: invalid type",
            ),
            (
                r#"{"limits":[{"rate":1,"per":"1s","brust":2}]}"#,
                "limits[0]: unknown field `brust`",
            ),
            (
                r#"{"limits":[{"rate":1,"per":"1s"}],"kye":[]}"#,
                "unknown field `kye`",
            ),
            (
                r#"{"limits":[{"rate":1,"per":"1s"}],"key":["ip"]}"#,
                "key[0]: `ip` is not one of",
            ),
            (
                r#"{"limits":[{"rate":1,"per":"1s"}],"key":["header:"]}"#,
                "key[0]: `header:`",
            ),
            (
                r#"{"limits":[{"rate":1,"per":"1s"}],"key":[]}"#,
                "key: empty",
            ),
            (
                r#"{"limits":[{"rate":1,"per":"1s"}],"trusted_proxies":["10.0.0.0/33"]}"#,
                "trusted_proxies[0]:",
            ),
            (
                r#"{"limits":[{"rate":1,"per":"1s"}],"shadow":"yes"}"#,
                "shadow: invalid type",
            ),
        ] {
            let e = parse(json).expect_err(json);
            assert!(e.starts_with(want), "{json}: {e}");
        }
    }

    #[test]
    fn key_parts() {
        let s = parse(
            r#"{"limits":[{"rate":1,"per":"1s"}],"key":["route","header:X-User","global"],"api_key_header":"X-Key"}"#,
        )
        .expect("valid");
        assert_eq!(
            s.key,
            vec![
                KeyPart::Route,
                KeyPart::Header("x-user".into()),
                KeyPart::Global
            ]
        );
        assert_eq!(s.api_key_header, "x-key");
        let s = parse(r#"{"limits":[{"rate":1,"per":"1s"}],"key":"api"}"#).expect("one string");
        assert_eq!(s.key, vec![KeyPart::Api]);
    }
}
