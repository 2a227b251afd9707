//! The contract, `sdk/wit/plugin.wit`, and its version, read from the WIT's `package` line
//! when compiling. The host compiles this same file (`host/src/plugin/mod.rs`), so the
//! version the host provides and the one the SDK builds for both come from the WIT.

/// The contract's WIT text.
pub const WIT: &str = include_str!("../wit/plugin.wit");

/// Headers a plugin may not set (hop-by-hop and framing, as in wasi-http): the host
/// refuses them (`set-header` returns an error) and the SDK's fake request does too.
pub const FORBIDDEN_HEADERS: [&str; 11] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
    "http2-settings",
    "te",
    "trailer",
];

/// The contract's version: `X.Y.Z` of `package tollgate:plugin@X.Y.Z;`.
pub const VERSION: &str = package_version(WIT);

/// The version of the WIT's `package tollgate:plugin@VERSION;` line; fails the build when
/// the line is missing.
const fn package_version(wit: &str) -> &str {
    const PACKAGE: &[u8] = b"package tollgate:plugin@";
    let bytes = wit.as_bytes();
    let mut at = 0;
    while at + PACKAGE.len() <= bytes.len() {
        let mut matched = 0;
        while matched < PACKAGE.len() && bytes[at + matched] == PACKAGE[matched] {
            matched += 1;
        }
        if matched == PACKAGE.len() {
            let (_, rest) = bytes.split_at(at + PACKAGE.len());
            let mut end = 0;
            while end < rest.len() && rest[end] != b';' {
                end += 1;
            }
            let (version, _) = rest.split_at(end);
            if let Ok(version) = core::str::from_utf8(version) {
                return version;
            }
        }
        at += 1;
    }
    panic!("the contract's WIT has no `package tollgate:plugin@VERSION;` line")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_wit_package_line() {
        assert_eq!(
            package_version("// x\npackage tollgate:plugin@2.13.0;\n"),
            "2.13.0"
        );
        assert!(WIT.contains(&format!("package tollgate:plugin@{VERSION};")));
        let parts: Vec<&str> = VERSION.split('.').collect();
        assert_eq!(parts.len(), 3, "{VERSION}");
        assert!(parts.iter().all(|p| p.parse::<u32>().is_ok()), "{VERSION}");
    }

    /// The SDK's bindings name the contract's interfaces with their version (wit-bindgen's
    /// `with` keys): a new version in the WIT needs them changed too.
    #[test]
    fn the_sdk_bindings_name_this_version() {
        let bindings = include_str!("bindings.rs");
        assert!(
            bindings.contains(&format!("\"tollgate:plugin/types@{VERSION}\"")),
            "sdk/src/bindings.rs does not name tollgate:plugin/types@{VERSION}"
        );
    }
}
