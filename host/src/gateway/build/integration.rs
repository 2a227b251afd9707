//! Integrations in a snapshot: `http` targets (URL templates or upstream pools), mocks and
//! function plugins.

use std::collections::HashMap;
use std::sync::Arc;

use super::BuildError;
use crate::config::{self, HttpTargetSpec, IntegrationSpec};
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
    match &i.spec {
        IntegrationSpec::Function(name) => Ok(Integration::Function(function(&name.value)?)),
        IntegrationSpec::Http(http) => {
            let (target, default_timeout) = match &http.target {
                HttpTargetSpec::Url(url) => (
                    HttpTarget::Url {
                        template: url.value.0.clone(),
                        client: Box::new(direct.clone()),
                    },
                    std::time::Duration::from_secs(30),
                ),
                HttpTargetSpec::Upstream { name, path } => {
                    let pool = pools
                        .get(name.value.as_str())
                        .ok_or_else(|| BuildError::UnknownUpstream(name.value.clone()))?;
                    (
                        HttpTarget::Upstream {
                            pool: Arc::clone(pool),
                            path: path.as_ref().map(|p| p.value.0.clone()),
                        },
                        pool.timeout,
                    )
                }
            };
            Ok(Integration::Http(HttpIntegration {
                target,
                timeout: http.timeout.map_or(default_timeout, |t| t.get()),
                preserve_host: http.preserve_host,
            }))
        }
        IntegrationSpec::Mock(mock) => Ok(Integration::Mock(MockIntegration::new(
            mock.status,
            mock.headers.clone(),
            mock.body.as_ref().map(|b| b.value.0.clone()),
        ))),
    }
}
