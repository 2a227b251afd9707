//! Key sources over time: OIDC discovery, rotation, expiry, outages, mixed sources.

use super::*;

#[tokio::test]
async fn oidc_discovery_finds_the_keys_and_failing_sources_are_unavailable() {
    use Algorithm::*;
    let (backend, idp, _gw, p) = shared().await;
    let mut c = claims("olivia");
    c["iss"] = json!(idp.url());
    p.ready("/oidc/x", &token(RS256, &c)).await;
    let v = p.ok("/oidc/x", &token(EdDSA, &c), "discovered keys").await;
    assert_eq!(v["headers"]["x-user-id"], "olivia");
    assert!(
        !idp.hits("/.well-known/openid-configuration").is_empty(),
        "the discovery document was read"
    );
    assert!(
        !idp.hits("/jwks").is_empty(),
        "the discovered JWKS was read"
    );

    // The issuer is checked too.
    let mut other = c.clone();
    other["iss"] = json!("https://evil.example");
    p.invalid("/oidc/x", &token(RS256, &other), "another issuer")
        .await;
    let mut none = c.clone();
    none.as_object_mut().expect("object").remove("iss");
    p.invalid("/oidc/x", &token(RS256, &none), "no issuer")
        .await;

    let before = backend.hits();
    // A discovery document naming another issuer yields no keys: 503.
    let mut liar = claims("u");
    liar["iss"] = json!(format!("{}/liar", idp.url()));
    let a = p.bearer("/liar/x", &token(RS256, &liar)).await;
    assert_eq!(a.status, 503, "lying discovery document: {}", a.body);
    assert!(
        !idp.hits("/liar/.well-known/openid-configuration")
            .is_empty()
    );

    // An unreachable JWKS and no cached key: 503, every time.
    for _ in 0..3 {
        let a = p.bearer("/down/x", &token(RS256, &claims("u"))).await;
        assert_eq!(a.status, 503, "JWKS down: {}", a.body);
    }
    assert_eq!(
        backend.hits(),
        before,
        "unavailable: nothing reaches the backend"
    );
    // ...while the other verifiers keep working.
    p.ok(
        "/oidc/x",
        &token(ES384, &c),
        "other verifiers are unaffected",
    )
    .await;
}

#[tokio::test]
async fn a_rotated_in_kid_is_fetched_when_first_seen() {
    use Algorithm::*;
    let backend = Backend::start("b").await;
    let idp = Idp::start(jwks(&["rsa"])).await;
    let plugins = [(
        "rot",
        json!({ "jwks_uri": idp.jwks_uri(), "refetch_interval": "0s", "forward_headers": forward() }),
    )];
    let gw = Gateway::start(&gateway_config(&backend, &plugins, &[("rot", "rot", &[])])).await;
    let p = Probe::new(&gw);
    p.ready("/rot/x", &token(RS256, &claims("old"))).await;

    let mut header = Header::new(RS256);
    header.kid = Some("rsa2".into());
    let new = encode(&header, &claims("new"), &rsa_key("rsa2.pem")).expect("sign");
    let fetches = idp.hits("/jwks").len();
    p.invalid("/rot/x", &new, "a kid the IdP does not publish yet")
        .await;
    assert!(
        idp.hits("/jwks").len() > fetches,
        "an unknown kid makes the gateway look at the JWKS again"
    );

    idp.set_jwks(jwks(&["rsa", "rsa2"]));
    let v = p
        .ok("/rot/x", &new, "the rotated-in key, on first sight")
        .await;
    assert_eq!(v["headers"]["x-user-id"], "new");
    let last = idp.hits("/jwks").last().cloned().expect("a fetch");
    assert_eq!(last.version, 1, "the new set was fetched");
    p.ok(
        "/rot/x",
        &token(RS256, &claims("old")),
        "the old key still works",
    )
    .await;
}

/// The set expires after `cache_ttl` (1 s) and is fetched again. How an IdP's
/// `Cache-Control: max-age` is bounded (raised to 10 s, lowered to a day) is a unit test of
/// `host/src/jwt/remote.rs`, rather than 8 s of waiting here.
#[tokio::test]
async fn a_key_dropped_from_the_jwks_is_refused_once_the_cached_set_expires() {
    use Algorithm::*;
    let backend = Backend::start("b").await;
    let quick = Idp::start(jwks(&["rsa", "rsa2"])).await;
    let plugins = [(
        "quick",
        json!({
            "jwks_uri": quick.jwks_uri(),
            // The older form, a bare number of seconds: still read, with a warning.
            "cache_ttl": 1,
            "refetch_interval": "1s",
            "forward_headers": forward(),
        }),
    )];
    let routes: [(&str, &str, &[&str]); 1] = [("quick", "quick", &[])];
    let gw = Gateway::start(&gateway_config(&backend, &plugins, &routes)).await;
    let p = Probe::new(&gw);
    let mut header = Header::new(RS256);
    header.kid = Some("rsa2".into());
    let dropped = encode(&header, &claims("dropped"), &rsa_key("rsa2.pem")).expect("sign");
    let kept = token(RS256, &claims("kept"));
    let path = "/quick/x";
    p.ready(path, &dropped).await;
    p.ok(path, &kept, "the key that stays").await;

    quick.set_jwks(jwks(&["rsa"]));
    let refused = p.until(path, &dropped, 401, Duration::from_secs(30)).await;
    if let Err(last) = refused {
        panic!(
            "the dropped key was still accepted; last answer {last}; fetches {:?}",
            quick.hits("/jwks")
        );
    }
    p.invalid(path, &dropped, "the dropped key").await;
    p.ok(path, &kept, "the key that stays, after the refresh")
        .await;
    gw.wait_log("a bare number of seconds (1) is deprecated; write `1s`")
        .await;
}

