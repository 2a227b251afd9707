//! The body schema: compiled once with `boon` (draft-04, -06, -07, 2019-09 and 2020-12, by
//! the schema's `$schema`, else 2020-12), and its failures as JSON pointers with messages.
//!
//! Nothing is ever fetched: a `$ref` to anything outside the schema (other than the
//! drafts' own meta-schemas, which `boon` carries) fails at load.

use std::error::Error;

use boon::{Compiler, Draft, ErrorKind, InstanceToken, SchemaIndex, Schemas, UrlLoader};
use serde_json::Value;

/// A made-up place the schema is registered at, so that relative `$ref`s resolve (and
/// then fail to load, naming the reference as written).
const BASE_DIR: &str = "https://tollgate.invalid/";

/// The schema's URL: [`BASE_DIR`] and a name.
const BASE: &str = "https://tollgate.invalid/body_schema.json";

/// Longest value quoted in a message, in characters.
const SHOWN: usize = 64;

/// A compiled body schema.
pub struct BodySchema {
    schemas: Schemas,
    index: SchemaIndex,
}

/// A step of a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Item(usize),
    Prop(String),
}

/// One way the body fails the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Where, as a JSON pointer (`""` is the whole body).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// Refuses every URL: schemas are never fetched.
struct NoFetch;

impl UrlLoader for NoFetch {
    fn load(&self, _url: &str) -> Result<Value, Box<dyn Error>> {
        Err(
            "the gateway never fetches schemas; put it in `$defs` (`definitions` in \
             draft-04) and refer to it as `#/$defs/...`"
                .into(),
        )
    }
}

impl BodySchema {
    /// Compiles `schema`; the error says what is wrong with it.
    pub fn compile(schema: Value) -> Result<Self, String> {
        if !matches!(schema, Value::Object(_) | Value::Bool(_)) {
            return Err("a schema is an object (or `true` / `false`)".into());
        }
        if let Some(meta) = schema.get("$schema")
            && meta.as_str().and_then(Draft::from_url).is_none()
        {
            return Err(format!(
                "$schema: {meta} is not a draft this gateway knows: draft-04, draft-06, \
                 draft-07, 2019-09 or 2020-12 (e.g. \"http://json-schema.org/draft-04/schema#\")"
            ));
        }
        let mut compiler = Compiler::new();
        compiler.set_default_draft(Draft::V2020_12);
        compiler.use_loader(Box::new(NoFetch));
        let mut schemas = Schemas::new();
        let described = |e: boon::CompileError| one_line(&format!("{e:#}"));
        compiler.add_resource(BASE, schema).map_err(described)?;
        let index = compiler.compile(BASE, &mut schemas).map_err(described)?;
        Ok(Self { schemas, index })
    }

    /// Every failure of `body`, outermost and first in the document first.
    pub fn validate(&self, body: &Value) -> Vec<Failure> {
        let Err(error) = self.schemas.validate(body, self.index) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        leaves(&error, body, &mut found);
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
            .into_iter()
            .map(|(steps, message)| Failure {
                pointer: pointer(&steps),
                message,
            })
            .collect()
    }
}

/// `boon`'s multi-line compile errors on one line, without the internal base URL.
fn one_line(s: &str) -> String {
    const INVALID: &str = "# is not valid against metaschema: jsonschema validation failed with ";
    let s = s
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
        .replace(&format!("{BASE}#"), "#")
        .replace(BASE, "the schema")
        .replace(BASE_DIR, "");
    match s.strip_prefix(INVALID) {
        Some(rest) => format!(
            "not valid against the meta-schema {}",
            rest.replacen("; - ", ": ", 1).replace("; - ", "; ")
        ),
        None => s,
    }
}

/// `steps` as a JSON pointer (RFC 6901).
fn pointer(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        out.push('/');
        match step {
            Step::Item(i) => out.push_str(&i.to_string()),
            Step::Prop(p) => out.push_str(&p.replace('~', "~0").replace('/', "~1")),
        }
    }
    out
}

/// The value at `steps` in `root`.
fn at<'v>(root: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    steps.iter().try_fold(root, |v, step| match (step, v) {
        (Step::Item(i), Value::Array(a)) => a.get(*i),
        (Step::Prop(p), Value::Object(o)) => o.get(p),
        _ => None,
    })
}

/// A value for a message: scalars as JSON (long strings cut), containers by their kind.
fn show(v: Option<&Value>) -> String {
    match v {
        None => "the value".to_owned(),
        Some(Value::Object(_)) => "an object".to_owned(),
        Some(Value::Array(_)) => "an array".to_owned(),
        Some(Value::String(s)) if s.chars().count() > SHOWN => {
            let mut cut: String = s.chars().take(SHOWN - 1).collect();
            cut.push('…');
            Value::String(cut).to_string()
        }
        Some(other) => cut(other.to_string()),
    }
}

/// `s` cut to [`SHOWN`] characters.
fn cut(s: String) -> String {
    if s.chars().count() <= SHOWN {
        return s;
    }
    let mut cut: String = s.chars().take(SHOWN - 1).collect();
    cut.push('…');
    cut
}

/// `1 item` or `n items`.
fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A property name quoted as JSON.
fn quoted(name: &str) -> String {
    Value::String(name.to_owned()).to_string()
}

