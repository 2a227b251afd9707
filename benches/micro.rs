//! Micro benchmarks of hot-path pieces other than plugins (criterion):
//! `cargo bench --bench micro`.
//!
//! - `router/match_{100,10000}`: normalising a request path and routing it in an API of
//!   100 or 10,000 routes (a third literal, a third with a parameter, a third greedy);
//! - `state/bucket_take_{hot,spread}`: taking a token from the in-memory token bucket store,
//!   one key or 10,000 keys in turn (what a local rate limit costs per request);
//! - `jwt/verify_{es256,rs256}`: the host's native verification of a token (signature and
//!   claim checks) against an inline key, what `jwt-auth` costs besides the plugin call;
//!   `jwt/verify_es256_remembered`: the same token again, answered from the verified-token
//!   cache.

use criterion::{Criterion, criterion_group, criterion_main};
use http::Method;
use std::hint::black_box;
use tollgate::jwt::Verifiers;
use tollgate::router::{NormalizedPath, RoutePath, RouteTable, Routed, Router};
use tollgate::state::MemoryStore;

fn router(routes: usize) -> Router {
    let mut table = RouteTable::default();
    for i in 0..routes {
        let path = match i % 3 {
            0 => format!("/svc{i}/status"),
            1 => format!("/svc{i}/items/{{id}}"),
            _ => format!("/svc{i}/files/{{path+}}"),
        };
        let path = RoutePath::parse(&path).expect("route path");
        table.insert(&path, &[Some(Method::GET)], i);
    }
    let mut router = Router::default();
    router.add_api(&[], &["v1".to_owned()], &[(0, None)], table);
    router
}

fn routing(c: &mut Criterion) {
    let mut group = c.benchmark_group("router");
    for routes in [100, 10_000] {
        let router = router(routes);
        let target = routes / 2 / 3 * 3 + 1;
        let path = format!("/v1/svc{target}/items/42");
        group.bench_function(format!("match_{routes}"), |b| {
            b.iter(|| {
                let normalized = NormalizedPath::parse(black_box(&path)).expect("path");
                match router.route(None, &Method::GET, normalized.segments()) {
                    Routed::Found(m) => black_box(m.route),
                    _ => panic!("no route for {path}"),
                }
            });
        });
    }
    group.finish();
}

fn buckets(c: &mut Criterion) {
    let mut group = c.benchmark_group("state");
    let store = MemoryStore::default();
    group.bench_function("bucket_take_hot", |b| {
        b.iter(|| black_box(store.take("client-1", 1_000_000, 1e9, 1)));
    });
    let keys: Vec<String> = (0..10_000).map(|i| format!("client-{i}")).collect();
    let mut next = 0;
    group.bench_function("bucket_take_spread", |b| {
        b.iter(|| {
            next = (next + 1) % keys.len();
            black_box(store.take(&keys[next], 100, 10.0, 1))
        });
    });
    group.finish();
}

/// Signs a day-long token with the fixture key `kid`.
fn token(kid: &str, alg: jsonwebtoken::Algorithm) -> String {
    let pem = std::fs::read(format!("{JWT_KEYS}/{kid}.pem")).expect("fixture key");
    let key = match alg {
        jsonwebtoken::Algorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_pem(&pem),
        _ => jsonwebtoken::EncodingKey::from_rsa_pem(&pem),
    }
    .expect("key");
    let exp = jsonwebtoken::get_current_timestamp() + 86_400;
    let claims = serde_json::json!({ "sub": "bench", "exp": exp, "aud": "api" });
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &claims, &key).expect("sign")
}

const JWT_KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");

fn jwt(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let verifiers = Verifiers::default();
    let mut group = c.benchmark_group("jwt");
    for (name, kid, alg, cache) in [
        ("verify_es256", "ec256", jsonwebtoken::Algorithm::ES256, 0),
        ("verify_rs256", "rsa", jsonwebtoken::Algorithm::RS256, 0),
        (
            "verify_es256_remembered",
            "ec256",
            jsonwebtoken::Algorithm::ES256,
            300,
        ),
    ] {
        let pem = std::fs::read_to_string(format!("{JWT_KEYS}/{kid}.pub.pem")).expect("key");
        let settings = serde_json::json!({
            "public_keys": pem, "algorithms": [format!("{alg:?}")], "audience": "api",
            "token_cache_ttl": format!("{cache}s"),
        });
        let verifier = verifiers.get(&settings.to_string()).expect("verifier");
        let token = token(kid, alg);
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    rt.block_on(verifier.verify(black_box(&token)))
                        .expect("valid"),
                )
            });
        });
    }
    group.finish();
}

criterion_group!(benches, routing, buckets, jwt);
criterion_main!(benches);
