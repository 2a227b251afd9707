//! JSON paths into a body — `items[0].name`, `['key.with.dots']` — with get, set, remove
//! and rename.
//!
//! A path is a list of segments: a name (`a`, or after a dot `.a`), an array index (`[0]`)
//! or a quoted name (`['a.b']` or `["a b"]`, with `\'`, `\"` and `\\` escapes). Plain names
//! are letters, digits, `_` and `-`; any other name is quoted.

use std::fmt;

use serde_json::{Map, Value};

/// The largest array index a path may name (a set beyond the end pads with `null`).
pub const MAX_INDEX: usize = 10_000;

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}

/// A parsed path; empty means the whole value.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct JsonPath(pub Vec<Seg>);

/// Whether `c` may appear in a plain (unquoted) name.
pub fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Parses the inside of a `[...]` starting after `[`; returns the segment and the rest after
/// `]`.
fn bracket<'s>(inner: &'s str, whole: &str) -> Result<(Seg, &'s str), String> {
    let mut chars = inner.char_indices();
    match chars.next() {
        Some((_, quote @ ('\'' | '"'))) => {
            let mut key = String::new();
            let mut escaped = false;
            for (i, c) in chars {
                if escaped {
                    key.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == quote {
                    let rest = &inner[i + c.len_utf8()..];
                    return match rest.strip_prefix(']') {
                        Some(after) => Ok((Seg::Key(key), after)),
                        None => Err(format!("`{whole}`: expected `]` after the quoted name")),
                    };
                } else {
                    key.push(c);
                }
            }
            Err(format!("`{whole}`: unclosed quote"))
        }
        _ => {
            let end = inner
                .find(']')
                .ok_or_else(|| format!("`{whole}`: unclosed `[`"))?;
            let digits = &inner[..end];
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "`{whole}`: `[{digits}]` is not an index; write `[0]` or a quoted name `['{digits}']`"
                ));
            }
            match digits.parse::<usize>() {
                Ok(i) if i <= MAX_INDEX => Ok((Seg::Index(i), &inner[end + 1..])),
                _ => Err(format!(
                    "`{whole}`: index {digits} is too large (at most {MAX_INDEX})"
                )),
            }
        }
    }
}