/// Collects the leaves of `error`'s tree as (location, message).
fn leaves(error: &boon::ValidationError<'_, '_>, root: &Value, out: &mut Vec<(Vec<Step>, String)>) {
    let steps: Vec<Step> = error
        .instance_location
        .tokens
        .iter()
        .map(|t| match t {
            InstanceToken::Prop(p) => Step::Prop(p.to_string()),
            InstanceToken::Item(i) => Step::Item(*i),
        })
        .collect();
    let value = || show(at(root, &steps));
    let with = |prop: &str| {
        let mut s = steps.clone();
        s.push(Step::Prop(prop.to_owned()));
        s
    };
    let message = match &error.kind {
        ErrorKind::Group
        | ErrorKind::Schema { .. }
        | ErrorKind::Reference { .. }
        | ErrorKind::AllOf
        | ErrorKind::ContentSchema
            if !error.causes.is_empty() =>
        {
            for cause in &error.causes {
                leaves(cause, root, out);
            }
            return;
        }
        ErrorKind::Required { want } => {
            for name in want {
                out.push((
                    steps.clone(),
                    format!("missing required property {}", quoted(name)),
                ));
            }
            return;
        }
        ErrorKind::AdditionalProperties { got } => {
            for name in got {
                out.push((
                    with(name),
                    format!("property {} is not allowed", quoted(name)),
                ));
            }
            return;
        }
        ErrorKind::Dependency { prop, missing }
        | ErrorKind::DependentRequired { prop, missing } => {
            for name in missing {
                out.push((
                    steps.clone(),
                    format!(
                        "missing property {}, required when {} is present",
                        quoted(name),
                        quoted(prop)
                    ),
                ));
            }
            return;
        }
        ErrorKind::PropertyName { prop } => {
            let why = error
                .causes
                .first()
                .map(|c| format!(": {}", c.kind))
                .unwrap_or_default();
            out.push((
                with(prop),
                format!("{} is not an allowed property name{why}", quoted(prop)),
            ));
            return;
        }
        ErrorKind::Type { want, .. } => {
            let want: Vec<String> = want.iter().map(|t| t.to_string()).collect();
            format!("{} is not of type {}", value(), want.join(" or "))
        }
        ErrorKind::Enum { want } => format!(
            "{} is not one of {}",
            value(),
            cut(Value::Array((*want).clone()).to_string())
        ),
        ErrorKind::Const { want } => {
            format!("{} is not equal to {}", value(), cut(want.to_string()))
        }
        ErrorKind::Format { want, err, .. } => {
            format!("{} is not a valid {want}: {err}", value())
        }
        ErrorKind::MinProperties { got, want } => format!(
            "has {}, fewer than the minimum of {want}",
            count(*got, "property", "properties")
        ),
        ErrorKind::MaxProperties { got, want } => format!(
            "has {}, more than the maximum of {want}",
            count(*got, "property", "properties")
        ),
        ErrorKind::MinItems { got, want } => {
            format!(
                "has {}, fewer than the minimum of {want}",
                count(*got, "item", "items")
            )
        }
        ErrorKind::MaxItems { got, want } => {
            format!(
                "has {}, more than the maximum of {want}",
                count(*got, "item", "items")
            )
        }
        ErrorKind::Contains => "no item matches the `contains` schema".to_owned(),
        ErrorKind::MinContains { got, want } => format!(
            "{} the `contains` schema, fewer than the minimum of {want}",
            count(got.len(), "item matches", "items match")
        ),
        ErrorKind::MaxContains { got, want } => format!(
            "{} the `contains` schema, more than the maximum of {want}",
            count(got.len(), "item matches", "items match")
        ),
        ErrorKind::UniqueItems { got: [i, j] } => {
            format!("items {i} and {j} are equal; items must be unique")
        }
        ErrorKind::AdditionalItems { got } => {
            format!("has {} more than allowed", count(*got, "item", "items"))
        }
        ErrorKind::MinLength { want, .. } => {
            format!(
                "{} is shorter than {}",
                value(),
                count(*want, "character", "characters")
            )
        }
        ErrorKind::MaxLength { want, .. } => {
            format!(
                "{} is longer than {}",
                value(),
                count(*want, "character", "characters")
            )
        }
        ErrorKind::Pattern { want, .. } => {
            format!("{} does not match the pattern {}", value(), quoted(want))
        }
        ErrorKind::Minimum { got, want } => format!("{got} is less than the minimum of {want}"),
        ErrorKind::Maximum { got, want } => {
            format!("{got} is greater than the maximum of {want}")
        }
        ErrorKind::ExclusiveMinimum { got, want } => {
            format!("{got} is less than or equal to the exclusive minimum of {want}")
        }
        ErrorKind::ExclusiveMaximum { got, want } => {
            format!("{got} is greater than or equal to the exclusive maximum of {want}")
        }
        ErrorKind::MultipleOf { got, want } => format!("{got} is not a multiple of {want}"),
        ErrorKind::Not => format!("{} matches the `not` schema", value()),
        ErrorKind::AnyOf => format!("{} matches none of the `anyOf` schemas", value()),
        ErrorKind::OneOf(None) => format!("{} matches none of the `oneOf` schemas", value()),
        ErrorKind::OneOf(Some((i, j))) => format!(
            "{} matches more than one of the `oneOf` schemas ({i} and {j})",
            value()
        ),
        ErrorKind::FalseSchema => "no value is allowed here".to_owned(),
        other => other.to_string(),
    };
    out.push((steps, message));
}

#[cfg(test)]
mod tests;
