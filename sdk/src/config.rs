//! A plugin's JSON config read into its type, with the path of a bad field in the error
//! (`cors.allow_origins[2]: invalid type: ...`), as the gateway reports its own config.

use serde::de::DeserializeOwned;

/// Deserialises `json`; an error starts with the path of the field it is about.
pub fn from_str<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(describe)?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Deserialises a JSON value already parsed; errors as [`from_str`].
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(describe)
}

fn describe(e: serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = e.path().to_string();
    if path == "." {
        e.inner().to_string()
    } else {
        format!("{path}: {}", e.inner())
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Config {
        limits: Vec<Limit>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Limit {
        per: String,
    }

    #[test]
    fn errors_name_the_field() {
        let e = super::from_str::<Config>(r#"{"limits": [{"per": "1s"}, {"per": 5}]}"#)
            .expect_err("refused");
        assert!(
            e.starts_with("limits[1].per: invalid type: integer `5`"),
            "{e}"
        );
        let e = super::from_value::<Config>(serde_json::json!({"limit": []})).expect_err("refused");
        assert!(
            e.contains("unknown field `limit`, expected `limits`"),
            "{e}"
        );
        assert!(super::from_str::<Config>(r#"{"limits": []} x"#).is_err());
    }
}
