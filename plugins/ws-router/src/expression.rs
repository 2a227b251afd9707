//! Route selection expressions, as Amazon API Gateway WebSocket APIs write them:
//!
//! - `$request.body.<path>`: the whole expression is one selector;
//! - a template mixing literals and `${request.body.<path>}` selectors:
//!   `${request.body.service}/${request.body.action}`, `chat-${request.body.action}`;
//! - `\$` is a literal `$`: `\$default` sends every message to the `$default` route.
//!
//! An expression is parsed once, when the plugin is configured, and evaluated for each
//! message.

use std::fmt;

use serde_json::Value;

use crate::path::Selector;

/// What every selector starts with.
const BODY: &str = "request.body";

/// Why an expression is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Where, 1-based, in characters.
    at: usize,
    message: String,
}

impl ParseError {
    /// An error at character `at` (1-based).
    pub fn new(at: usize, message: String) -> Self {
        Self { at, message }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.at, self.message)
    }
}

/// A piece of an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text taken as it is.
    Literal(String),
    /// A value of the message body.
    Selector(Selector),
}

/// A parsed route selection expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression {
    parts: Vec<Part>,
}

/// The selector `source` (`request.body.<path>`, after `$` or inside `${}`), which starts
/// at character `at`; `written` is how it was written, for errors.
fn selector(source: &str, at: usize, written: &str) -> Result<Selector, ParseError> {
    match source.strip_prefix(BODY) {
        Some("" | ".") => Err(ParseError::new(
            at,
            format!("`{written}` has an empty path: select a field as `$request.body.<key>`"),
        )),
        Some(rest) if rest.starts_with('.') => {
            Selector::parse(&rest[1..], at + BODY.chars().count() + 1)
        }
        _ => Err(ParseError::new(
            at,
            format!(
                "`{written}` is not a supported selector: only `$request.body.<path>` is \
                 (write `\\$` for a literal `$`)"
            ),
        )),
    }
}

impl Expression {
    /// Parses `text`. An error names the position and the selector it refuses.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text.is_empty() {
            return Err(ParseError::new(1, "the expression is empty".into()));
        }
        if let Some(source) = text.strip_prefix('$')
            && !source.starts_with('{')
        {
            let sel = selector(source, 2, text)?;
            return Ok(Self {
                parts: vec![Part::Selector(sel)],
            });
        }
        let chars: Vec<char> = text.chars().collect();
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            let next = chars.get(i + 1).copied();
            match (c, next) {
                ('\\', Some('$')) => {
                    literal.push('$');
                    i += 2;
                }
                ('$', Some('{')) => {
                    let Some(len) = chars[i + 2..].iter().position(|&c| c == '}') else {
                        return Err(ParseError::new(i + 1, "`${` is not closed by `}`".into()));
                    };
                    let source: String = chars[i + 2..i + 2 + len].iter().collect();
                    let sel = selector(&source, i + 3, &format!("${{{source}}}"))?;
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Selector(sel));
                    i += len + 3;
                }
                ('$', _) => {
                    return Err(ParseError::new(
                        i + 1,
                        "a `$` in a template starts a `${request.body.<path>}` selector; \
                         write `\\$` for a literal `$`"
                            .into(),
                    ));
                }
                _ => {
                    literal.push(c);
                    i += 1;
                }
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self { parts })
    }

    /// The pieces, in order.
    #[cfg(test)]
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Whether evaluating reads the body (the expression has a selector).
    fn reads_body(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Selector(_)))
    }

    /// The route key for a message body, or why there is none: the body is not a JSON
    /// object, or a selected value is missing or not a string, number or boolean. An
    /// expression without selectors never looks at the body.
    pub fn evaluate(&self, data: &[u8]) -> Result<String, String> {
        let body = if self.reads_body() {
            let body: Value =
                serde_json::from_slice(data).map_err(|e| format!("body is not JSON: {e}"))?;
            if !body.is_object() {
                return Err("body is not a JSON object".into());
            }
            body
        } else {
            Value::Null
        };
        let mut key = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => key.push_str(text),
                Part::Selector(sel) => key.push_str(&sel.evaluate(&body)?),
            }
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests;
