//! TLS: SNI certificate selection, HTTP/2 by ALPN, h2c prior knowledge, mutual TLS.

use crate::support::certs::Ca;
use crate::support::{Backend, FetchJson, Gateway, client};

const ROUTES: &str = r#"
apis:
  - name: api
    kind: http
    routes:
      - path: /hello
        integration: { type: mock, body: "hello over ${context.domainName}" }
      - path: /up/{x+}
        integration: { type: http, url: "BACKEND/{x}" }
"#;

fn tls_client(ca: &Ca, addr: std::net::SocketAddr, names: &[&str]) -> reqwest::ClientBuilder {
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).expect("ca"));
    for name in names {
        b = b.resolve(name, addr);
    }
    b
}

#[tokio::test]
async fn sni_selects_the_certificate_and_alpn_negotiates_h2() {
    let ca = Ca::new("test ca");
    let backend = Backend::start("b").await;
    let yaml = format!(
        r#"
version: 1
listeners:
  - address: "127.0.0.1:0"
    tls:
      cert: default.pem
      key: default.key
      sni:
        - {{ names: [api.test], cert: api.pem, key: api.key }}
        - {{ names: ["*.wild.test"], cert: wild.pem, key: wild.key }}
{}"#,
        ROUTES.replace("BACKEND", &backend.url())
    );
    let gw = Gateway::start_with(&yaml, &[], |dir| {
        ca.leaf(&["default.test"]).write(dir, "default");
        ca.leaf(&["api.test"]).write(dir, "api");
        ca.leaf(&["*.wild.test"]).write(dir, "wild");
    })
    .await;
    assert!(gw.url().starts_with("https://"));
    let addr = gw.addrs[0];
    let port = addr.port();
    let names = ["api.test", "x.wild.test", "default.test", "other.test"];
    let h2 = tls_client(&ca, addr, &names).build().expect("client");
    // Each name verifies only if the gateway served the certificate for that name.
    for name in ["api.test", "x.wild.test", "default.test"] {
        let r = h2
            .get(format!("https://{name}:{port}/hello"))
            .send()
            .await
            .expect(name);
        assert_eq!(
            r.version(),
            reqwest::Version::HTTP_2,
            "ALPN picks h2 for {name}"
        );
        assert_eq!(r.text().await.expect("body"), format!("hello over {name}"));
    }
    // No certificate names other.test: the default one is served and fails verification.
    assert!(
        h2.get(format!("https://other.test:{port}/hello"))
            .send()
            .await
            .is_err()
    );

    let h1 = tls_client(&ca, addr, &names)
        .http1_only()
        .build()
        .expect("client");
    let r = h1
        .get(format!("https://api.test:{port}/hello"))
        .send()
        .await
        .expect("h1");
    assert_eq!(r.version(), reqwest::Version::HTTP_11);

    // Proxied over TLS: X-Forwarded-Proto says https; the backend is plain HTTP/1.1.
    let v: serde_json::Value = h2
        .get(format!("https://api.test:{port}/up/z"))
        .fetch_json()
        .await;
    assert_eq!(v["headers"]["x-forwarded-proto"], "https");
    assert_eq!(v["version"], "HTTP/1.1");
}

#[tokio::test]
async fn h2c_prior_knowledge_on_plain_listeners() {
    let backend = Backend::start("b").await;
    let yaml = format!(
        "version: 1\nlisteners: [{{ address: \"127.0.0.1:0\" }}]\n{}",
        ROUTES.replace("BACKEND", &backend.url())
    );
    let gw = Gateway::start(&yaml).await;
    let h2c = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let r = h2c
        .get(format!("{}/hello", gw.url()))
        .send()
        .await
        .expect("h2c");
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    let r = client()
        .get(format!("{}/hello", gw.url()))
        .send()
        .await
        .expect("h1");
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
}

#[tokio::test]
async fn mutual_tls_accepts_trusted_clients_only() {
    let server_ca = Ca::new("server ca");
    let client_ca = Ca::new("client ca");
    let rogue_ca = Ca::new("rogue ca");
    let yaml = format!(
        r#"
version: 1
listeners:
  - address: "127.0.0.1:0"
    tls:
      cert: server.pem
      key: server.key
      min_version: "1.3"
      client_auth: {{ ca: clients.pem }}
{}"#,
        ROUTES.replace("BACKEND", "http://127.0.0.1:9")
    );
    let client_ca_pem = client_ca.pem.clone();
    let gw = Gateway::start_with(&yaml, &[], |dir| {
        server_ca.leaf(&["mtls.test"]).write(dir, "server");
        std::fs::write(dir.join("clients.pem"), &client_ca_pem).expect("write ca");
    })
    .await;
    let addr = gw.addrs[0];
    let url = format!("https://mtls.test:{}/hello", addr.port());

    let trusted = tls_client(&server_ca, addr, &["mtls.test"])
        .identity(client_ca.leaf(&["client-1"]).identity())
        .build()
        .expect("client");
    let r = trusted
        .get(&url)
        .send()
        .await
        .expect("trusted client accepted");
    assert_eq!(r.status(), 200);

    let anonymous = tls_client(&server_ca, addr, &["mtls.test"])
        .build()
        .expect("client");
    assert!(
        anonymous.get(&url).send().await.is_err(),
        "no client certificate: refused"
    );

    let rogue = tls_client(&server_ca, addr, &["mtls.test"])
        .identity(rogue_ca.leaf(&["intruder"]).identity())
        .build()
        .expect("client");
    assert!(
        rogue.get(&url).send().await.is_err(),
        "certificate from another CA: refused"
    );

    let tls12_only = tls_client(&server_ca, addr, &["mtls.test"])
        .identity(client_ca.leaf(&["client-2"]).identity())
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .expect("client");
    assert!(
        tls12_only.get(&url).send().await.is_err(),
        "min_version 1.3 refuses TLS 1.2"
    );
}

#[tokio::test]
async fn https_upstreams_with_a_private_ca() {
    // A TLS backend: another Tollgate with a TLS listener and a mock route.
    let ca = Ca::new("internal ca");
    let backend_yaml = r#"
version: 1
listeners:
  - address: "127.0.0.1:0"
    tls: { cert: svc.pem, key: svc.key }
apis:
  - name: svc
    kind: http
    routes:
      - path: /svc/{x}
        integration: { type: mock, body: "secure ${request.path.x} via ${context.domainName}" }
"#;
    let backend = Gateway::start_with(backend_yaml, &[], |dir| {
        ca.leaf(&["localhost"]).write(dir, "svc")
    })
    .await;
    let port = backend.addrs[0].port();
    let front_yaml = format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
upstreams:
  secure: {{ targets: ["https://localhost:{port}"], ca: internal-ca.pem }}
  untrusted: {{ targets: ["https://localhost:{port}"], retries: 0 }}
apis:
  - name: front
    kind: http
    routes:
      - path: /ok/{{x}}
        integration: {{ type: http, upstream: secure, path: "/svc/{{x}}" }}
      - path: /bad/{{x}}
        integration: {{ type: http, upstream: untrusted, path: "/svc/{{x}}" }}
"#
    );
    let ca_pem = ca.pem.clone();
    let front = Gateway::start_with(&front_yaml, &[], |dir| {
        std::fs::write(dir.join("internal-ca.pem"), &ca_pem).expect("ca")
    })
    .await;
    let r = client()
        .get(format!("{}/ok/1", front.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("body"), "secure 1 via localhost");
    // Without the private CA the backend's certificate is not trusted: 502, never plaintext.
    let r = client()
        .get(format!("{}/bad/1", front.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 502);
}
