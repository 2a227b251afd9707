//! Reading the query string a request handle gives (`Request::query`).

/// The first value of parameter `name` in a raw query string, percent-decoded (`+` is a
/// space); `None` when absent or not UTF-8 once decoded.
///
/// ```
/// assert_eq!(tollgate_sdk::query_param("a=1&key=x%2By+z", "key").as_deref(), Some("x+y z"));
/// assert_eq!(tollgate_sdk::query_param("a=1", "key"), None);
/// ```
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k != name {
            return None;
        }
        let mut out = Vec::with_capacity(v.len());
        let mut bytes = v.bytes();
        while let Some(b) = bytes.next() {
            match b {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = [bytes.next()?, bytes.next()?];
                    let text = std::str::from_utf8(&hex).ok()?;
                    out.push(u8::from_str_radix(text, 16).ok()?);
                }
                other => out.push(other),
            }
        }
        String::from_utf8(out).ok()
    })
}
