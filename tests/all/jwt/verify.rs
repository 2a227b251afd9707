//! Every algorithm verifies; forgeries and failing claim checks are refused.

use super::*;

#[tokio::test]
async fn every_algorithm_verifies_and_the_backend_sees_the_subject() {
    use Algorithm::*;
    let (_backend, _idp, _gw, p) = shared().await;
    p.ready("/jwks/x", &token(ES256, &claims("warm-up"))).await;

    // JWKS: every asymmetric algorithm, each key found by its `kid`.
    for alg in [
        RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA,
    ] {
        let sub = format!("user-{alg:?}");
        let v = p
            .ok(
                "/jwks/hello",
                &token(alg, &claims(&sub)),
                &format!("{alg:?}"),
            )
            .await;
        assert_eq!(v["path"], "/hello");
        assert_eq!(v["headers"]["x-user-id"], sub.as_str(), "{alg:?}");
        assert_eq!(
            v["headers"]["x-principal"],
            sub.as_str(),
            "{alg:?}: the principal is `sub`"
        );
    }
    // A token naming no `kid` is tried against the keys of its algorithm.
    let no_kid = encode(&Header::new(RS256), &claims("no-kid"), &rsa_key("rsa.pem")).expect("sign");
    let v = p.ok("/jwks/x", &no_kid, "RS256 without kid").await;
    assert_eq!(v["headers"]["x-user-id"], "no-kid");
    // The second RSA key of the set verifies under its own kid.
    let mut header = Header::new(PS256);
    header.kid = Some("rsa2".into());
    let rsa2 = encode(&header, &claims("second-key"), &rsa_key("rsa2.pem")).expect("sign");
    let v = p.ok("/jwks/x", &rsa2, "PS256 with rsa2").await;
    assert_eq!(v["headers"]["x-user-id"], "second-key");

    // A shared secret: every HMAC algorithm the settings allow.
    for alg in [HS256, HS384, HS512] {
        let sub = format!("user-{alg:?}");
        let v = p
            .ok("/hs/x", &token(alg, &claims(&sub)), &format!("{alg:?}"))
            .await;
        assert_eq!(v["headers"]["x-user-id"], sub.as_str(), "{alg:?}");
    }
    // The secret's algorithms only: an RSA token is refused there.
    p.invalid(
        "/hs/x",
        &token(RS256, &claims("u")),
        "RS256 on an HMAC verifier",
    )
    .await;

    // PEM public keys (no kid needed): RSA, P-256, Ed25519; P-384 is not among them.
    for alg in [RS256, PS512, ES256, EdDSA] {
        let v = p
            .ok(
                "/pem/x",
                &token(alg, &claims("pem-user")),
                &format!("PEM {alg:?}"),
            )
            .await;
        assert_eq!(v["headers"]["x-user-id"], "pem-user");
    }
    p.invalid(
        "/pem/x",
        &token(ES384, &claims("u")),
        "ES384 without its PEM",
    )
    .await;

    // Inline JWKs: only the keys listed.
    for alg in [RS512, ES384] {
        let v = p
            .ok(
                "/inline/x",
                &token(alg, &claims("inline-user")),
                &format!("inline {alg:?}"),
            )
            .await;
        assert_eq!(v["headers"]["x-user-id"], "inline-user");
    }
    p.invalid("/inline/x", &token(ES256, &claims("u")), "ES256 not inline")
        .await;
    p.invalid("/inline/x", &token(EdDSA, &claims("u")), "EdDSA not inline")
        .await;

    // Claims named in forward_headers reach the backend; copies sent by the client never do.
    let mut with_email = claims("carol");
    with_email["email"] = json!("carol@example.com");
    let v = p
        .pass(
            p.get("/jwks/x")
                .bearer_auth(token(ES256, &with_email))
                .header("x-user-id", "admin")
                .header("x-user-email", "admin@example.com"),
            "spoofed identity headers",
        )
        .await;
    assert_eq!(v["headers"]["x-user-id"], "carol");
    assert_eq!(v["headers"]["x-user-email"], "carol@example.com");
    let v = p
        .pass(
            p.get("/jwks/x")
                .bearer_auth(token(ES256, &claims("dave")))
                .header("x-user-id", "admin")
                .header("x-user-email", "admin@example.com"),
            "spoofed identity headers, no email claim",
        )
        .await;
    assert_eq!(v["headers"]["x-user-id"], "dave");
    assert!(
        v["headers"].get("x-user-email").is_none(),
        "a client-sent x-user-email must be removed even when the claim is absent: {}",
        v["headers"]
    );
}

