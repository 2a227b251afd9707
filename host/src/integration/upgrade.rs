//! WebSocket pass-through, part of the `http` integration: on routes with `websocket: true`, an
//! HTTP/1.1 upgrade request runs the request phases like any other, goes to the `http`
//! integration with its `Upgrade` and `Connection` headers, and when the backend answers
//! `101 Switching Protocols` the two connections are joined and bytes (every frame, text or
//! binary, and the close handshake) are piped both ways untouched. The pipe belongs to
//! neither the route nor the config version: a reload does not touch it.

use http::header::{self, HeaderMap, HeaderValue};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

/// Whether `headers` ask to switch to WebSocket (`Connection: upgrade` and
/// `Upgrade: websocket`).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    let websocket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"));
    connection_upgrade && websocket
}

/// Puts back the headers that ask for (or confirm) the switch, after the hop-by-hop ones
/// were stripped.
pub fn mark_upgrade(headers: &mut HeaderMap) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
}

/// `ws://` and `wss://` URLs as the HTTP client speaks them (`http://`, `https://`).
pub fn http_url(url: String) -> String {
    if let Some(rest) = url.strip_prefix("ws://") {
        format!("http://{rest}")
    } else if let Some(rest) = url.strip_prefix("wss://") {
        format!("https://{rest}")
    } else {
        url
    }
}

/// Joins the client's and the backend's upgraded connections once both switched, and pipes
/// bytes both ways until either side closes.
pub fn pipe(client: OnUpgrade, backend: OnUpgrade) {
    tokio::spawn(async move {
        let (client, backend) = match tokio::try_join!(client, backend) {
            Ok(both) => both,
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket upgrade did not complete");
                return;
            }
        };
        let (mut client, mut backend) = (TokioIo::new(client), TokioIo::new(backend));
        match tokio::io::copy_bidirectional(&mut client, &mut backend).await {
            Ok((up, down)) => {
                tracing::debug!(up, down, "WebSocket pass-through closed");
            }
            Err(e) => tracing::debug!(error = %e, "WebSocket pass-through ended"),
        }
    });
}
