//! Route templates: parsing never panics, and what parses can be inserted and looked up.
#![no_main]
use tollgate::router::{RoutePath, RouteTable};

libfuzzer_sys::fuzz_target!(|input: (&str, &str)| {
    let (template, request) = input;
    if let Ok(path) = RoutePath::parse(template) {
        let mut table = RouteTable::default();
        table.insert(&path, &[], 0);
        let segments: Vec<&str> = request.split('/').filter(|s| !s.is_empty()).collect();
        let _ = table.lookup(&http::Method::GET, &segments);
    }
});
