//! Built-in `request-validator`: checks request parameters (required, typed, bounded) and
//! JSON bodies against a JSON Schema (draft-04, as AWS models use, to 2020-12) before the
//! request goes on, answering 400 (or 415) with a message that names the failing
//! parameter or the JSON pointer of the failing field. The AWS switches
//! `validateRequestBody` / `validateRequestParameters` and the AWS `requestParameters`
//! form are accepted as they are.
//!
//! ```yaml
//! plugins:
//!   check-order:
//!     builtin: request-validator
//!     on_request: [configure]
//!     config:
//!       body_schema:
//!         type: object
//!         required: [items]
//!         properties:
//!           items: { type: array, items: { type: object, properties: { qty: { type: integer, minimum: 1 } } } }
//!       parameters:
//!         querystring: { limit: { required: true, type: integer, minimum: 1, maximum: 100 } }
//!         header: { x-tenant: { required: true, pattern: "^[a-z]+$" } }
//! ```

mod check;
mod config;
mod params;
mod schema;

use serde_json::Value;
use tollgate_sdk::{Action, Plugin, Request, RequestPhase};

use check::Inbound;
use config::Settings;

struct RequestValidator(Settings);

impl Inbound for Request {
    fn method(&self) -> String {
        Request::method(self)
    }
    fn header(&self, name: &str) -> Option<String> {
        Request::header(self, name)
    }
    fn query(&self) -> Option<String> {
        Request::query(self)
    }
    fn path_param(&self, name: &str) -> Option<String> {
        Request::path_param(self, name)
    }
    fn body(&self) -> Result<Vec<u8>, String> {
        Request::body(self)
    }
}

#[tollgate_sdk::plugin(filter)]
impl Plugin for RequestValidator {
    type Config = Value;

    fn new(config: Value) -> Result<Self, String> {
        Settings::parse(config).map(Self)
    }

    fn on_request(&self, _phase: RequestPhase, req: &Request) -> Action {
        match self.0.check(req) {
            Ok(()) => Action::Continue,
            Err(r) => tollgate_sdk::respond_json(r.status, &r.body),
        }
    }
}
