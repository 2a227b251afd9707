//! Checks across fields that the types alone cannot express: references between sections,
//! duplicate routes, what an integration refers to (plugins, upstreams, route parameters).

use std::collections::HashSet;

use serde_saphyr::Spanned;

use super::{
    Config, ConfigError, HttpTargetSpec, Integration, IntegrationSpec, Route, RouteMethod,
};
use super::{RoutePath, Segment};

type Check = Result<(), ConfigError>;

fn at<T>(spanned: &Spanned<T>) -> Option<(u64, u64)> {
    let loc = spanned.referenced;
    (loc.line() > 0).then(|| (loc.line(), loc.column()))
}

/// Validates a parsed config.
pub(super) fn check(config: &Config, file: &str) -> Check {
    let err = |pos, field: String, msg: String, hint: Option<String>| {
        Err(ConfigError::invalid(file, pos, field, msg, hint))
    };
    if config.listeners.is_empty() {
        return err(
            None,
            "listeners".into(),
            "at least one listener is needed".into(),
            Some("add `listeners: [{ address: \"0.0.0.0:8080\" }]`".into()),
        );
    }
    let mut addresses = HashSet::new();
    for (i, l) in config.listeners.iter().enumerate() {
        if l.address.port() != 0 && !addresses.insert(l.address) {
            return err(
                None,
                format!("listeners[{i}].address"),
                format!("address {} is used by two listeners", l.address),
                None,
            );
        }
    }
    for (name, upstream) in &config.upstreams {
        if upstream.targets.is_empty() {
            return err(
                None,
                format!("upstreams.{name}.targets"),
                "an upstream needs at least one target".into(),
                None,
            );
        }
    }
    for (name, p) in &config.plugins {
        let field = format!("plugins.{name}");
        match (&p.path, &p.builtin) {
            (Some(_), Some(_)) => {
                return err(
                    None,
                    field,
                    "set either `path` or `builtin`, not both".into(),
                    None,
                );
            }
            (None, None) => {
                return err(
                    None,
                    field,
                    "a plugin needs `path` (a .wasm file) or `builtin` (a name)".into(),
                    Some(format!(
                        "built-in plugins: {}",
                        crate::builtins::names().collect::<Vec<_>>().join(", ")
                    )),
                );
            }
            (None, Some(b)) if crate::builtins::get(b).is_none() => {
                return err(
                    None,
                    format!("{field}.builtin"),
                    format!("there is no built-in plugin `{b}`"),
                    Some(format!(
                        "built-in plugins: {}",
                        crate::builtins::names().collect::<Vec<_>>().join(", ")
                    )),
                );
            }
            _ => {}
        }
        let wants_http = p.capabilities.contains(&super::Capability::Http);
        match &p.http {
            None if wants_http => {
                return err(
                    None,
                    field,
                    "the `http` capability needs `http.allow`, the hosts the plugin may call"
                        .into(),
                    Some("e.g. `http: { allow: [idp.example.com] }`".into()),
                );
            }
            Some(_) if !wants_http => {
                return err(
                    None,
                    format!("{field}.http"),
                    "`http` settings without the `http` capability".into(),
                    Some("add `http` to `capabilities`".into()),
                );
            }
            Some(h) => {
                if h.allow.is_empty() {
                    return err(
                        None,
                        format!("{field}.http.allow"),
                        "the allow-list is empty".into(),
                        None,
                    );
                }
                for (i, host) in h.allow.iter().enumerate() {
                    if let Err(e) = super::AllowedHost::parse(host) {
                        return err(None, format!("{field}.http.allow[{i}]"), e, None);
                    }
                }
            }
            None => {}
        }
        if p.on_error == super::OnError::Skip
            && p.on_request.contains(&super::RequestPhaseName::Authorize)
        {
            return err(
                None,
                format!("plugins.{name}.on_error"),
                "the authorize phase fails closed: `on_error: skip` is not allowed for it".into(),
                None,
            );
        }
        for (i, source) in p.identity_source.iter().enumerate() {
            if let Err(e) = crate::template::Var::parse_source(source) {
                return err(None, format!("{field}.identity_source[{i}]"), e, None);
            }
        }
        for (key, ttl) in [("result_ttl", p.result_ttl), ("deny_ttl", p.deny_ttl)] {
            let Some(ttl) = ttl else { continue };
            if p.identity_source.is_empty() {
                return err(
                    None,
                    format!("{field}.{key}"),
                    "decisions are cached by their identity sources; none are given".into(),
                    Some("add e.g. `identity_source: [\"$request.header.Authorization\"]`".into()),
                );
            }
            if ttl.get() > super::MAX_AUTHORIZER_TTL {
                return err(
                    None,
                    format!("{field}.{key}"),
                    format!("at most 3600s, not {}s", ttl.get().as_secs()),
                    None,
                );
            }
        }
        if p.instances == 0 || p.max_uses == 0 {
            return err(
                None,
                format!("plugins.{name}"),
                "`instances` and `max_uses` must be at least 1".into(),
                None,
            );
        }
    }
    let check_plugins = |list: &[Spanned<String>], field: String| -> Check {
        for (i, name) in list.iter().enumerate() {
            if !config.plugins.contains_key(&name.value) {
                let known: Vec<&str> = config.plugins.keys().map(String::as_str).collect();
                let hint = if known.is_empty() {
                    "no plugins are declared under `plugins:`".to_owned()
                } else {
                    format!("declared plugins: {}", known.join(", "))
                };
                return Err(ConfigError::invalid(
                    file,
                    at(name),
                    format!("{field}[{i}]"),
                    format!("unknown plugin `{}`", name.value),
                    Some(hint),
                ));
            }
        }
        Ok(())
    };
    let mut api_names = HashSet::new();
    for (a, api) in config.apis.iter().enumerate() {
        if !api_names.insert(api.name.value.as_str()) {
            return err(
                at(&api.name),
                format!("apis[{a}].name"),
                format!("API name `{}` is used twice", api.name.value),
                None,
            );
        }
        super::websocket::check_api(config, api, a, file)?;
        check_plugins(&api.plugins, format!("apis[{a}].plugins"))?;
        let mut seen: Vec<(String, Option<http::Method>)> = Vec::new();
        for (r, route) in api.routes.iter().enumerate() {
            let field = format!("apis[{a}].routes[{r}]");
            if let Some(path) = &route.path {
                check_route(route, path, &field, &mut seen, file)?;
            }
            check_plugins(&route.plugins, format!("{field}.plugins"))?;
            check_integration(config, route, &format!("{field}.integration"), file)?;
        }
    }
    super::usage::validate(config, file)?;
    super::telemetry::validate(&config.telemetry, file)
}

