//! Request parameters: where each is read from and what its value must look like.

use regex_lite::Regex;
use serde::Deserialize;

/// Longest value quoted in a message, in characters.
const SHOWN: usize = 64;

/// Where a parameter is read from (the AWS names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The query string (`?limit=10`).
    Querystring,
    /// A request header.
    Header,
    /// A path parameter of the route (`/orders/{id}`).
    Path,
}

impl Location {
    /// `querystring`, `header` or `path`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Querystring => "querystring",
            Self::Header => "header",
            Self::Path => "path",
        }
    }
}

/// The type a parameter's value must have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Any text.
    #[default]
    String,
    /// An integer: optional sign and digits.
    Integer,
    /// A finite decimal number (`1`, `-2.5`, `1e3`).
    Number,
    /// `true` or `false` (any case).
    Boolean,
}

impl Kind {
    /// `string`, `integer`, `number` or `boolean`.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
        }
    }

    /// `a string`, `an integer`, ...
    fn article(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Integer => "an integer",
            Self::Number => "a number",
            Self::Boolean => "a boolean (true or false)",
        }
    }

    /// `value` as this type: its numeric value for numbers, its lowercase for booleans,
    /// itself for strings; `None` when it is not of this type.
    pub fn read(self, value: &str) -> Option<Typed> {
        match self {
            Self::String => Some(Typed::Text(value.to_owned())),
            Self::Integer => {
                let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                value.parse::<f64>().ok().map(Typed::Number)
            }
            Self::Number => {
                let ok = value
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|n| ok && n.is_finite())
                    .map(Typed::Number)
            }
            Self::Boolean => {
                let lower = value.to_ascii_lowercase();
                (lower == "true" || lower == "false").then_some(Typed::Text(lower))
            }
        }
    }
}

/// A value read as its parameter's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// Strings and booleans.
    Text(String),
    /// Integers and numbers.
    Number(f64),
}

/// A checked parameter.
#[derive(Debug)]
pub struct Param {
    /// Where it is read.
    pub location: Location,
    /// Its name (lowercase for headers).
    pub name: String,
    /// Whether a request must carry it (not blank).
    pub required: bool,
    /// Its type.
    pub kind: Kind,
    /// Smallest value, for integers and numbers.
    pub minimum: Option<f64>,
    /// Largest value, for integers and numbers.
    pub maximum: Option<f64>,
    /// Fewest characters.
    pub min_length: Option<usize>,
    /// Most characters.
    pub max_length: Option<usize>,
    /// A regular expression the value must match (anywhere, unless anchored).
    pub pattern: Option<Regex>,
    /// The values allowed, read as `kind`.
    pub allowed: Option<Vec<Typed>>,
    /// The values allowed as written, for messages.
    pub allowed_shown: String,
}

/// A value for a message, in backticks, cut to [`SHOWN`] characters.
pub fn quote(value: &str) -> String {
    if value.chars().count() <= SHOWN {
        return format!("`{value}`");
    }
    let cut: String = value.chars().take(SHOWN - 1).collect();
    format!("`{cut}…`")
}

/// `1 character` or `n characters`.
fn characters(n: usize) -> String {
    if n == 1 {
        "1 character".to_owned()
    } else {
        format!("{n} characters")
    }
}

impl Param {
    /// `querystring.limit`.
    pub fn label(&self) -> String {
        format!("{}.{}", self.location.as_str(), self.name)
    }

    /// Checks a present value; the error says what is wrong with it.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let shown = quote(value);
        let typed = self
            .kind
            .read(value)
            .ok_or_else(|| format!("{shown} is not {}", self.kind.article()))?;
        if let Some(allowed) = &self.allowed
            && !allowed.contains(&typed)
        {
            return Err(format!("{shown} is not one of {}", self.allowed_shown));
        }
        if let Typed::Number(n) = typed {
            if let Some(min) = self.minimum
                && n < min
            {
                return Err(format!("{shown} is less than the minimum of {min}"));
            }
            if let Some(max) = self.maximum
                && n > max
            {
                return Err(format!("{shown} is greater than the maximum of {max}"));
            }
        }
        let length = value.chars().count();
        if let Some(min) = self.min_length
            && length < min
        {
            return Err(format!("{shown} is shorter than {}", characters(min)));
        }
        if let Some(max) = self.max_length
            && length > max
        {
            return Err(format!("{shown} is longer than {}", characters(max)));
        }
        if let Some(re) = &self.pattern
            && !re.is_match(value)
        {
            return Err(format!(
                "{shown} does not match the pattern `{}`",
                re.as_str()
            ));
        }
        Ok(())
    }
}

/// What a raw query string holds for `name`.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Not there.
    Absent,
    /// There, but its percent-decoding is not UTF-8.
    Undecodable,
    /// There, decoded.
    Present(String),
}

