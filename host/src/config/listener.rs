//! `listeners:` — where Tollgate accepts connections, and their TLS.

use std::net::SocketAddr;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

/// A socket Tollgate accepts connections on.
///
/// ```yaml
/// listeners:
///   - name: public
///     address: 0.0.0.0:8443
///     tls: { cert: certs/site.pem, key: certs/site.key }
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// A name for logs; defaults to `listener-N`.
    #[serde(default)]
    pub name: Option<String>,
    /// The address to bind, e.g. `0.0.0.0:8080`; port 0 picks a free port.
    #[serde(deserialize_with = "socket_addr")]
    #[schemars(with = "String")]
    pub address: SocketAddr,
    /// Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) instead of plain HTTP.
    #[serde(default)]
    pub tls: Option<Tls>,
}

/// TLS settings of a listener.
///
/// ```yaml
/// tls:
///   cert: certs/default.pem        # served when no SNI name matches
///   key: certs/default.key
///   sni:
///     - names: [api.example.com, "*.example.org"]
///       cert: certs/api.pem
///       key: certs/api.key
///   min_version: "1.3"
///   client_auth: { ca: certs/clients.pem, required: true }
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM certificate chain served by default (path relative to the config file).
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `cert`.
    pub key: PathBuf,
    /// Certificates chosen by the client's SNI server name.
    #[serde(default)]
    pub sni: Vec<SniCert>,
    /// The lowest TLS version accepted: `"1.2"` (default) or `"1.3"`.
    #[serde(default)]
    pub min_version: TlsVersion,
    /// Ask clients for a certificate signed by this CA (mutual TLS).
    #[serde(default)]
    pub client_auth: Option<ClientAuth>,
}

/// A certificate served for some SNI names.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SniCert {
    /// Server names (exact, or `*.example.com` for one level of subdomain).
    pub names: Vec<String>,
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Lowest accepted TLS version.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3.
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[serde(rename = "1.3")]
    Tls13,
}

/// Client-certificate verification (mTLS).
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientAuth {
    /// PEM bundle of the CA certificates that sign client certificates.
    pub ca: PathBuf,
    /// Refuse the handshake without a valid client certificate (default `true`); with
    /// `false` a certificate is verified when presented but not required.
    #[serde(default = "yes")]
    pub required: bool,
}

fn socket_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "`{s}` is not an IP address with a port: write for example 0.0.0.0:8080 or [::]:8443 \
             (host names are not resolved)"
        ))
    })
}

fn yes() -> bool {
    true
}
