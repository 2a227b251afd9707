//! The A/B table (`LOAD_AB`): each Tollgate setup measured on two builds in the same
//! rounds, the build under test compared with the baseline build row by row.

use super::{Setup, wrk};
use crate::setups::{self, Proxy};
use crate::tools::Load;

/// How a setup loads a given proxy.
type LoadFor = Box<dyn Fn(&Proxy) -> Load>;

/// The A/B table: each tollgate setup on the baseline build (`base`) and on the build
/// under test (`new`), the second compared with the first.
pub fn rows(
    proxies: &[(&str, Proxy)],
    base: Option<usize>,
    new: Option<usize>,
    h2: bool,
) -> Vec<Setup> {
    let (Some(base), Some(new)) = (base, new) else {
        return Vec::new();
    };
    let es = setups::jwt("ec256", jsonwebtoken::Algorithm::ES256)
        .map(|t| format!("authorization: Bearer {t}"))
        .unwrap_or_default();
    let origin = "origin: https://app.example.com";
    let mut cases: Vec<(&str, LoadFor)> = vec![
        ("plain", Box::new(|p| wrk(p.plain, "http", "/", &[]))),
        ("TLS", Box::new(|p| wrk(p.tls, "https", "/", &[]))),
        (
            "headers plugin",
            Box::new(|p| wrk(p.plain, "http", "/trivial/x", &[])),
        ),
        (
            "rate-limit",
            Box::new(|p| wrk(p.plain, "http", "/rl/x", &[])),
        ),
        (
            "transform (headers)",
            Box::new(|p| wrk(p.plain, "http", "/tx-headers/x", &[])),
        ),
        (
            "default chain",
            Box::new(move |p| wrk(p.plain, "http", "/chain/x", &[es.as_str(), origin])),
        ),
    ];
    if h2 {
        cases.push((
            "h2",
            Box::new(|p| Load::H2load {
                url: format!("https://127.0.0.1:{}/", p.tls),
            }),
        ));
    }
    let mut rows = Vec::new();
    for (name, load) in cases {
        rows.push(Setup {
            name: format!("{name} (base)"),
            load: load(&proxies[base].1),
            proxy: Some(base),
            baseline: None,
        });
        rows.push(Setup {
            name: format!("{name} (new)"),
            load: load(&proxies[new].1),
            proxy: Some(new),
            baseline: Some(rows.len() - 1),
        });
    }
    rows
}
