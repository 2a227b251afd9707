//! The request and response handles: what a hook reads and edits.

use wasmtime::Result;
use wasmtime::component::Resource;

use super::body::CACHED_AUTHORIZER;
use super::{HostState, all_values, append, edit_headers, edit_pair, first, remove, set};
use crate::plugin::bindings::types;
use crate::plugin::handles::{HeaderEdit, Identity, RequestHandle, ResponseHandle};
use crate::router::ParamValue;

impl types::Host for HostState {}

impl types::HostRequest for HostState {
    fn method(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        Ok(self.table.get(&r)?.parts.method.as_str().to_owned())
    }

    fn path(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        Ok(self.table.get(&r)?.path.clone())
    }

    fn query(&mut self, r: Resource<RequestHandle>) -> Result<Option<String>> {
        Ok(self.table.get(&r)?.parts.uri.query().map(str::to_owned))
    }

    fn header(&mut self, r: Resource<RequestHandle>, name: String) -> Result<Option<String>> {
        Ok(first(&self.table.get(&r)?.parts.headers, &name))
    }

    fn header_values(&mut self, r: Resource<RequestHandle>, name: String) -> Result<Vec<String>> {
        Ok(all_values(&self.table.get(&r)?.parts.headers, &name))
    }

    fn path_param(&mut self, r: Resource<RequestHandle>, name: String) -> Result<Option<String>> {
        let h = self.table.get(&r)?;
        Ok(h.route
            .param_names()
            .iter()
            .position(|n| *n == name)
            .and_then(|i| h.params.get(i))
            .map(|v| ParamValue::joined(v).into_owned()))
    }

    fn stage_variable(
        &mut self,
        r: Resource<RequestHandle>,
        name: String,
    ) -> Result<Option<String>> {
        let h = self.table.get(&r)?;
        Ok(h.route.stage_variable(&name).map(str::to_owned))
    }

    fn client_ip(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        Ok(self.table.get(&r)?.client_ip.to_string())
    }

    fn identity(&mut self, r: Resource<RequestHandle>) -> Result<Option<types::Identity>> {
        Ok(self
            .table
            .get(&r)?
            .identity
            .as_ref()
            .map(|i| types::Identity {
                principal: i.principal.clone(),
                claims: i.claims.clone(),
            }))
    }

    fn set_identity(
        &mut self,
        r: Resource<RequestHandle>,
        identity: types::Identity,
    ) -> Result<()> {
        self.table.get_mut(&r)?.identity = Some(Identity {
            principal: identity.principal,
            claims: identity.claims,
            usage_key: None,
        });
        Ok(())
    }

    fn set_header(
        &mut self,
        r: Resource<RequestHandle>,
        name: String,
        value: String,
    ) -> Result<std::result::Result<(), String>> {
        let h = self.table.get_mut(&r)?;
        let done = set(&mut h.parts.headers, &name, &value);
        if let (Ok(()), Some(log)) = (&done, &mut h.header_log) {
            log.push(HeaderEdit::Set(name, value));
        }
        Ok(done)
    }

    fn remove_header(&mut self, r: Resource<RequestHandle>, name: String) -> Result<()> {
        let h = self.table.get_mut(&r)?;
        remove(&mut h.parts.headers, &name);
        if let Some(log) = &mut h.header_log {
            log.push(HeaderEdit::Remove(name));
        }
        Ok(())
    }

    async fn body(
        &mut self,
        r: Resource<RequestHandle>,
    ) -> Result<std::result::Result<Vec<u8>, String>> {
        self.read_body_of(&r).await
    }

    fn route_key(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        Ok(self.table.get(&r)?.route.key().to_owned())
    }

    fn authorization_scopes(&mut self, r: Resource<RequestHandle>) -> Result<Vec<String>> {
        Ok(self.table.get(&r)?.route.scopes().to_vec())
    }

    fn api_name(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        Ok(self.table.get(&r)?.route.api_name().to_owned())
    }

    fn stage_name(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        Ok(self.table.get(&r)?.route.stage_name().to_owned())
    }

    fn usage_key(&mut self, r: Resource<RequestHandle>) -> Result<Option<String>> {
        Ok(self
            .table
            .get(&r)?
            .identity
            .as_ref()
            .and_then(|i| i.usage_key.clone()))
    }