#[tokio::test]
async fn forged_tokens_are_refused_as_invalid() {
    use Algorithm::*;
    let (backend, idp, _gw, p) = shared().await;
    let good = claims("mallory");
    for path in ["/jwks/x", "/rs256/x", "/hs/x", "/pem/x"] {
        let alg = if path == "/hs/x" { HS256 } else { RS256 };
        p.ready(path, &token(alg, &claims("warm-up"))).await;
    }
    // Controls: hand-crafted tokens pass when nothing is wrong with them, and the attacker's
    // signatures are sound for the attacker's own key; so each refusal below is for the
    // attack alone.
    let honest = json!({ "alg": "RS256", "typ": "JWT", "kid": "rsa" });
    p.ok(
        "/rs256/x",
        &crafted(&honest, &good, &rsa_key("rsa.pem"), RS256),
        "an honest crafted token",
    )
    .await;
    let attacker = Attacker::new("ec256");
    let own_key: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(attacker.jwk.clone()).expect("attacker JWK");
    let own_key = jsonwebtoken::DecodingKey::from_jwk(&own_key).expect("attacker key");
    let attacker_token = crafted(
        &json!({ "alg": "ES256", "typ": "JWT", "kid": "ec256" }),
        &good,
        &attacker.key,
        ES256,
    );
    jsonwebtoken::decode::<Value>(
        &attacker_token,
        &own_key,
        &jsonwebtoken::Validation::new(ES256),
    )
    .expect("the attacker's token verifies with the attacker's key");
    p.invalid("/jwks/x", &attacker_token, "attacker key under kid ec256")
        .await;
    let before = backend.hits();

    // `alg: none`, in any casing, with no signature or some signature.
    for alg in ["none", "None", "NONE", "nOnE"] {
        for signature in ["", "c2lnbmF0dXJl"] {
            let forged = unsigned(&json!({ "alg": alg, "typ": "JWT" }), &good, signature);
            for path in ["/jwks/x", "/hs/x", "/pem/x"] {
                p.invalid(path, &forged, &format!("alg {alg} on {path}"))
                    .await;
            }
            let forged = unsigned(
                &json!({ "alg": alg, "typ": "JWT", "kid": "rsa" }),
                &good,
                signature,
            );
            p.invalid("/rs256/x", &forged, &format!("alg {alg} with kid"))
                .await;
        }
    }

    // Algorithm confusion: HS256 keyed with the RSA public key's PEM bytes.
    let public_pem = EncodingKey::from_secret(&fixture("rsa.pub.pem"));
    for kid in [Some("rsa"), None] {
        let mut header = Header::new(HS256);
        header.kid = kid.map(str::to_owned);
        let forged = encode(&header, &good, &public_pem).expect("sign");
        for path in ["/rs256/x", "/jwks/x", "/pem/x"] {
            p.invalid(
                path,
                &forged,
                &format!("HS256 with the public key on {path}"),
            )
            .await;
        }
    }

    // CVE-2022-21449 ("psychic signatures"): r = s = 0.
    let zero = unsigned(
        &json!({ "alg": "ES256", "typ": "JWT", "kid": "ec256" }),
        &good,
        &b64(&[0u8; 64]),
    );
    p.invalid("/jwks/x", &zero, "ES256 all-zero signature")
        .await;
    p.invalid("/pem/x", &zero, "ES256 all-zero signature, PEM key")
        .await;
    let zero384 = unsigned(
        &json!({ "alg": "ES384", "typ": "JWT", "kid": "ec384" }),
        &good,
        &b64(&[0u8; 96]),
    );
    p.invalid("/jwks/x", &zero384, "ES384 all-zero signature")
        .await;

    // A signature from another key under a trusted kid; a signature that was moved.
    let mut header = Header::new(RS256);
    header.kid = Some("rsa".into());
    let wrong_key = encode(&header, &good, &rsa_key("rsa2.pem")).expect("sign");
    p.invalid("/jwks/x", &wrong_key, "rsa2's signature under kid rsa")
        .await;
    let real = token(RS256, &claims("mallory"));
    let parts: Vec<&str> = real.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims("admin").to_string().as_bytes()),
        parts[2]
    );
    p.invalid("/jwks/x", &tampered, "claims changed after signing")
        .await;
    let relabelled = format!(
        "{}.{}.{}",
        b64(json!({ "alg": "PS256", "typ": "JWT", "kid": "rsa" })
            .to_string()
            .as_bytes()),
        parts[1],
        parts[2]
    );
    p.invalid("/jwks/x", &relabelled, "RS256 signature relabelled PS256")
        .await;
    p.invalid(
        "/rs256/x",
        &token(PS256, &good),
        "PS256 where only RS256 is allowed",
    )
    .await;

    // Hostile `kid`s, with a trusted key, an empty HMAC key and an attacker's key; random
    // kids must not make the gateway hammer the IdP (refetch_interval defaults to 30 s).
    let fetches_before = idp.hits("/jwks").len();
    for kid in [
        "../../etc/passwd",
        "../../../../../../dev/null",
        "/dev/null",
        "' OR 1=1 --",
        "x' UNION SELECT 'secret' --",
        "rsa\u{0}",
    ] {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
        let forged = crafted(&header, &good, &rsa_key("rsa.pem"), RS256);
        p.invalid("/rs256/x", &forged, &format!("kid {kid:?}, trusted key"))
            .await;
        let header = json!({ "alg": "HS256", "typ": "JWT", "kid": kid });
        let forged = crafted(&header, &good, &EncodingKey::from_secret(b""), HS256);
        p.invalid("/rs256/x", &forged, &format!("kid {kid:?}, empty HMAC key"))
            .await;
        p.invalid(
            "/hs/x",
            &forged,
            &format!("kid {kid:?}, empty HMAC key on /hs"),
        )
        .await;
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": kid });
        let forged = crafted(&header, &good, &attacker.key, ES256);
        p.invalid("/jwks/x", &forged, &format!("kid {kid:?}, attacker key"))
            .await;
    }
    let refetches = idp.hits("/jwks").len() - fetches_before;
    assert!(
        refetches <= 2,
        "unknown kids made the gateway fetch the JWKS {refetches} times"
    );

    // Keys named by the token itself (jku, x5u, an embedded jwk) are never used or fetched.
    let evil = Idp::start(attacker.jwks()).await;
    let headers = [
        json!({ "alg": "ES256", "typ": "JWT", "kid": "ec256", "jku": evil.jwks_uri() }),
        json!({ "alg": "ES256", "typ": "JWT", "jku": evil.jwks_uri() }),
        json!({ "alg": "ES256", "typ": "JWT", "kid": "ec256", "x5u": format!("{}/cert.pem", evil.url()) }),
        json!({ "alg": "ES256", "typ": "JWT", "kid": "ec256", "jwk": attacker.jwk }),
        json!({ "alg": "ES256", "typ": "JWT", "jwk": attacker.jwk }),
    ];
    for header in &headers {
        let forged = crafted(header, &good, &attacker.key, ES256);
        for path in ["/jwks/x", "/pem/x"] {
            p.invalid(path, &forged, &format!("{header} on {path}"))
                .await;
        }
    }
    assert_eq!(
        evil.all_hits(),
        0,
        "the gateway fetched a URL named by a token"
    );
    assert_eq!(
        backend.hits(),
        before,
        "refused requests never reach the backend"
    );
}

