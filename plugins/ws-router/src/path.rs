//! Selectors: `$request.body.<path>`, where the path is dotted JSON keys with optional
//! `[n]` array indexes (`meta.type`, `items[0].kind`), and their values in a message body.

use std::fmt;

use serde_json::Value;

use crate::expression::ParseError;

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A key of an object.
    Key(String),
    /// An index of an array.
    Index(usize),
}

/// A `$request.body.<path>` selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// The path as written, for messages.
    path: String,
    steps: Vec<Step>,
}

/// Characters of a key: letters, digits, `_` and `-`.
fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

impl Selector {
    /// Parses `path`, what follows `request.body.`; `at` is the position (1-based, in
    /// characters) of its first character in the expression, for errors.
    pub fn parse(path: &str, at: usize) -> Result<Self, ParseError> {
        let chars: Vec<char> = path.chars().collect();
        let err = |i: usize, message: String| ParseError::new(at + i, message);
        let mut steps = Vec::new();
        let mut i = 0;
        loop {
            let start = i;
            while chars.get(i).copied().is_some_and(is_key_char) {
                i += 1;
            }
            if i == start {
                return Err(match chars.get(i) {
                    None if steps.is_empty() => err(i, "the path is empty".into()),
                    None => err(i, "a key is missing after `.`".into()),
                    Some(c) => err(i, format!("a key cannot start with `{c}`")),
                });
            }
            steps.push(Step::Key(chars[start..i].iter().collect()));
            while chars.get(i) == Some(&'[') {
                let first = i + 1;
                i = first;
                while chars.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
                if i == first || chars.get(i) != Some(&']') {
                    return Err(err(
                        first,
                        "`[` takes an array index and `]`, as in `items[0]`".into(),
                    ));
                }
                let digits: String = chars[first..i].iter().collect();
                let index = digits
                    .parse()
                    .map_err(|_| err(first, format!("index {digits} is too large")))?;
                steps.push(Step::Index(index));
                i += 1;
            }
            match chars.get(i) {
                None => break,
                Some('.') => i += 1,
                Some(c) => {
                    return Err(err(
                        i,
                        format!(
                            "`{c}` cannot be in a path: keys are letters, digits, `_` and `-` \
                             (mix literals and selectors as `${{request.body.<path>}}`)"
                        ),
                    ));
                }
            }
        }
        Ok(Self {
            path: path.to_owned(),
            steps,
        })
    }

    /// The steps of the path.
    #[cfg(test)]
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The selected value's text: a string as it is, a number or boolean as its JSON
    /// text. Else why there is none: missing, null, or an object or array.
    pub fn evaluate(&self, body: &Value) -> Result<String, String> {
        let mut value = body;
        for step in &self.steps {
            let next = match (step, value) {
                (Step::Key(key), Value::Object(map)) => map.get(key),
                (Step::Index(index), Value::Array(items)) => items.get(*index),
                _ => None,
            };
            value = next.ok_or_else(|| format!("{self} is missing"))?;
        }
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Null => Err(format!("{self} is null")),
            Value::Array(_) => Err(format!("{self} is an array, not a string or number")),
            Value::Object(_) => Err(format!("{self} is an object, not a string or number")),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "$request.body.{}", self.path)
    }
}
