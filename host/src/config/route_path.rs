//! Route path templates: `/pets/{id}`, `/files/{path+}`, and the `$default` catch-all.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, de};

/// One segment of a route path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Matches this exact (decoded) text.
    Literal(String),
    /// `{name}`: matches any one segment.
    Param(String),
    /// `{name+}`: matches one or more remaining segments; always last.
    Greedy(String),
}

/// A parsed route path. `$default` is the catch-all route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutePath {
    segments: Vec<Segment>,
    source: String,
}

/// The route key of the catch-all route.
pub const DEFAULT_ROUTE: &str = "$default";

impl RoutePath {
    /// Parses a path template.
    pub fn parse(source: &str) -> Result<Self, String> {
        if source == DEFAULT_ROUTE {
            return Ok(Self {
                segments: Vec::new(),
                source: source.to_owned(),
            });
        }
        let Some(body) = source.strip_prefix('/') else {
            return Err(format!(
                "route path `{source}` must start with `/` (or be `$default`)"
            ));
        };
        let mut segments = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let raw: Vec<&str> = if body.is_empty() {
            Vec::new()
        } else {
            body.split('/').collect()
        };
        for (i, seg) in raw.iter().enumerate() {
            if seg.is_empty() {
                return Err(format!("route path `{source}` has an empty segment"));
            }
            let parsed = if let Some(inner) =
                seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
            {
                let (name, greedy) = match inner.strip_suffix('+') {
                    Some(name) => (name, true),
                    None => (inner, false),
                };
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!(
                        "`{seg}` in `{source}`: a parameter name uses letters, digits and `_`"
                    ));
                }
                if names.contains(&name) {
                    return Err(format!("parameter `{name}` appears twice in `{source}`"));
                }
                names.push(name);
                if greedy {
                    if i + 1 != raw.len() {
                        return Err(format!(
                            "greedy parameter `{seg}` must be the last segment of `{source}`"
                        ));
                    }
                    Segment::Greedy(name.to_owned())
                } else {
                    Segment::Param(name.to_owned())
                }
            } else if seg.contains(['{', '}']) {
                return Err(format!(
                    "`{seg}` in `{source}`: a parameter must be a whole segment such as `{{id}}`"
                ));
            } else if *seg == "." || *seg == ".." {
                return Err(format!("route path `{source}` contains a dot segment"));
            } else {
                Segment::Literal(
                    percent_encoding::percent_decode_str(seg)
                        .decode_utf8_lossy()
                        .into_owned(),
                )
            };
            segments.push(parsed);
        }
        Ok(Self {
            segments,
            source: source.to_owned(),
        })
    }

    /// Whether this is the `$default` catch-all.
    pub fn is_default(&self) -> bool {
        self.source == DEFAULT_ROUTE
    }

    /// The segments of the path (empty for `/` and `$default`).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The names of the parameters, in order.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(n) | Segment::Greedy(n) => Some(n.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for RoutePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for RoutePath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(de::Error::custom)
    }
}

impl JsonSchema for RoutePath {
    fn schema_name() -> Cow<'static, str> {
        "RoutePath".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A path template (`/pets/{id}`, `/files/{path+}`) or `$default`.",
            "examples": ["/pets/{id}", "/{proxy+}", "$default"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_params_and_greedy() {
        let p = RoutePath::parse("/pets/{id}/files/{rest+}").expect("parses");
        assert_eq!(
            p.segments(),
            [
                Segment::Literal("pets".into()),
                Segment::Param("id".into()),
                Segment::Literal("files".into()),
                Segment::Greedy("rest".into()),
            ]
        );
        assert!(RoutePath::parse("/").expect("root").segments().is_empty());
        assert!(RoutePath::parse("$default").expect("default").is_default());
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in [
            "pets",
            "/a//b",
            "/{a+}/b",
            "/x{id}",
            "/{id}/{id}",
            "/{}",
            "/a/../b",
        ] {
            assert!(RoutePath::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
