//! Durations in plugin configs, written as in the gateway's config: a number and a unit
//! (`500ms`, `30s`, `5m`, `1h`, `1d`, or combined: `1h 30m`).

/// The duration `s` names; an error says what is wrong and what to write.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(tollgate_sdk::duration::parse("1h 30m"), Ok(Duration::from_secs(5400)));
/// assert!(tollgate_sdk::duration::parse("30").unwrap_err().contains("has no unit"));
/// ```
pub fn parse(s: &str) -> Result<std::time::Duration, String> {
    let trimmed = s.trim();
    if !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "`{s}` has no unit: write a duration such as \"250ms\", \"5s\" or \"2m\""
        ));
    }
    humantime::parse_duration(trimmed).map_err(|e| {
        format!("`{s}` is not a duration ({e}): write for example \"250ms\", \"5s\" or \"2m\"")
    })
}
