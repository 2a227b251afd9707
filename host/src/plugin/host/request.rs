//! The request and response handles: what a hook reads and edits.

use bytes::Bytes;
use http_body_util::BodyExt;
use wasmtime::Result;
use wasmtime::component::Resource;

use super::{HostState, edit_headers, first, header_pair, remove, set, until};
use crate::plugin::bindings::types;
use crate::plugin::handles::{HeaderEdit, Identity, RequestHandle, ResponseHandle};
use crate::router::ParamValue;

impl types::Host for HostState {}

impl types::HostRequest for HostState {
    async fn method(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        Ok(self.table.get(&r)?.parts.method.as_str().to_owned())
    }

    async fn path(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        Ok(self.table.get(&r)?.path.clone())
    }

    async fn query(&mut self, r: Resource<RequestHandle>) -> Result<Option<String>> {
        Ok(self.table.get(&r)?.parts.uri.query().map(str::to_owned))
    }

    async fn header(&mut self, r: Resource<RequestHandle>, name: String) -> Result<Option<String>> {
        Ok(first(&self.table.get(&r)?.parts.headers, &name))
    }

    async fn header_values(
        &mut self,
        r: Resource<RequestHandle>,
        name: String,
    ) -> Result<Vec<String>> {
        let headers = &self.table.get(&r)?.parts.headers;
        Ok(headers
            .get_all(name.to_ascii_lowercase())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect())
    }

    async fn path_param(
        &mut self,
        r: Resource<RequestHandle>,
        name: String,
    ) -> Result<Option<String>> {
        let h = self.table.get(&r)?;
        let route = &h.route.snapshot.apis[h.route.api].routes[h.route.route];
        Ok(route
            .param_names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| h.params.get(i))
            .map(|v| ParamValue::joined(v).into_owned()))
    }

    async fn stage_variable(
        &mut self,
        r: Resource<RequestHandle>,
        name: String,
    ) -> Result<Option<String>> {
        let h = self.table.get(&r)?;
        let stage = &h.route.snapshot.apis[h.route.api].stages[h.route.stage];
        Ok(stage.variables.get(&name).cloned())
    }

    async fn client_ip(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        Ok(self.table.get(&r)?.client_ip.to_string())
    }

    async fn identity(&mut self, r: Resource<RequestHandle>) -> Result<Option<types::Identity>> {
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

    async fn set_identity(
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

    async fn set_header(
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

    async fn remove_header(&mut self, r: Resource<RequestHandle>, name: String) -> Result<()> {
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
        let h = self.table.get_mut(&r)?;
        if let Some(b) = &h.buffered {
            return Ok(Ok(b.to_vec()));
        }
        let Some(body) = h.body.take() else {
            return Ok(Ok(Vec::new()));
        };
        let limit = usize::try_from(h.body_limit).unwrap_or(usize::MAX);
        match until(self.deadline, "reading the body", read_body(body, limit)).await? {
            Ok(bytes) => {
                let out = bytes.to_vec();
                self.table.get_mut(&r)?.buffered = Some(bytes);
                Ok(Ok(out))
            }
            Err(e) => {
                self.table.get_mut(&r)?.buffered = Some(Bytes::new());
                Ok(Err(format!("cannot read the request body: {e}")))
            }
        }
    }

    async fn route_key(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        let h = self.table.get(&r)?;
        Ok(h.route.snapshot.apis[h.route.api].routes[h.route.route]
            .key
            .to_string())
    }

    async fn authorization_scopes(&mut self, r: Resource<RequestHandle>) -> Result<Vec<String>> {
        let h = self.table.get(&r)?;
        Ok(h.route.snapshot.apis[h.route.api].routes[h.route.route]
            .scopes
            .clone())
    }

    async fn api_name(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        let h = self.table.get(&r)?;
        Ok(h.route.snapshot.apis[h.route.api].name.to_string())
    }

    async fn stage_name(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        let h = self.table.get(&r)?;
        Ok(h.route.snapshot.apis[h.route.api].stages[h.route.stage]
            .name
            .to_string())
    }

    async fn usage_key(&mut self, r: Resource<RequestHandle>) -> Result<Option<String>> {
        Ok(self
            .table
            .get(&r)?
            .identity
            .as_ref()
            .and_then(|i| i.usage_key.clone()))
    }

    async fn add_response_headers(
        &mut self,
        r: Resource<RequestHandle>,
        headers: Vec<(String, String)>,
    ) -> Result<std::result::Result<(), String>> {
        let pairs = headers
            .iter()
            .map(|(name, value)| header_pair(name, value))
            .collect::<std::result::Result<Vec<_>, String>>();
        match pairs {
            Ok(pairs) => {
                self.table.get_mut(&r)?.response_headers.extend(pairs);
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    async fn drop(&mut self, _r: Resource<RequestHandle>) -> Result<()> {
        // The host owns the handle and takes it back after the call.
        Ok(())
    }
}

/// Reads a whole body up to `limit` bytes.
fn read_body(
    body: crate::body::Body,
    limit: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::result::Result<Bytes, String>> + Send>>
{
    Box::pin(async move {
        let mut body = body;
        let mut buf = bytes::BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    return Err(format!("the body is larger than {limit} bytes"));
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf.freeze())
    })
}

impl types::HostResponseHead for HostState {
    async fn status(&mut self, r: Resource<ResponseHandle>) -> Result<u16> {
        Ok(self.table.get(&r)?.parts.status.as_u16())
    }

    async fn set_status(
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

    async fn header(
        &mut self,
        r: Resource<ResponseHandle>,
        name: String,
    ) -> Result<Option<String>> {
        Ok(first(&self.table.get(&r)?.parts.headers, &name))
    }

    async fn set_header(
        &mut self,
        r: Resource<ResponseHandle>,
        name: String,
        value: String,
    ) -> Result<std::result::Result<(), String>> {
        edit_headers(&mut self.table, &r, |h| set(h, &name, &value))
    }

    async fn remove_header(&mut self, r: Resource<ResponseHandle>, name: String) -> Result<()> {
        edit_headers(&mut self.table, &r, |h| remove(h, &name))
    }

    async fn drop(&mut self, _r: Resource<ResponseHandle>) -> Result<()> {
        Ok(())
    }
}
