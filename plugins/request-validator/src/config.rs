//! The plugin's config, checked once at `init` into [`Settings`]: parameter specs (ours and
//! AWS's `request_parameters`), the body schema compiled, patterns compiled. Every error
//! names the field it is about (`parameters.querystring.limit.pattern: ...`).

use std::fmt;
use std::marker::PhantomData;

use regex_lite::Regex;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::params::{Kind, Location, Param, Typed};
use crate::schema::BodySchema;

/// A map that keeps its entries in the order received.
struct Ordered<T>(Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// A string, number or boolean, as text (an `enum` entry).
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A parameter spec as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    required: bool,
    #[serde(default, rename = "type")]
    kind: Kind,
    #[serde(default)]
    minimum: Option<f64>,
    #[serde(default)]
    maximum: Option<f64>,
    #[serde(default, alias = "minLength")]
    min_length: Option<usize>,
    #[serde(default, alias = "maxLength")]
    max_length: Option<usize>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default, rename = "enum")]
    allowed: Option<Vec<Scalar>>,
}

/// `parameters`: specs by location.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Locations {
    #[serde(default)]
    querystring: Ordered<Spec>,
    #[serde(default)]
    header: Ordered<Spec>,
    #[serde(default)]
    path: Ordered<Spec>,
}

/// The config as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default, alias = "validateRequestBody")]
    validate_request_body: Option<bool>,
    #[serde(default, alias = "validateRequestParameters")]
    validate_request_parameters: Option<bool>,
    #[serde(default, alias = "bodySchema")]
    body_schema: Option<Value>,
    #[serde(default)]
    parameters: Option<Locations>,
    #[serde(default, alias = "requestParameters")]
    request_parameters: Option<Ordered<bool>>,
}

/// The checked config.
pub struct Settings {
    /// Parameters to check, in config order (`parameters` by location, then
    /// `request_parameters`); empty when parameter validation is off.
    pub params: Vec<Param>,
    /// The body schema, when body validation is on.
    pub body: Option<BodySchema>,
}

/// Checks a parameter name for `location`; headers come back lowercase.
fn name(location: Location, name: &str, at: &str) -> Result<String, String> {
    match location {
        Location::Header if !tollgate_sdk::http::is_token(name) => {
            Err(format!("{at}: `{name}` is not a header name"))
        }
        Location::Header => Ok(name.to_ascii_lowercase()),
        _ if name.is_empty() => Err(format!("{at}: a parameter name is empty")),
        _ => Ok(name.to_owned()),
    }
}

