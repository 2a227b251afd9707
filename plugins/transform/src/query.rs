//! Query-string edits: the raw query as ordered name/value pairs, changed by name and
//! written back. Pairs left alone keep their original encoding.

use crate::encode::{decode_query, query_component};

/// A query name or value: decoded text, and the original text while unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Part {
    text: String,
    raw: Option<String>,
}

impl Part {
    fn parsed(raw: &str) -> Self {
        Self {
            text: decode_query(raw),
            raw: Some(raw.to_owned()),
        }
    }

    fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            raw: None,
        }
    }

    fn write(&self, out: &mut String) {
        match &self.raw {
            Some(raw) => out.push_str(raw),
            None => query_component(&self.text, out),
        }
    }
}

/// One `name=value` (or bare `name`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pair {
    name: Part,
    value: Option<Part>,
}

/// An edit of the query, by decoded name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryEdit {
    /// Renames every `from` to `to`, in place; earlier `to` pairs go.
    Rename(String, String),
    /// Removes every pair with the name.
    Remove(String),
    /// One value: the first pair with the name takes it, the others go; none: added last.
    Set(String, String),
    /// Adds a pair at the end.
    Append(String, String),
}

/// A query string as ordered pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(Vec<Pair>);

impl Query {
    /// Parses a raw query string (without `?`); empty pieces (`a=1&&b=2`) are dropped.
    pub fn parse(raw: &str) -> Self {
        Self(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((n, v)) => Pair {
                        name: Part::parsed(n),
                        value: Some(Part::parsed(v)),
                    },
                    None => Pair {
                        name: Part::parsed(p),
                        value: None,
                    },
                })
                .collect(),
        )
    }

    /// Every decoded value of `name`, in order (a bare `name` counts as empty).
    pub fn values(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|p| p.name.text == name)
            .map(|p| p.value.as_ref().map(|v| v.text.clone()).unwrap_or_default())
            .collect()
    }

    /// Applies one edit.
    pub fn apply(&mut self, edit: &QueryEdit) {
        match edit {
            QueryEdit::Rename(from, to) => {
                if from == to || !self.0.iter().any(|p| p.name.text == *from) {
                    return;
                }
                self.0.retain(|p| p.name.text != *to);
                for p in self.0.iter_mut().filter(|p| p.name.text == *from) {
                    p.name = Part::new(to);
                }
            }
            QueryEdit::Remove(name) => self.0.retain(|p| p.name.text != *name),
            QueryEdit::Set(name, value) => {
                let mut seen = false;
                self.0.retain_mut(|p| {
                    if p.name.text != *name {
                        return true;
                    }
                    if seen {
                        return false;
                    }
                    seen = true;
                    p.value = Some(Part::new(value));
                    true
                });
                if !seen {
                    self.push(name, value);
                }
            }
            QueryEdit::Append(name, value) => self.push(name, value),
        }
    }

    fn push(&mut self, name: &str, value: &str) {
        self.0.push(Pair {
            name: Part::new(name),
            value: Some(Part::new(value)),
        });
    }

    /// The raw query string; `None` when there are no pairs.
    pub fn encode(&self) -> Option<String> {
        let mut out = String::new();
        for (i, pair) in self.0.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            pair.name.write(&mut out);
            if let Some(v) = &pair.value {
                out.push('=');
                v.write(&mut out);
            }
        }
        (!self.0.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(raw: &str, edits: &[QueryEdit]) -> Option<String> {
        let mut q = Query::parse(raw);
        for e in edits {
            q.apply(e);
        }
        q.encode()
    }

    fn s(x: &str) -> String {
        x.to_owned()
    }

    #[test]
    fn untouched_pairs_keep_their_encoding() {
        for raw in ["a=1&b=x%2Cy+z&flag&c=%zz", "q=caf%c3%a9", "x=a,b"] {
            assert_eq!(edit(raw, &[]).as_deref(), Some(raw));
        }
        assert_eq!(edit("", &[]), None);
        assert_eq!(edit("a=1&&b=2", &[]).as_deref(), Some("a=1&b=2"));
    }

    #[test]
    fn values_are_decoded() {
        let q = Query::parse("tag=a+b&x=1&tag=%C3%BC&tag");
        assert_eq!(q.values("tag"), vec![s("a b"), s("ü"), s("")]);
        assert!(q.values("none").is_empty());
        assert_eq!(Query::parse("a%20b=1").values("a b"), vec![s("1")]);
    }

    #[test]
    fn edits() {
        use QueryEdit::*;
        assert_eq!(
            edit(
                "q=x&debug=1&b=2",
                &[Rename(s("q"), s("search")), Remove(s("debug"))]
            )
            .as_deref(),
            Some("search=x&b=2")
        );
        assert_eq!(
            edit("v=1&a=2&v=3", &[Set(s("v"), s("2 & ü"))]).as_deref(),
            Some("v=2%20%26%20%C3%BC&a=2"),
            "the first keeps its place, later ones go"
        );
        assert_eq!(
            edit("a=1", &[Set(s("v"), s("2"))]).as_deref(),
            Some("a=1&v=2")
        );
        assert_eq!(
            edit("t=1", &[Append(s("t"), s("v")), Append(s("t"), s("w"))]).as_deref(),
            Some("t=1&t=v&t=w")
        );
        assert_eq!(
            edit("search=old&q=new", &[Rename(s("q"), s("search"))]).as_deref(),
            Some("search=new"),
            "the target's earlier pairs go"
        );
        assert_eq!(
            edit("a=1", &[Rename(s("q"), s("a"))]).as_deref(),
            Some("a=1"),
            "nothing to rename"
        );
        assert_eq!(edit("debug=1", &[Remove(s("debug"))]), None);
        assert_eq!(
            edit("x%20y=1", &[Rename(s("x y"), s("a/b"))]).as_deref(),
            Some("a%2Fb=1")
        );
    }
}