#[tokio::test]
async fn cached_keys_outlive_an_idp_outage() {
    use Algorithm::*;
    let backend = Backend::start("b").await;
    let idp = Idp::start(jwks(&["rsa", "ec256"])).await;
    let plugins = [(
        "stale",
        json!({
            "jwks_uri": idp.jwks_uri(),
            "cache_ttl": "1s",
            "refetch_interval": "0s",
            "forward_headers": forward(),
        }),
    )];
    let gw = Gateway::start(&gateway_config(
        &backend,
        &plugins,
        &[("stale", "stale", &[])],
    ))
    .await;
    let p = Probe::new(&gw);
    let t = token(ES256, &claims("steady"));
    p.ready("/stale/x", &t).await;

    idp.set_status(500);
    let failed_before = idp.hits("/jwks").len();
    let statuses = RefCell::new(Vec::new());
    // Past the set's lifetime, each refresh fails; the cached keys keep answering.
    let refreshed = poll_until(DEADLINE, || async {
        let a = p.bearer("/stale/x", &t).await;
        statuses.borrow_mut().push(a.status);
        idp.hits("/jwks").len() >= failed_before + 2
    })
    .await;
    assert!(
        refreshed,
        "the gateway never tried to refresh the expired set"
    );
    let statuses = statuses.into_inner();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "the cached keys must serve during the outage: {statuses:?}"
    );
    p.ok(
        "/stale/x",
        &token(RS256, &claims("steady")),
        "after the failed refreshes",
    )
    .await;
    // An unknown kid cannot be fetched now, but keys exist: the token is invalid, not 503.
    let mut header = Header::new(RS256);
    header.kid = Some("rsa2".into());
    let unknown = encode(&header, &claims("u"), &rsa_key("rsa2.pem")).expect("sign");
    p.invalid("/stale/x", &unknown, "unknown kid during the outage")
        .await;

    // Once the IdP is back, its current set is used.
    idp.set_jwks(jwks(&["rsa", "rsa2", "ec256"]));
    idp.set_status(200);
    if let Err(last) = p.until("/stale/x", &unknown, 200, DEADLINE).await {
        panic!("the recovered IdP's new key was never used; last {last}");
    }
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    use Algorithm::*;
    let backend = Backend::start("b").await;
    let idp = Idp::start(jwks(&["rsa"])).await;
    let plugins = [(
        "jwks",
        json!({ "jwks_uri": idp.jwks_uri(), "forward_headers": forward() }),
    )];
    let gw = Gateway::start(&gateway_config(
        &backend,
        &plugins,
        &[("jwks", "jwks", &[])],
    ))
    .await;
    let p = Probe::new(&gw);
    let honest = json!({ "alg": "RS256", "typ": "JWT", "kid": "rsa" });
    p.ready(
        "/jwks/x",
        &crafted(&honest, &claims("u"), &rsa_key("rsa.pem"), RS256),
    )
    .await;
    // RFC 7515 §4.1.11: a JWS naming critical extensions the recipient does not understand
    // is invalid, even with a good signature (e.g. RFC 7797 `b64: false` changes what was
    // signed).
    for extension in [
        json!({ "crit": ["urn:example:must-understand"], "urn:example:must-understand": true }),
        json!({ "crit": ["b64"], "b64": false }),
    ] {
        let mut header = honest.clone();
        for (k, v) in extension.as_object().expect("object") {
            header[k] = v.clone();
        }
        let t = crafted(&header, &claims("u"), &rsa_key("rsa.pem"), RS256);
        p.invalid("/jwks/x", &t, &format!("critical extension {extension}"))
            .await;
    }
}

#[tokio::test]
async fn inline_keys_and_a_jwks_work_together() {
    use Algorithm::*;
    let backend = Backend::start("b").await;
    let idp = Idp::start(jwks(&["rsa"])).await;
    // Keys from both sources: the JWKS has `rsa`, the inline PEM is `rsa2` (no kid).
    let plugins = [(
        "mixed",
        json!({
            "jwks_uri": idp.jwks_uri(),
            "public_keys": [fixture_str("rsa2.pub.pem")],
            "forward_headers": forward(),
        }),
    )];
    let gw = Gateway::start(&gateway_config(
        &backend,
        &plugins,
        &[("mixed", "mixed", &[])],
    ))
    .await;
    let p = Probe::new(&gw);
    let inline =
        encode(&Header::new(RS256), &claims("inline"), &rsa_key("rsa2.pem")).expect("sign");
    p.ready("/mixed/x", &inline).await;
    let from_jwks = token(RS256, &claims("remote"));
    if let Err(last) = p.until("/mixed/x", &from_jwks, 200, DEADLINE).await {
        panic!(
            "a token signed with the JWKS key `rsa` must pass although an inline key exists; \
             last answer: {last}"
        );
    }
    p.invalid(
        "/mixed/x",
        &encode(&Header::new(ES256), &claims("u"), &key_for(ES256).0).expect("sign"),
        "a key in neither source",
    )
    .await;
}
