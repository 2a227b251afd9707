//! What an outside review of `jwt-auth` found: challenge descriptions that leaked parser
//! internals, HMAC secrets that could only be text, a key replaced under the same `kid`
//! refused for minutes, and a start-up log line that said something untrue.

use super::*;

/// The `error_description` of a bearer challenge.
fn description(challenge: &str) -> String {
    challenge
        .split("error_description=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn challenge_descriptions_are_fixed_per_failure_kind() {
    let (_backend, _idp, gw, p) = shared().await;
    p.ready("/jwks/x", &token(Algorithm::RS256, &claims("warm-up")))
        .await;
    let good = claims("mallory");
    let cases = [
        unsigned(&json!({ "alg": "none", "typ": "JWT" }), &good, ""),
        unsigned(&json!({ "alg": "HS999", "typ": "JWT" }), &good, "c2ln"),
        unsigned(&json!({ "typ": "JWT" }), &good, "c2ln"),
        "not.a.token".to_owned(),
        "a.b".to_owned(),
        format!("{}.e30.c2ln", b64(b"{\"alg\":\"RS256\",")),
    ];
    for forged in &cases {
        let a = p.bearer("/jwks/x", forged).await;
        assert_eq!(a.status, 401, "{forged}: {}", a.body);
        assert_eq!(
            description(&a.challenge),
            "the token is malformed",
            "{forged}: {}",
            a.challenge
        );
        for internal in ["variant", "expected", "line", "column", "Base64", "Json"] {
            assert!(
                !a.challenge.contains(internal),
                "{forged}: the challenge leaks parser text: {}",
                a.challenge
            );
        }
    }
    // The detail is in the log for the operator.
    gw.wait_log("token refused: malformed").await;
}

#[tokio::test]
async fn an_hmac_secret_can_be_random_bytes_in_base64url_or_a_file() {
    use base64::Engine as _;
    let backend = Backend::start("b").await;
    // 32 random-looking bytes, some of them not UTF-8 and some the base64url alphabet's own.
    let secret: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(73).wrapping_add(0xf5))
        .collect();
    assert!(std::str::from_utf8(&secret).is_err());
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&secret);
    let plugins = [
        (
            "b64",
            json!({ "secret": encoded, "secret_encoding": "base64url", "forward_headers": forward() }),
        ),
        (
            "file",
            json!({
                "secret": { "$file": "hs256.key", "encoding": "base64url" },
                "secret_encoding": "base64url",
                "forward_headers": forward(),
            }),
        ),
    ];
    let routes: [(&str, &str, &[&str]); 2] = [("b64", "b64", &[]), ("file", "file", &[])];
    let yaml = gateway_config(&backend, &plugins, &routes);
    let key = secret.clone();
    let gw = Gateway::start_with(&yaml, &[], move |dir| {
        std::fs::write(dir.join("hs256.key"), &key).expect("write the key file");
    })
    .await;
    let p = Probe::new(&gw);
    let signed = encode(
        &Header::new(Algorithm::HS256),
        &claims("hmac-user"),
        &EncodingKey::from_secret(&secret),
    )
    .expect("sign");
    let as_text = encode(
        &Header::new(Algorithm::HS256),
        &claims("hmac-user"),
        &EncodingKey::from_secret(encoded.as_bytes()),
    )
    .expect("sign");
    for path in ["/b64/x", "/file/x"] {
        let v = p.ok(path, &signed, "signed with the secret's bytes").await;
        assert_eq!(v["headers"]["x-user-id"], "hmac-user");
        p.invalid(path, &as_text, "signed with the base64 text instead")
            .await;
    }
    // A secret that does not decode is refused at load, naming the field.
    let bad = gateway_config(
        &backend,
        &[(
            "bad",
            json!({ "secret": "not base64url!", "secret_encoding": "base64url" }),
        )],
        &[("bad", "bad", &[])],
    );
    let err = Gateway::start_failure(&bad).await;
    assert!(err.contains("secret: not valid base64url"), "{err}");
}

#[tokio::test]
async fn a_key_replaced_under_the_same_kid_is_fetched_again() {
    use Algorithm::*;
    let backend = Backend::start("b").await;
    let idp = Idp::start(jwks(&["rsa"])).await;
    let slow_idp = Idp::start(jwks(&["rsa"])).await;
    let plugins = [
        (
            "rot",
            json!({ "jwks_uri": idp.jwks_uri(), "refetch_interval": "0s", "forward_headers": forward() }),
        ),
        (
            "slow",
            json!({ "jwks_uri": slow_idp.jwks_uri(), "refetch_interval": "1h", "forward_headers": forward() }),
        ),
    ];
    let routes: [(&str, &str, &[&str]); 2] = [("rot", "rot", &[]), ("slow", "slow", &[])];
    let gw = Gateway::start(&gateway_config(&backend, &plugins, &routes)).await;
    let p = Probe::new(&gw);
    p.ready("/rot/x", &token(RS256, &claims("old"))).await;
    p.ready("/slow/x", &token(RS256, &claims("old"))).await;

    // The IdP puts a new key under the old `kid`.
    let mut replaced = jwk("rsa2");
    replaced["kid"] = json!("rsa");
    idp.set_jwks(json!({ "keys": [replaced] }).to_string());
    let mut header = Header::new(RS256);
    header.kid = Some("rsa".into());
    let new = encode(&header, &claims("new"), &rsa_key("rsa2.pem")).expect("sign");
    let v = p
        .ok("/rot/x", &new, "a new key under an old kid, on first sight")
        .await;
    assert_eq!(v["headers"]["x-user-id"], "new");
    p.invalid(
        "/rot/x",
        &token(RS256, &claims("old")),
        "the replaced key is gone",
    )
    .await;

    // Forged signatures under a known kid cannot make the gateway fetch more than its
    // refetch interval allows.
    let fetches = slow_idp.hits("/jwks").len();
    for _ in 0..5 {
        p.invalid("/slow/x", &new, "signed by another key").await;
    }
    assert_eq!(slow_idp.hits("/jwks").len(), fetches, "rate-limited");
}

#[tokio::test]
async fn a_first_fetch_that_fails_is_logged_as_such() {
    let backend = Backend::start("b").await;
    let plugins = [(
        "down",
        json!({
            "jwks_uri": format!("http://127.0.0.1:{}/jwks", dead_port()),
            "fetch_timeout_ms": 500,
        }),
    )];
    let gw = Gateway::start(&gateway_config(
        &backend,
        &plugins,
        &[("down", "down", &[])],
    ))
    .await;
    gw.wait_log("no keys were ever fetched").await;
    assert!(
        !gw.logs().contains("the cached keys stay in use"),
        "{}",
        gw.logs()
    );
}