    fn add_response_headers(
        &mut self,
        r: Resource<RequestHandle>,
        headers: Vec<(String, String)>,
    ) -> Result<std::result::Result<(), String>> {
        let pairs = headers
            .iter()
            .map(|(name, value)| edit_pair(name, value))
            .collect::<std::result::Result<Vec<_>, String>>();
        match pairs {
            Ok(pairs) => {
                self.table.get_mut(&r)?.response_headers.extend(pairs);
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    fn append_header(
        &mut self,
        r: Resource<RequestHandle>,
        name: String,
        value: String,
    ) -> Result<std::result::Result<(), String>> {
        let h = self.table.get_mut(&r)?;
        let done = append(&mut h.parts.headers, &name, &value);
        if let (Ok(()), Some(log)) = (&done, &mut h.header_log) {
            log.push(HeaderEdit::Append(name, value));
        }
        Ok(done)
    }

    fn set_path(
        &mut self,
        r: Resource<RequestHandle>,
        path: String,
    ) -> Result<std::result::Result<(), String>> {
        let valid = path.starts_with('/')
            && !path.contains(['?', '#'])
            && path.parse::<http::uri::PathAndQuery>().is_ok();
        if !valid {
            return Ok(Err(format!(
                "`{path}` is not a path (percent-encoded, starting with `/`, no `?` or `#`)"
            )));
        }
        let h = self.table.get_mut(&r)?;
        if h.header_log.is_some() {
            return Ok(Err(CACHED_AUTHORIZER.to_owned()));
        }
        h.path_override = Some(path);
        Ok(Ok(()))
    }

    fn set_query(
        &mut self,
        r: Resource<RequestHandle>,
        query: Option<String>,
    ) -> Result<std::result::Result<(), String>> {
        let h = self.table.get_mut(&r)?;
        if h.header_log.is_some() {
            return Ok(Err(CACHED_AUTHORIZER.to_owned()));
        }
        Ok(with_query(&h.parts.uri, query.as_deref()).map(|uri| h.parts.uri = uri))
    }

    fn set_body(
        &mut self,
        r: Resource<RequestHandle>,
        body: Vec<u8>,
    ) -> Result<std::result::Result<(), String>> {
        self.set_body_of(&r, body)
    }

    fn drop(&mut self, _r: Resource<RequestHandle>) -> Result<()> {
        // Only lent handles are owned (and dropped) by the guest; the host takes every
        // handle back from its table after the call.
        self.lent = self.lent.saturating_sub(1);
        Ok(())
    }
}

/// `uri` with its query replaced by `query` (removed when `None`).
fn with_query(uri: &http::Uri, query: Option<&str>) -> std::result::Result<http::Uri, String> {
    let invalid = || {
        format!(
            "`{}` is not a query string (percent-encoded, no `#`)",
            query.unwrap_or_default()
        )
    };
    if query.is_some_and(|q| q.contains('#')) {
        return Err(invalid());
    }
    let path_and_query = match query {
        Some(q) => format!("{}?{q}", uri.path()),
        None => uri.path().to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().map_err(|_| invalid())?);
    http::Uri::from_parts(parts).map_err(|e| e.to_string())
}

impl types::HostResponseHead for HostState {
    fn status(&mut self, r: Resource<ResponseHandle>) -> Result<u16> {
        Ok(self.table.get(&r)?.parts.status.as_u16())
    }

    fn set_status(
        &mut self,
        r: Resource<ResponseHandle>,
        status: u16,
    ) -> Result<std::result::Result<(), String>> {
        let h = self.table.get_mut(&r)?;
        Ok(match http::StatusCode::from_u16(status) {
            Ok(s) => {
                h.parts.status = s;
                Ok(())
            }
            Err(_) => Err(format!("{status} is not a status code")),
        })
    }

    fn header(&mut self, r: Resource<ResponseHandle>, name: String) -> Result<Option<String>> {
        Ok(first(&self.table.get(&r)?.parts.headers, &name))
    }

    fn set_header(
        &mut self,
        r: Resource<ResponseHandle>,
        name: String,
        value: String,
    ) -> Result<std::result::Result<(), String>> {
        edit_headers(&mut self.table, &r, |h| set(h, &name, &value))
    }

    fn remove_header(&mut self, r: Resource<ResponseHandle>, name: String) -> Result<()> {
        edit_headers(&mut self.table, &r, |h| remove(h, &name))
    }

    fn header_values(&mut self, r: Resource<ResponseHandle>, name: String) -> Result<Vec<String>> {
        Ok(all_values(&self.table.get(&r)?.parts.headers, &name))
    }

    fn append_header(
        &mut self,
        r: Resource<ResponseHandle>,
        name: String,
        value: String,
    ) -> Result<std::result::Result<(), String>> {
        edit_headers(&mut self.table, &r, |h| append(h, &name, &value))
    }

    async fn body(
        &mut self,
        r: Resource<ResponseHandle>,
    ) -> Result<std::result::Result<Vec<u8>, String>> {
        self.read_body_of(&r).await
    }

    fn set_body(
        &mut self,
        r: Resource<ResponseHandle>,
        body: Vec<u8>,
    ) -> Result<std::result::Result<(), String>> {
        self.set_body_of(&r, body)
    }

    fn request(&mut self, r: Resource<ResponseHandle>) -> Result<Resource<RequestHandle>> {
        self.lent += 1;
        let h = self.table.get_mut(&r)?;
        if let Some(rep) = h.request_rep {
            return Ok(Resource::new_own(rep));
        }
        let request = h
            .request
            .take()
            .ok_or_else(|| wasmtime::Error::msg("the response has no request"))?;
        let lent = self.table.push(request)?;
        let rep = lent.rep();
        self.table.get_mut(&r)?.request_rep = Some(rep);
        Ok(Resource::new_own(rep))
    }

    fn drop(&mut self, _r: Resource<ResponseHandle>) -> Result<()> {
        Ok(())
    }
}