impl JsonPath {
    /// Parses a non-empty path such as `a.b[0]['c.d']`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("empty path".to_owned());
        }
        let mut segs = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(inner) = rest.strip_prefix('[') {
                let (seg, after) = bracket(inner, text)?;
                segs.push(seg);
                rest = after;
                continue;
            }
            let name = if segs.is_empty() {
                rest
            } else {
                rest.strip_prefix('.')
                    .ok_or_else(|| format!("`{text}`: expected `.` or `[` before `{rest}`"))?
            };
            let end = name.find(|c| !is_name_char(c)).unwrap_or(name.len());
            if end == 0 {
                let at = if segs.is_empty() { "" } else { " after `.`" };
                return Err(format!(
                    "`{text}`: expected a name{at} (letters, digits, `_`, `-`; quote others as `['...']`)"
                ));
            }
            segs.push(Seg::Key(name[..end].to_owned()));
            rest = &name[end..];
        }
        Ok(Self(segs))
    }

    /// The value at the path, if there is one.
    pub fn get<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut cur = root;
        for seg in &self.0 {
            cur = match (seg, cur) {
                (Seg::Key(k), Value::Object(m)) => m.get(k)?,
                (Seg::Index(i), Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Puts `value` at the path. What is missing on the way is created (an object for a
    /// name, an array for an index, `null` padding before an index past the end); what is
    /// in the way and of the wrong kind is replaced.
    pub fn set(&self, root: &mut Value, value: Value) {
        set_in(root, &self.0, value);
    }

    /// Takes the value at the path out (an array element shifts the rest down).
    pub fn remove(&self, root: &mut Value) -> Option<Value> {
        let (last, parents) = self.0.split_last()?;
        let mut cur = root;
        for seg in parents {
            cur = match (seg, cur) {
                (Seg::Key(k), Value::Object(m)) => m.get_mut(k)?,
                (Seg::Index(i), Value::Array(a)) => a.get_mut(*i)?,
                _ => return None,
            };
        }
        match (last, cur) {
            (Seg::Key(k), Value::Object(m)) => m.remove(k),
            (Seg::Index(i), Value::Array(a)) if *i < a.len() => Some(a.remove(*i)),
            _ => None,
        }
    }

    /// Moves the value at `self` to `to`; nothing happens when there is none.
    pub fn rename(&self, to: &Self, root: &mut Value) {
        if let Some(v) = self.remove(root) {
            to.set(root, v);
        }
    }
}

fn set_in(cur: &mut Value, segs: &[Seg], value: Value) {
    let Some((first, rest)) = segs.split_first() else {
        *cur = value;
        return;
    };
    match first {
        Seg::Key(k) => {
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            if let Value::Object(m) = cur {
                set_in(m.entry(k.clone()).or_insert(Value::Null), rest, value);
            }
        }
        Seg::Index(i) => {
            if !cur.is_array() {
                *cur = Value::Array(Vec::new());
            }
            if let Value::Array(a) = cur {
                if a.len() <= *i {
                    a.resize(i + 1, Value::Null);
                }
                if let Some(slot) = a.get_mut(*i) {
                    set_in(slot, rest, value);
                }
            }
        }
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(i) => write!(f, "[{i}]")?,
                Seg::Key(k) if !k.is_empty() && k.chars().all(is_name_char) => {
                    if n > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Key(k) => {
                    f.write_str("['")?;
                    for c in k.chars() {
                        if matches!(c, '\'' | '\\') {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("']")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> JsonPath {
        JsonPath::parse(s).expect(s)
    }

    #[test]
    fn parses_names_indices_and_quotes() {
        assert_eq!(
            p("items[0]['a.b'][\"c \\\" d\"].e-f_1"),
            JsonPath(vec![
                Seg::Key("items".into()),
                Seg::Index(0),
                Seg::Key("a.b".into()),
                Seg::Key("c \" d".into()),
                Seg::Key("e-f_1".into()),
            ])
        );
        assert_eq!(p("[2]").0, vec![Seg::Index(2)]);
        assert_eq!(p("['']").0, vec![Seg::Key(String::new())]);
        assert_eq!(p("ключ.名前").0.len(), 2, "unicode names are plain");
    }

    #[test]
    fn refuses_bad_paths() {
        for (bad, want) in [
            ("", "empty path"),
            ("a..b", "expected a name after `.`"),
            ("a.", "expected a name after `.`"),
            (".a", "expected a name"),
            ("a[", "unclosed `[`"),
            ("a[x]", "`[x]` is not an index"),
            ("a[-1]", "is not an index"),
            ("a[]", "is not an index"),
            ("a['b]", "unclosed quote"),
            ("a['b'", "expected `]`"),
            ("a[99999999]", "too large"),
            ("a b", "expected `.` or `[` before ` b`"),
            ("a[0]b", "expected `.` or `[`"),
        ] {
            let e = JsonPath::parse(bad).expect_err(bad);
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn displays_canonically() {
        for s in ["a.b[0]", "['a.b'].c", "[1][2]", "['it\\'s']", "['']", "ü.x"] {
            assert_eq!(p(s).to_string(), s);
            assert_eq!(p(&p(s).to_string()), p(s));
        }
    }

    #[test]
    fn gets() {
        let v = json!({"a": {"b": [1, {"c": "x"}]}, "k.d": true});
        assert_eq!(p("a.b[1].c").get(&v), Some(&json!("x")));
        assert_eq!(p("['k.d']").get(&v), Some(&json!(true)));
        assert_eq!(p("a.b[5]").get(&v), None);
        assert_eq!(p("a.b.c").get(&v), None, "a name on an array");
        assert_eq!(p("a[0]").get(&v), None, "an index on an object");
        assert_eq!(JsonPath::default().get(&v), Some(&v));
    }

    #[test]
    fn sets_creating_and_replacing() {
        let mut v = json!({"a": 1});
        p("meta.by").set(&mut v, json!("me"));
        assert_eq!(v, json!({"a": 1, "meta": {"by": "me"}}));
        p("a.b").set(&mut v, json!(2));
        assert_eq!(v["a"], json!({"b": 2}), "a scalar in the way is replaced");
        p("list[2].x").set(&mut v, json!(true));
        assert_eq!(v["list"], json!([null, null, {"x": true}]));
        p("list[0]").set(&mut v, json!("first"));
        assert_eq!(v["list"][0], json!("first"));
        let mut n = Value::Null;
        p("['a.b']").set(&mut n, json!("ü"));
        assert_eq!(n, json!({"a.b": "ü"}));
        let mut root = json!([1]);
        JsonPath::default().set(&mut root, json!({}));
        assert_eq!(root, json!({}));
    }

    #[test]
    fn removes() {
        let mut v = json!({"password": "x", "items": [{"secret": 1, "id": 2}, 3]});
        assert_eq!(p("password").remove(&mut v), Some(json!("x")));
        assert_eq!(p("items[0].secret").remove(&mut v), Some(json!(1)));
        assert_eq!(v, json!({"items": [{"id": 2}, 3]}));
        assert_eq!(p("items[0]").remove(&mut v), Some(json!({"id": 2})));
        assert_eq!(v, json!({"items": [3]}), "later elements shift down");
        assert_eq!(p("items[7]").remove(&mut v), None);
        assert_eq!(p("nope.deeper").remove(&mut v), None);
        assert_eq!(JsonPath::default().remove(&mut v), None);
    }

    #[test]
    fn renames() {
        let mut v = json!({"user": {"name": "Zoë"}, "x": [1, 2]});
        p("user.name").rename(&p("user.fullName"), &mut v);
        assert_eq!(v["user"], json!({"fullName": "Zoë"}));
        p("x[0]").rename(&p("first.value"), &mut v);
        assert_eq!(v["x"], json!([2]));
        assert_eq!(v["first"], json!({"value": 1}));
        let before = v.clone();
        p("missing").rename(&p("other"), &mut v);
        assert_eq!(v, before, "a missing source is ignored");
    }
}
