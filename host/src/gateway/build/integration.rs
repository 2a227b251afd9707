//! Integrations in a snapshot: `http` targets (URL templates or upstream pools), mocks and
//! function plugins.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::BuildError;
use crate::config::{self, IntegrationKind};
use crate::integration::upstream::UpstreamPool;
use crate::integration::{HttpIntegration, HttpTarget, Integration, MockIntegration};
use crate::plugin::FunctionPlugin;
use crate::plugin::{LoadedPlugins, Registry};

/// The function plugin named by an integration.
pub(super) fn function_slot(
    host: &Registry,
    plugins: &LoadedPlugins,
    name: &str,
) -> Result<FunctionPlugin, BuildError> {
    let Some((plugin, size)) = plugins.get(name) else {
        return Err(BuildError::UnknownPlugin(name.to_owned()));
    };
    FunctionPlugin::new(plugin, || host.slot(name, plugin, *size)).map_err(|e| {
        BuildError::Misused {
            plugin: name.to_owned(),
            message: e.to_string(),
        }
    })
}

pub(super) fn compile_integration(
    i: &config::Integration,
    pools: &HashMap<&str, Arc<UpstreamPool>>,
    direct: &crate::client::HttpClient,
    function: &dyn Fn(&str) -> Result<FunctionPlugin, BuildError>,
) -> Result<Integration, BuildError> {
    match i.kind.value {
        IntegrationKind::Function => {
            let name = i.plugin.as_ref().map_or("", |p| p.value.as_str());
            Ok(Integration::Function(function(name)?))
        }
        IntegrationKind::Http => {
            // Validation guarantees exactly one of `url` / `upstream`, and that the
            // upstream exists.
            let (target, default_timeout) = match (
                &i.url,
                i.upstream
                    .as_ref()
                    .and_then(|u| pools.get(u.value.as_str())),
            ) {
                (Some(url), _) => (
                    HttpTarget::Url {
                        template: url.value.0.clone(),
                        client: Box::new(direct.clone()),
                    },
                    std::time::Duration::from_secs(30),
                ),
                (None, Some(pool)) => (
                    HttpTarget::Upstream {
                        pool: Arc::clone(pool),
                        path: i.path.as_ref().map(|p| p.value.0.clone()),
                    },
                    pool.timeout,
                ),
                (None, None) => {
                    let name = i
                        .upstream
                        .as_ref()
                        .map(|u| u.value.clone())
                        .unwrap_or_default();
                    return Err(BuildError::UnknownUpstream(name));
                }
            };
            Ok(Integration::Http(HttpIntegration {
                target,
                timeout: i.timeout.map_or(default_timeout, |t| t.get()),
                preserve_host: i.preserve_host,
            }))
        }
        IntegrationKind::Mock => {
            let mut headers = HeaderMap::new();
            for (k, v) in &i.headers {
                if let (Ok(k), Ok(v)) = (
                    HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(v),
                ) {
                    headers.insert(k, v);
                }
            }
            let status = i
                .status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            Ok(Integration::Mock(MockIntegration::new(
                status,
                headers,
                i.body.as_ref().map(|b| b.value.0.clone()),
            )))
        }
    }
}