/// Checks one spec of `parameters`.
fn param(location: Location, raw_name: &str, spec: Spec) -> Result<Param, String> {
    let at = format!("parameters.{}.{raw_name}", location.as_str());
    let name = name(location, raw_name, &at)?;
    let numeric = matches!(spec.kind, Kind::Integer | Kind::Number);
    for (field, value) in [("minimum", spec.minimum), ("maximum", spec.maximum)] {
        if value.is_some() && !numeric {
            return Err(format!(
                "{at}.{field}: only integer and number parameters have bounds (set `type`)"
            ));
        }
    }
    if let (Some(min), Some(max)) = (spec.minimum, spec.maximum)
        && min > max
    {
        return Err(format!("{at}.maximum: {max} is below the minimum of {min}"));
    }
    if let (Some(min), Some(max)) = (spec.min_length, spec.max_length)
        && min > max
    {
        return Err(format!("{at}.max_length: {max} is below min_length {min}"));
    }
    let pattern = spec
        .pattern
        .map(|p| {
            Regex::new(&p)
                .map_err(|e| format!("{at}.pattern: `{p}` is not a valid regular expression: {e}"))
        })
        .transpose()?;
    let (allowed, allowed_shown) = match spec.allowed {
        None => (None, String::new()),
        Some(list) if list.is_empty() => {
            return Err(format!("{at}.enum: empty; list the values allowed"));
        }
        Some(list) => {
            let typed = list
                .iter()
                .enumerate()
                .map(|(i, Scalar(v))| {
                    spec.kind.read(v).ok_or_else(|| {
                        format!("{at}.enum[{i}]: `{v}` is not of type {}", spec.kind.name())
                    })
                })
                .collect::<Result<Vec<Typed>, _>>()?;
            let shown = list
                .iter()
                .map(|Scalar(v)| v.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            (Some(typed), format!("[{shown}]"))
        }
    };
    Ok(Param {
        location,
        name,
        required: spec.required,
        kind: spec.kind,
        minimum: spec.minimum,
        maximum: spec.maximum,
        min_length: spec.min_length,
        max_length: spec.max_length,
        pattern,
        allowed,
        allowed_shown,
    })
}

/// Reads a `request_parameters` key: `method.request.<location>.<name>`.
fn aws_param(key: &str, required: bool) -> Result<Param, String> {
    let at = format!("request_parameters.{key}");
    let rest = key.strip_prefix("method.request.").unwrap_or("");
    let (location, raw_name) = match rest.split_once('.') {
        Some(("querystring" | "multivaluequerystring", n)) => (Location::Querystring, n),
        Some(("header" | "multivalueheader", n)) => (Location::Header, n),
        Some(("path", n)) => (Location::Path, n),
        _ => {
            return Err(format!(
                "{at}: expected method.request.querystring.NAME, method.request.header.NAME \
                 or method.request.path.NAME"
            ));
        }
    };
    Ok(Param {
        location,
        name: name(location, raw_name, &at)?,
        required,
        kind: Kind::String,
        minimum: None,
        maximum: None,
        min_length: None,
        max_length: None,
        pattern: None,
        allowed: None,
        allowed_shown: String::new(),
    })
}

impl Settings {
    /// Checks the plugin's JSON config.
    pub fn parse(config: Value) -> Result<Self, String> {
        let config: Config = tollgate_sdk::config::from_value(config)?;

        let mut params = Vec::new();
        let locations = config.parameters.unwrap_or_default();
        for (location, specs) in [
            (Location::Querystring, locations.querystring),
            (Location::Header, locations.header),
            (Location::Path, locations.path),
        ] {
            for (name, spec) in specs.0 {
                params.push(param(location, &name, spec)?);
            }
        }
        for (key, required) in config.request_parameters.unwrap_or_default().0 {
            let p = aws_param(&key, required)?;
            if params
                .iter()
                .any(|q| q.location == p.location && q.name == p.name)
            {
                return Err(format!(
                    "request_parameters.{key}: {} is also in parameters; name it once",
                    p.label()
                ));
            }
            params.push(p);
        }

        let body = config
            .body_schema
            .map(|s| BodySchema::compile(s).map_err(|e| format!("body_schema: {e}")))
            .transpose()?;

        if body.is_none() && params.is_empty() {
            return Err(
                "nothing to validate: give body_schema, parameters or request_parameters".into(),
            );
        }
        let validate_body = config.validate_request_body.unwrap_or(body.is_some());
        if validate_body && body.is_none() {
            return Err("validate_request_body: true, but there is no body_schema".into());
        }
        let validate_params = config
            .validate_request_parameters
            .unwrap_or(!params.is_empty());
        if validate_params && params.is_empty() {
            return Err(
                "validate_request_parameters: true, but there are no parameters or request_parameters"
                    .into(),
            );
        }
        Ok(Self {
            params: if validate_params { params } else { Vec::new() },
            body: if validate_body { body } else { None },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Settings, String> {
        Settings::parse(serde_json::from_str(json).map_err(|e| e.to_string())?)
    }

    /// Locations come in a fixed order (querystring, header, path, then `request_parameters`);
    /// within each, entries keep the order written (the host keeps the config's key order).
    #[test]
    fn defaults_and_order() {
        let s = parse(
            r#"{"parameters":{"path":{"id":{"type":"integer"}},
                  "header":{"X-Tenant":{"required":true,"pattern":"^[a-z]+$"}},
                  "querystring":{"limit":{"required":true,"type":"integer","minimum":1,"maximum":100},
                                 "sort":{"enum":["asc","desc"]}}},
                "requestParameters":{"method.request.querystring.q":true,
                                     "method.request.multivalueheader.x-b":false}}"#,
        )
        .expect("valid");
        assert!(s.body.is_none());
        let labels: Vec<String> = s.params.iter().map(Param::label).collect();
        assert_eq!(
            labels,
            [
                "querystring.limit",
                "querystring.sort",
                "header.x-tenant",
                "path.id",
                "querystring.q",
                "header.x-b"
            ]
        );
        assert!(s.params[0].required && !s.params[1].required);
        assert_eq!(s.params[1].allowed_shown, "[asc, desc]");
        assert!(s.params[4].required && !s.params[5].required);
    }

    #[test]
    fn switches() {
        let body = r#""body_schema":{"type":"object"}"#;
        let params = r#""parameters":{"querystring":{"a":{"required":true}}}"#;
        let s = parse(&format!("{{{body},{params}}}")).expect("valid");
        assert!(s.body.is_some() && s.params.len() == 1);
        let s = parse(&format!(
            "{{{body},{params},\"validateRequestBody\":false}}"
        ))
        .expect("valid");
        assert!(s.body.is_none() && s.params.len() == 1);
        let s = parse(&format!(
            "{{{body},{params},\"validate_request_parameters\":false}}"
        ))
        .expect("valid");
        assert!(s.body.is_some() && s.params.is_empty());
    }

    #[test]
    fn enum_entries_take_the_type() {
        let s = parse(
            r#"{"parameters":{"querystring":{"n":{"type":"integer","enum":[1,"2"]},
                          "b":{"type":"boolean","enum":[true]}}}}"#,
        )
        .expect("valid");
        assert_eq!(s.params[0].allowed_shown, "[1, 2]");
        assert!(s.params[1].check("TRUE").is_ok());
    }

    #[test]
    fn errors_name_the_field() {
        for (json, want) in [
            (r#"{}"#, "nothing to validate"),
            (
                r#"{"validate_request_body":true,"parameters":{"path":{"id":{}}}}"#,
                "validate_request_body: true, but there is no body_schema",
            ),
            (
                r#"{"validateRequestParameters":true,"body_schema":{}}"#,
                "validate_request_parameters: true, but",
            ),
            (r#"{"body_schema":{"type":"integr"}}"#, "body_schema: "),
            (
                r#"{"body_schema":{"$ref":"https://example.com/s.json"}}"#,
                "body_schema: ",
            ),
            (
                r#"{"body_schema":"object"}"#,
                "body_schema: a schema is an object",
            ),
            (
                r#"{"parameters":{"querystring":{"limit":{"type":"int"}}}}"#,
                "parameters.querystring.limit.type: unknown variant `int`",
            ),
            (
                r#"{"parameters":{"querystring":{"limit":{"requird":true}}}}"#,
                "parameters.querystring.limit.requird: unknown field `requird`",
            ),
            (
                r#"{"parameters":{"query":{}}}"#,
                "parameters.query: unknown field `query`",
            ),
            (
                r#"{"parameters":{"querystring":{"limit":{"required":"yes"}}}}"#,
                "parameters.querystring.limit.required: invalid type",
            ),
            (
                r#"{"parameters":{"querystring":{"s":{"minimum":1}}}}"#,
                "parameters.querystring.s.minimum: only integer and number",
            ),
            (
                r#"{"parameters":{"querystring":{"n":{"type":"number","minimum":5,"maximum":1}}}}"#,
                "parameters.querystring.n.maximum: 1 is below the minimum of 5",
            ),
            (
                r#"{"parameters":{"querystring":{"s":{"min_length":5,"maxLength":1}}}}"#,
                "parameters.querystring.s.max_length: 1 is below min_length 5",
            ),
            (
                r#"{"parameters":{"querystring":{"s":{"min_length":-1}}}}"#,
                "parameters.querystring.s.min_length: invalid value",
            ),
            (
                r#"{"parameters":{"header":{"x-t":{"pattern":"(["}}}}"#,
                "parameters.header.x-t.pattern: `([` is not a valid regular expression",
            ),
            (
                r#"{"parameters":{"header":{"x t":{}}}}"#,
                "parameters.header.x t: `x t` is not a header name",
            ),
            (
                r#"{"parameters":{"querystring":{"":{}}}}"#,
                "parameters.querystring.: a parameter name is empty",
            ),
            (
                r#"{"parameters":{"querystring":{"s":{"enum":[]}}}}"#,
                "parameters.querystring.s.enum: empty",
            ),
            (
                r#"{"parameters":{"querystring":{"s":{"enum":[{"a":1}]}}}}"#,
                "parameters.querystring.s.enum[0]: invalid type: map",
            ),
            (
                r#"{"parameters":{"querystring":{"n":{"type":"integer","enum":["x"]}}}}"#,
                "parameters.querystring.n.enum[0]: `x` is not of type integer",
            ),
            (
                r#"{"request_parameters":{"method.request.body.x":true}}"#,
                "request_parameters.method.request.body.x: expected method.request.querystring.NAME",
            ),
            (
                r#"{"request_parameters":{"querystring.x":true}}"#,
                "request_parameters.querystring.x: expected",
            ),
            (
                r#"{"request_parameters":{"method.request.path.":true}}"#,
                "request_parameters.method.request.path.: a parameter name is empty",
            ),
            (
                r#"{"request_parameters":{"method.request.querystring.x":"yes"}}"#,
                "request_parameters.method.request.querystring.x: invalid type",
            ),
            (
                r#"{"parameters":{"header":{"X-A":{}}},"request_parameters":{"method.request.header.x-a":true}}"#,
                "request_parameters.method.request.header.x-a: header.x-a is also in parameters",
            ),
            (
                r#"{"body_schema":{},"extra":1}"#,
                "extra: unknown field `extra`",
            ),
        ] {
            let e = parse(json).map(|_| ()).expect_err(json);
            assert!(e.starts_with(want), "{json}: {e}");
        }
    }
}
