//! Where tokens come from, what a malformed one gets, and route scopes.

use super::*;

#[tokio::test]
async fn missing_malformed_and_oversized_tokens() {
    use Algorithm::*;
    let (backend, _idp, _gw, p) = shared().await;
    let good = token(RS256, &claims("u"));
    p.ready("/jwks/x", &good).await;
    let before = backend.hits();

    // No token: a bare challenge (RFC 6750 §3.1: no error code without credentials).
    let a = p.send(p.get("/jwks/x")).await;
    assert_eq!(a.status, 401, "no token: {}", a.body);
    assert!(
        a.challenge.starts_with("Bearer"),
        "challenge {:?}",
        a.challenge
    );
    assert!(
        !a.challenge.contains("error="),
        "no error code without credentials: {:?}",
        a.challenge
    );
    for (why, value) in [
        ("Basic credentials", "Basic dXNlcjpwYXNz"),
        ("scheme only", "Bearer"),
    ] {
        let a = p
            .send(p.get("/jwks/x").header("authorization", value))
            .await;
        assert_eq!(a.status, 401, "{why}: {}", a.body);
        assert!(
            a.challenge.starts_with("Bearer"),
            "{why}: {:?}",
            a.challenge
        );
    }

    let parts: Vec<&str> = good.split('.').collect();
    let header_json = |s: &str| b64(s.as_bytes());
    let malformed = [
        ("two segments", format!("{}.{}", parts[0], parts[1])),
        ("one segment", parts[0].to_owned()),
        ("four segments", format!("{good}.{}", parts[2])),
        ("empty segments", "..".to_owned()),
        (
            "bad base64 header",
            format!("!!!$$$.{}.{}", parts[1], parts[2]),
        ),
        (
            "bad base64 claims",
            format!("{}.%%%~~~.{}", parts[0], parts[2]),
        ),
        (
            "bad base64 signature",
            format!("{}.{}.***", parts[0], parts[1]),
        ),
        (
            "non-JSON header",
            format!("{}.{}.{}", header_json("not json"), parts[1], parts[2]),
        ),
        (
            "header is a JSON array",
            format!("{}.{}.{}", header_json(r#"["RS256"]"#), parts[1], parts[2]),
        ),
        (
            "header without alg",
            format!(
                "{}.{}.{}",
                header_json(r#"{"typ":"JWT","kid":"rsa"}"#),
                parts[1],
                parts[2]
            ),
        ),
        (
            "unknown alg",
            format!(
                "{}.{}.{}",
                header_json(r#"{"alg":"RS999","kid":"rsa"}"#),
                parts[1],
                parts[2]
            ),
        ),
        (
            "non-JSON claims",
            crafted(
                &json!({ "alg": "RS256", "kid": "rsa" }),
                &json!("just a string"),
                &rsa_key("rsa.pem"),
                RS256,
            ),
        ),
        ("garbage", "hello-world".to_owned()),
    ];
    for (why, t) in &malformed {
        p.invalid("/jwks/x", t, why).await;
    }
    // The same problems behind another token source.
    p.refused(
        p.get("/alt/x")
            .query(&[("access_token", malformed[0].1.as_str())]),
        "two segments in the query",
    )
    .await;

    // Size: the limit counts the token's bytes (2048 on /strict, 8192 by default).
    let padded = |n: usize| {
        let mut c = claims("big");
        c["iss"] = json!(ISSUER);
        c["aud"] = json!("api://orders");
        c["pad"] = json!("x".repeat(n));
        token(RS256, &c)
    };
    let small = padded(1000);
    assert!(small.len() < 2048, "{}", small.len());
    p.ok("/strict/x", &small, "under max_token_size").await;
    let big = padded(1600);
    assert!(big.len() > 2048, "{}", big.len());
    p.invalid("/strict/x", &big, "over max_token_size").await;
    let under_default = padded(5500);
    assert!(
        (7000..8192).contains(&under_default.len()),
        "{}",
        under_default.len()
    );
    p.ok("/jwks/x", &under_default, "under the default 8192")
        .await;
    let over_default = padded(6500);
    assert!(over_default.len() > 8192, "{}", over_default.len());
    p.invalid("/jwks/x", &over_default, "over the default 8192")
        .await;
    assert_eq!(
        backend.hits(),
        before + 2,
        "only the two good tokens got through"
    );
}

#[tokio::test]
async fn route_scopes_are_required() {
    use Algorithm::*;
    let (backend, _idp, _gw, p) = shared().await;
    p.ready("/jwks/x", &token(ES256, &claims("warm-up"))).await;

    let with = |key: &str, value: Value| {
        let mut c = claims("scoped");
        c[key] = value;
        token(ES256, &c)
    };
    let before = backend.hits();
    for (why, t) in [
        ("no scope claim", token(ES256, &claims("scoped"))),
        ("other scopes", with("scope", json!("orders:write profile"))),
        ("a longer scope", with("scope", json!("orders:reader"))),
        ("a scope prefix", with("scope", json!("orders"))),
        ("scp without it", with("scp", json!(["orders:write"]))),
        ("empty scope", with("scope", json!(""))),
    ] {
        let a = p.bearer("/orders/x", &t).await;
        assert_eq!(a.status, 403, "{why}: {}", a.body);
        assert!(
            a.challenge.starts_with("Bearer")
                && a.challenge.contains(r#"error="insufficient_scope""#),
            "{why}: challenge {:?}",
            a.challenge
        );
    }
    assert_eq!(
        backend.hits(),
        before,
        "forbidden requests never reach the backend"
    );

    for (why, t) in [
        ("scope string", with("scope", json!("orders:read other"))),
        (
            "scope string, last",
            with("scope", json!("profile orders:read")),
        ),
        ("scp list", with("scp", json!(["orders:read"]))),
        (
            "scp list among others",
            with("scp", json!(["profile", "orders:read"])),
        ),
        ("scp string", with("scp", json!("orders:read"))),
    ] {
        let v = p.ok("/orders/x", &t, why).await;
        assert_eq!(v["headers"]["x-user-id"], "scoped", "{why}");
    }
    // With several scopes on a route, any one of them is enough (Amazon API Gateway's rule).
    for scope in ["orders:admin", "orders:read", "profile orders:admin"] {
        p.ok("/either/x", &with("scope", json!(scope)), scope).await;
    }
    let a = p
        .bearer("/either/x", &with("scope", json!("orders:write")))
        .await;
    assert_eq!(a.status, 403, "none of the route's scopes: {}", a.body);
    assert!(
        a.challenge.contains(r#"scope="orders:read orders:admin""#),
        "the challenge names the route's scopes: {:?}",
        a.challenge
    );
    // An invalid token on a scoped route is still a 401, not a 403.
    let mut c = claims("scoped");
    c["scope"] = json!("orders:read");
    c["exp"] = json!(now() - 3600);
    p.invalid("/orders/x", &token(ES256, &c), "expired, with the scope")
        .await;
    // Routes without scopes do not look at them.
    p.ok(
        "/jwks/x",
        &token(ES256, &claims("no-scope")),
        "no scope needed",
    )
    .await;
}

#[tokio::test]
async fn tokens_from_query_cookie_or_header_and_hidden_credentials() {
    use Algorithm::*;
    let (_backend, _idp, _gw, p) = shared().await;
    let mut c = claims("erin");
    c["email"] = json!("erin@example.com");
    let t = token(EdDSA, &c);
    p.ready("/jwks/x", &t).await;

    // `alt` reads the query, then a cookie, then `x-token`; its principal is the email.
    let v = p
        .pass(
            p.get("/alt/x").query(&[("access_token", t.as_str())]),
            "query",
        )
        .await;
    assert_eq!(v["headers"]["x-user-id"], "erin");
    assert_eq!(v["headers"]["x-principal"], "erin@example.com");
    let v = p
        .pass(
            p.get("/alt/x")
                .header("cookie", format!("theme=dark; session={t}; lang=en")),
            "cookie",
        )
        .await;
    assert_eq!(v["headers"]["x-user-id"], "erin");
    assert_eq!(v["headers"]["x-principal"], "erin@example.com");
    let v = p
        .pass(p.get("/alt/x").header("x-token", &t), "raw x-token header")
        .await;
    assert_eq!(v["headers"]["x-user-id"], "erin");
    // The Authorization header is not among its sources.
    let a = p.bearer("/alt/x", &t).await;
    assert_eq!(
        a.status, 401,
        "Authorization is not a source of `alt`: {}",
        a.body
    );
    p.refused(
        p.get("/alt/x").query(&[("access_token", "not-a-token")]),
        "bad query token",
    )
    .await;
    p.refused(
        p.get("/alt/x").header("cookie", "session=not.a.token"),
        "bad cookie token",
    )
    .await;

    // By default the credentials travel on; `hide_credentials` strips them.
    let v = p.ok("/jwks/x", &t, "default").await;
    assert_eq!(v["headers"]["authorization"], format!("Bearer {t}"));
    let v = p.ok("/hidden/x", &t, "hide_credentials").await;
    assert_eq!(v["headers"]["x-user-id"], "erin");
    assert!(
        v["headers"].get("authorization").is_none(),
        "hide_credentials: the backend saw {}",
        v["headers"]
    );
    // The auth scheme is case-insensitive (RFC 7235).
    p.pass(
        p.get("/jwks/x")
            .header("authorization", format!("bearer {t}")),
        "lower-case scheme",
    )
    .await;
}
