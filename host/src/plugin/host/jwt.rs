//! `jwt`: token verification run natively by the host (see [`crate::jwt`]).

use std::sync::Arc;

use wasmtime::Result;
use wasmtime::component::Resource;

use super::HostState;
use super::unit::Unit;
use crate::config::Capability;

/// Time kept back from the call's deadline for the plugin to answer after a slow fetch.
const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_millis(5);
use crate::jwt::{Verifier, VerifyError};
use crate::plugin::bindings::jwt;

pub(super) const UNIT: Unit = Unit {
    capability: Capability::Jwt,
    interfaces: &["jwt"],
    link: |l| jwt::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(l, |s| s),
};

/// A verifier as a plugin holds it.
pub struct VerifierHandle(Arc<Verifier>);

impl jwt::Host for HostState {}

impl jwt::HostVerifier for HostState {
    fn create(
        &mut self,
        settings: String,
    ) -> Result<std::result::Result<Resource<VerifierHandle>, String>> {
        if let Err(e) = self.grants.check(Capability::Jwt) {
            return Ok(Err(e));
        }
        match self.services.jwt.get(&settings) {
            Ok(v) => Ok(Ok(self.table.push(VerifierHandle(v))?)),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn verify(
        &mut self,
        v: Resource<VerifierHandle>,
        token: String,
    ) -> Result<std::result::Result<String, jwt::VerifyError>> {
        let verifier = Arc::clone(&self.table.get(&v)?.0);
        // A key fetch that outlasts the call is answered as unavailable (503), not as a
        // plugin failure; the fetch itself goes on for later requests.
        let stop = self
            .deadline
            .checked_sub(DEADLINE_MARGIN)
            .unwrap_or(self.deadline);
        let outcome = match tokio::time::timeout_at(stop.into(), verifier.verify(&token)).await {
            Ok(o) => o,
            Err(_) => Err(VerifyError::Unavailable(
                "the signing keys are still being fetched".into(),
            )),
        };
        Ok(match outcome {
            Ok(claims) => Ok(claims.json.clone()),
            Err(VerifyError::Invalid(m)) => Err(jwt::VerifyError::Invalid(m)),
            Err(VerifyError::Unavailable(m)) => Err(jwt::VerifyError::Unavailable(m)),
        })
    }

    fn drop(&mut self, v: Resource<VerifierHandle>) -> Result<()> {
        self.table.delete(v)?;
        Ok(())
    }
}