/// The path with parameter names erased: `/pets/{id}` and `/pets/{petId}` are one route.
fn shape(path: &RoutePath) -> String {
    if path.is_default() {
        return path.as_str().to_owned();
    }
    let mut out = String::new();
    for seg in path.segments() {
        out.push('/');
        match seg {
            Segment::Literal(l) => out.push_str(l),
            Segment::Param(_) => out.push_str("{}"),
            Segment::Greedy(_) => out.push_str("{+}"),
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn check_route(
    route: &Route,
    path: &Spanned<RoutePath>,
    field: &str,
    seen: &mut Vec<(String, Option<http::Method>)>,
    file: &str,
) -> Check {
    let pos = at(path);
    let path = &path.value;
    if path.is_default() && !route.methods.is_empty() {
        return Err(ConfigError::invalid(
            file,
            pos,
            format!("{field}.methods"),
            "the `$default` route catches every method and takes no `methods`",
            None,
        ));
    }
    let key = shape(path);
    let methods: Vec<Option<http::Method>> = if route.methods.is_empty() {
        vec![None]
    } else {
        route
            .methods
            .iter()
            .map(|m| match m {
                RouteMethod::Any => None,
                RouteMethod::Method(m) => Some(m.clone()),
            })
            .collect()
    };
    for method in methods {
        let entry = (key.clone(), method);
        if seen.contains(&entry) {
            let shown = entry.1.as_ref().map_or("ANY", |m| m.as_str());
            return Err(ConfigError::invalid(file, pos, format!("{field}.path"),
                format!("route `{shown} {path}` is declared twice in this API"),
                Some("parameter names do not make routes different: `/a/{x}` and `/a/{y}` are the same route".into())));
        }
        seen.push(entry);
    }
    Ok(())
}

fn check_integration(config: &Config, route: &Route, field: &str, file: &str) -> Check {
    let i: &Integration = &route.integration;
    let kind_pos = at(&i.type_at);
    let fail = |pos, sub: &str, msg: String, hint: Option<String>| {
        let f = if sub.is_empty() {
            field.to_owned()
        } else {
            format!("{field}.{sub}")
        };
        Err(ConfigError::invalid(file, pos, f, msg, hint))
    };
    if route.websocket && !matches!(i.spec, IntegrationSpec::Http(_)) {
        return fail(
            kind_pos,
            "",
            "`websocket: true` passes upgrades through to an `http` integration".into(),
            Some("use `type: http` with a `ws://`, `http://` or upstream target".into()),
        );
    }
    let params: Vec<&str> = route
        .path
        .iter()
        .flat_map(|p| p.value.param_names())
        .collect();
    let route_name = route.path.as_ref().map_or_else(
        || route.route_key.as_ref().map_or("", |k| k.value.as_str()),
        |p| p.value.as_str(),
    );
    let check_params = |t: &crate::template::Template, pos, sub: &str| -> Check {
        for p in t.path_params() {
            if !params.contains(&p) {
                let hint = if params.is_empty() {
                    "this route has no path parameters".to_owned()
                } else {
                    format!("the route's parameters are: {}", params.join(", "))
                };
                return fail(
                    pos,
                    sub,
                    format!("`{p}` is not a parameter of route `{route_name}`"),
                    Some(hint),
                );
            }
        }
        Ok(())
    };
    match &i.spec {
        IntegrationSpec::Function(plugin) => {
            if !config.plugins.contains_key(&plugin.value) {
                return fail(
                    at(plugin),
                    "plugin",
                    format!("unknown plugin `{}`", plugin.value),
                    None,
                );
            }
        }
        IntegrationSpec::Http(http) => match &http.target {
            HttpTargetSpec::Url(url) => {
                let src = url.value.0.source();
                let ws = src.starts_with("ws://") || src.starts_with("wss://");
                if ws && !route.websocket {
                    return fail(
                        at(url),
                        "url",
                        format!("`{src}` is a WebSocket URL but the route is not"),
                        Some("set `websocket: true` on the route".into()),
                    );
                }
                if !(ws || src.starts_with("http://") || src.starts_with("https://")) {
                    return fail(
                        at(url),
                        "url",
                        format!("`{src}` must start with http:// or https://"),
                        Some("ws:// and wss:// go with `websocket: true`".into()),
                    );
                }
                if url.value.0.is_literal() && src.parse::<http::Uri>().is_err() {
                    return fail(at(url), "url", format!("`{src}` is not a valid URL"), None);
                }
                check_params(&url.value.0, at(url), "url")?;
            }
            HttpTargetSpec::Upstream { name, path } => {
                if !config.upstreams.contains_key(&name.value) {
                    let known: Vec<&str> = config.upstreams.keys().map(String::as_str).collect();
                    let hint = if known.is_empty() {
                        "no upstreams are declared".to_owned()
                    } else {
                        format!("declared upstreams: {}", known.join(", "))
                    };
                    return fail(
                        at(name),
                        "upstream",
                        format!("unknown upstream `{}`", name.value),
                        Some(hint),
                    );
                }
                if let Some(path) = path {
                    check_params(&path.value.0, at(path), "path")?;
                }
            }
        },
        IntegrationSpec::Mock(mock) => {
            if let Some(body) = &mock.body {
                check_params(&body.value.0, at(body), "body")?;
            }
        }
    }
    Ok(())
}
