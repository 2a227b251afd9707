//! Typed units used in the config: durations ("250ms", "5s") and sizes ("16KiB", "10MiB").

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, de};

/// A duration written with a unit, e.g. `"250ms"`, `"5s"`, `"2m"`, `"1h"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

impl Duration {
    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }

    /// The standard-library duration.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }
}

impl std::str::FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        if trimmed.chars().all(|c| c.is_ascii_digit()) && !trimmed.is_empty() {
            return Err(format!(
                "`{s}` has no unit: write a duration such as \"250ms\", \"5s\" or \"2m\""
            ));
        }
        humantime::parse_duration(trimmed).map(Self).map_err(|e| {
            format!("`{s}` is not a duration ({e}): write for example \"250ms\", \"5s\" or \"2m\"")
        })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]+(\\.[0-9]+)?\\s*(ns|us|ms|s|m|h|d)$",
            "description": "A duration with a unit, e.g. \"250ms\", \"5s\", \"2m\".",
            "examples": ["250ms", "5s", "2m"]
        })
    }
}

/// A size in bytes, written as a number with an optional unit:
/// `"512"`, `"16KiB"`, `"10MiB"`, `"1GiB"`, `"64KB"` (KB/MB/GB are powers of 1000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(u64);

impl ByteSize {
    /// `n` bytes.
    pub const fn bytes(n: u64) -> Self {
        Self(n)
    }

    /// `n` kibibytes.
    pub const fn kib(n: u64) -> Self {
        Self(n * 1024)
    }

    /// `n` mebibytes.
    pub const fn mib(n: u64) -> Self {
        Self(n * 1024 * 1024)
    }

    /// The size in bytes.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (digits, unit) = trimmed.split_at(split);
        let bad =
            || format!("`{s}` is not a size: write for example \"512\", \"16KiB\" or \"10MiB\"");
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let factor: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" => 1000,
            "KiB" => 1 << 10,
            "MB" => 1_000_000,
            "MiB" => 1 << 20,
            "GB" => 1_000_000_000,
            "GiB" => 1 << 30,
            _ => return Err(bad()),
        };
        n.checked_mul(factor)
            .map(Self)
            .ok_or_else(|| format!("`{s}` is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Self(n)),
            Raw::Text(s) => s.parse().map_err(de::Error::custom),
        }
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["string", "integer"],
            "pattern": "^[0-9]+\\s*(B|KB|KiB|MB|MiB|GB|GiB)?$",
            "description": "A size in bytes with an optional unit, e.g. \"16KiB\", \"10MiB\".",
            "examples": ["16KiB", "10MiB"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(
            "250ms".parse::<Duration>().map(Duration::get),
            Ok(std::time::Duration::from_millis(250))
        );
        assert_eq!(
            "2m".parse::<Duration>().map(Duration::get),
            Ok(std::time::Duration::from_secs(120))
        );
        assert!(
            "5".parse::<Duration>()
                .expect_err("must fail")
                .contains("no unit")
        );
        assert!("5 parsecs".parse::<Duration>().is_err());
    }

    #[test]
    fn sizes_use_binary_and_decimal_units() {
        assert_eq!("16KiB".parse::<ByteSize>(), Ok(ByteSize(16 * 1024)));
        assert_eq!("10MiB".parse::<ByteSize>(), Ok(ByteSize(10 << 20)));
        assert_eq!("64KB".parse::<ByteSize>(), Ok(ByteSize(64_000)));
        assert_eq!("512".parse::<ByteSize>(), Ok(ByteSize(512)));
        assert!("ten".parse::<ByteSize>().is_err());
        assert!("5XB".parse::<ByteSize>().is_err());
        assert!("99999999999999GiB".parse::<ByteSize>().is_err());
    }
}
