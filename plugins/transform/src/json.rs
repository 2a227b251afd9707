//! The config as received, with object members in the order written (mapping lines,
//! renames and sets apply in order), whatever map `serde_json` was built with.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// JSON with ordered objects.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`, a boolean, a number or a string.
    Scalar(Value),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in the order written.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// As a `serde_json::Value` (a repeated name keeps its last value).
    pub fn to_value(&self) -> Value {
        match self {
            Self::Scalar(v) => v.clone(),
            Self::Array(items) => Value::Array(items.iter().map(Self::to_value).collect()),
            Self::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }

    /// The member `name` of an object.
    pub fn get(&self, name: &str) -> Option<&Self> {
        match self {
            Self::Object(members) => members
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The member at `path` (names) inside objects.
    pub fn at(&self, path: &[&str]) -> Option<&Self> {
        path.iter().try_fold(self, |j, name| j.get(name))
    }

    /// An object's member names in the order written.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Self::Object(members) => members.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

impl From<&Value> for Json {
    fn from(v: &Value) -> Self {
        match v {
            Value::Array(items) => Self::Array(items.iter().map(Self::from).collect()),
            Value::Object(m) => {
                Self::Object(m.iter().map(|(k, v)| (k.clone(), v.into())).collect())
            }
            other => Self::Scalar(other.clone()),
        }
    }
}

/// Sorts `members` (taken from a sorted map) into the order the names are in `order`.
pub fn reorder<V>(members: &mut [(String, V)], order: &[&str]) {
    members.sort_by_key(|(k, _)| order.iter().position(|n| n == k).unwrap_or(usize::MAX));
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Scalar(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Scalar(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Scalar(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Scalar(Value::from(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Scalar(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Scalar(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Scalar(Value::Null))
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Scalar(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        Json::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry()? {
            members.push(member);
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_the_order_written() {
        let j: Json =
            serde_json::from_str(r#"{"b": 1, "a": {"z": [true, null, 1.5, "s"], "y": -2}}"#)
                .expect("parses");
        assert_eq!(j.names(), vec!["b", "a"]);
        assert_eq!(j.at(&["a"]).map(Json::names), Some(vec!["z", "y"]));
        assert_eq!(
            j.to_value(),
            json!({"a": {"y": -2, "z": [true, null, 1.5, "s"]}, "b": 1})
        );
        assert_eq!(Json::from(&j.to_value()).to_value(), j.to_value());
        assert!(j.at(&["a", "z", "x"]).is_none());
        let mut members = vec![
            ("a".to_owned(), 1),
            ("b".to_owned(), 2),
            ("c".to_owned(), 3),
        ];
        reorder(&mut members, &["c", "a", "b"]);
        assert_eq!(
            members.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            vec![3, 1, 2]
        );
    }
}