#[tokio::test]
async fn claim_checks_refuse_expired_premature_and_foreign_tokens() {
    use Algorithm::*;
    let (backend, _idp, _gw, p) = shared().await;
    let base = |sub: &str| {
        let mut c = claims(sub);
        c["iss"] = json!(ISSUER);
        c["aud"] = json!("api://orders");
        c
    };
    p.ready("/strict/x", &token(ES256, &base("warm-up"))).await;
    let t = now();

    let v = p.ok("/strict/x", &token(RS256, &base("ok")), "valid").await;
    assert_eq!(v["headers"]["x-user-id"], "ok");
    let mut c = base("aud-list");
    c["aud"] = json!(["api://elsewhere", "api://billing"]);
    p.ok("/strict/x", &token(ES256, &c), "one of several audiences")
        .await;
    let mut c = base("leeway");
    c["exp"] = json!(t - 10);
    p.ok("/strict/x", &token(ES256, &c), "expired within the leeway")
        .await;
    let mut c = base("leeway");
    c["nbf"] = json!(t + 10);
    p.ok("/strict/x", &token(ES256, &c), "nbf within the leeway")
        .await;
    let mut c = base("past-nbf");
    c["nbf"] = json!(t - 60);
    p.ok("/strict/x", &token(ES256, &c), "nbf in the past")
        .await;
    let mut header = Header::new(ES256);
    header.kid = Some("ec256".into());
    header.typ = Some("at+jwt".into());
    let (key, _) = key_for(ES256);
    let at_jwt = encode(&header, &base("at-jwt"), &key).expect("sign");
    p.ok("/strict/x", &at_jwt, "typ at+jwt").await;

    let before = backend.hits();
    let cases: Vec<(&str, Value)> = vec![
        ("expired", {
            let mut c = base("u");
            c["exp"] = json!(t - 3600);
            c
        }),
        ("nbf in the future", {
            let mut c = base("u");
            c["nbf"] = json!(t + 3600);
            c
        }),
        ("iat in the future", {
            let mut c = base("u");
            c["iat"] = json!(t + 3600);
            c
        }),
        ("wrong audience", {
            let mut c = base("u");
            c["aud"] = json!("api://elsewhere");
            c
        }),
        ("audience list without ours", {
            let mut c = base("u");
            c["aud"] = json!(["api://a", "api://b"]);
            c
        }),
        ("no audience", {
            let mut c = base("u");
            c.as_object_mut().expect("object").remove("aud");
            c
        }),
        ("wrong issuer", {
            let mut c = base("u");
            c["iss"] = json!("https://evil.example");
            c
        }),
        ("issuer with a trailing slash", {
            let mut c = base("u");
            c["iss"] = json!(format!("{ISSUER}/"));
            c
        }),
        ("no issuer", {
            let mut c = base("u");
            c.as_object_mut().expect("object").remove("iss");
            c
        }),
        ("no exp", {
            let mut c = base("u");
            c.as_object_mut().expect("object").remove("exp");
            c
        }),
        ("exp not a number", {
            let mut c = base("u");
            c["exp"] = json!("tomorrow");
            c
        }),
        ("no sub (required)", {
            let mut c = base("u");
            c.as_object_mut().expect("object").remove("sub");
            c
        }),
    ];
    for (why, c) in &cases {
        p.invalid("/strict/x", &token(ES256, c), why).await;
        p.invalid("/strict/x", &token(RS256, c), why).await;
    }
    // The default required claim is `exp`, on a verifier with no other checks too.
    let mut c = claims("u");
    c.as_object_mut().expect("object").remove("exp");
    p.invalid("/jwks/x", &token(ES256, &c), "no exp (default)")
        .await;
    let mut c = claims("u");
    c["exp"] = json!(t - 3600);
    p.invalid("/jwks/x", &token(EdDSA, &c), "expired (default settings)")
        .await;

    let mut header = Header::new(ES256);
    header.kid = Some("ec256".into());
    header.typ = Some("JWE".into());
    let jwe = encode(&header, &base("u"), &key).expect("sign");
    p.invalid("/strict/x", &jwe, "typ JWE").await;
    assert_eq!(
        backend.hits(),
        before,
        "refused requests never reach the backend"
    );
}