/// The first value of `name` in the raw query string `query`.
pub fn query_value(query: Option<&str>, name: &str) -> Lookup {
    let Some(query) = query else {
        return Lookup::Absent;
    };
    match tollgate_sdk::query_param(query, name) {
        Some(v) => Lookup::Present(v),
        None if query
            .split('&')
            .any(|pair| pair.split_once('=').map_or(pair, |(k, _)| k) == name) =>
        {
            Lookup::Undecodable
        }
        None => Lookup::Absent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(kind: Kind) -> Param {
        Param {
            location: Location::Querystring,
            name: "p".into(),
            required: false,
            kind,
            minimum: None,
            maximum: None,
            min_length: None,
            max_length: None,
            pattern: None,
            allowed: None,
            allowed_shown: String::new(),
        }
    }

    #[test]
    fn types() {
        for (kind, ok, bad) in [
            (
                Kind::Integer,
                &["0", "42", "-7", "+7", "99999999999999999999"][..],
                &["", "abc", "1.5", "1e3", "-", " 1", "0x10", "١"][..],
            ),
            (
                Kind::Number,
                &["0", "-2.5", "1e3", "+.5", "10."][..],
                &["", "abc", "NaN", "inf", "-infinity", "1,5", "1e999"][..],
            ),
            (
                Kind::Boolean,
                &["true", "false", "TRUE", "False"][..],
                &["", "yes", "1", "t"][..],
            ),
            (Kind::String, &["", "anything", "日本"][..], &[][..]),
        ] {
            let p = param(kind);
            for v in ok {
                assert_eq!(p.check(v), Ok(()), "{kind:?} {v}");
            }
            for v in bad {
                let e = p.check(v).expect_err(v);
                assert_eq!(e, format!("{} is not {}", quote(v), kind.article()));
            }
        }
        assert_eq!(
            param(Kind::Integer).check("abc"),
            Err("`abc` is not an integer".into())
        );
    }

    #[test]
    fn bounds_lengths_patterns_enums() {
        let mut p = param(Kind::Integer);
        p.minimum = Some(1.0);
        p.maximum = Some(100.0);
        assert_eq!(p.check("1"), Ok(()));
        assert_eq!(p.check("100"), Ok(()));
        assert_eq!(
            p.check("0"),
            Err("`0` is less than the minimum of 1".into())
        );
        assert_eq!(
            p.check("101"),
            Err("`101` is greater than the maximum of 100".into())
        );

        let mut p = param(Kind::Number);
        p.maximum = Some(2.5);
        assert_eq!(
            p.check("2.6"),
            Err("`2.6` is greater than the maximum of 2.5".into())
        );

        let mut p = param(Kind::String);
        p.min_length = Some(2);
        p.max_length = Some(3);
        p.pattern = Some(Regex::new("^[a-zé]+$").expect("regex"));
        assert_eq!(p.check("éé"), Ok(()), "characters, not bytes");
        assert_eq!(p.check("a"), Err("`a` is shorter than 2 characters".into()));
        assert_eq!(
            p.check("abcd"),
            Err("`abcd` is longer than 3 characters".into())
        );
        assert_eq!(
            p.check("AB"),
            Err("`AB` does not match the pattern `^[a-zé]+$`".into())
        );

        let mut p = param(Kind::String);
        p.allowed = Some(vec![Typed::Text("asc".into()), Typed::Text("desc".into())]);
        p.allowed_shown = "[asc, desc]".into();
        assert_eq!(p.check("asc"), Ok(()));
        assert_eq!(p.check("up"), Err("`up` is not one of [asc, desc]".into()));

        let mut p = param(Kind::Integer);
        p.allowed = Some(vec![Typed::Number(10.0), Typed::Number(20.0)]);
        assert_eq!(p.check("010"), Ok(()), "compared as numbers");
        assert!(p.check("15").is_err());
    }

    #[test]
    fn long_values_are_cut() {
        let v = "x".repeat(200);
        let e = param(Kind::Integer).check(&v).expect_err("not an integer");
        assert!(e.starts_with(&format!("`{}…`", "x".repeat(63))), "{e}");
    }

    #[test]
    fn query_lookup() {
        assert_eq!(query_value(None, "a"), Lookup::Absent);
        assert_eq!(query_value(Some("b=1"), "a"), Lookup::Absent);
        assert_eq!(
            query_value(Some("a=x%20y&b=1"), "a"),
            Lookup::Present("x y".into())
        );
        assert_eq!(query_value(Some("a"), "a"), Lookup::Present(String::new()));
        assert_eq!(query_value(Some("a=%FF"), "a"), Lookup::Undecodable);
        assert_eq!(query_value(Some("a=%zz"), "a"), Lookup::Undecodable);
    }
}
