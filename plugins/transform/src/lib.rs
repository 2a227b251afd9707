//! Built-in `transform`: reshapes requests and responses — headers, query parameters, the
//! path, JSON bodies and the status — with templates checked when the config is loaded.
//! Amazon API Gateway HTTP API parameter-mapping lines are accepted as they are.
//! `docs/transform.md` is the reference.
//!
//! ```yaml
//! plugins:
//!   reshape:
//!     builtin: transform
//!     on_request: [transform]
//!     on_response: [transform]
//!     config:
//!       request:
//!         headers:                           # rename, remove, set, append (in that order)
//!           set:    { x-user: "$context.authorizer.principalId" }
//!           append: { x-via: tollgate }
//!           remove: [x-debug]
//!           rename: { x-old: x-new }
//!         query:                             # the same four, on query parameters
//!           set:    { version: "2" }
//!           remove: [debug]
//!         path: "/v2/orders/${request.path.id}"
//!         body:                              # JSON; template, then set, rename, remove
//!           template: { orderId: "$request.path.id", items: "$request.body.items", n: 3 }
//!           set:    { meta.by: "$context.identity.sourceIp" }
//!           rename: { user.name: user.fullName }
//!           remove: [password, "items[0].secret"]
//!         parameter_mapping:                 # Amazon API Gateway lines, in order
//!           "append:header.x-id": "$request.header.x-request-id"
//!           "remove:querystring.y": "''"
//!       response:
//!         status:                            # first match wins
//!           - { when: "404", set: 200 }
//!           - { when: "5xx", set: 502 }
//!         headers: { remove: [server] }
//!         body: { template: { data: "$response.body" } }
//!         parameter_mapping:
//!           "overwrite:header.x-order": "$response.body.id"
//! ```
//!
//! Every value is computed from the request (or response) as it came into the plugin, then
//! the edits are made. A mapping that needs a JSON body answers 415 (not JSON) or 400
//! (invalid JSON) on the request, 502 on the response; an edit the gateway refuses, 500.

mod body;
mod config;
mod encode;
mod mapping;
mod path;
mod query;
mod run;
mod status;
mod template;

use std::cell::OnceCell;

use serde_json::Value;
use tollgate_sdk::view::RequestView;
use tollgate_sdk::{Action, Identity, Plugin, Request, RequestPhase, ResponseHead, ResponsePhase};

use config::Plan;
use template::{Answer, Side, Source};

struct Transform(Plan);

/// The answer as a JSON response.
fn answer(a: &Answer) -> Action {
    tollgate_sdk::respond_message(a.status, &a.message, &[])
}

/// The request body, parsed once.
fn request_body<'c>(
    cell: &'c OnceCell<Result<Value, Answer>>,
    req: &Request,
) -> Result<&'c Value, Answer> {
    cell.get_or_init(|| {
        let ct = req.header("content-type");
        body::parse(ct.as_deref(), req.body(), Side::Request)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The request-side [`Source`] methods, from `self.req()` and `self.identity()` (read
/// once).
macro_rules! request_source {
    () => {
        fn request(&self) -> &dyn RequestView {
            self.req()
        }
        fn principal(&self) -> Option<String> {
            self.identity().map(|i| i.principal.clone())
        }
        fn claim(&self, name: &str) -> Option<String> {
            self.identity()?
                .claims
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    };
}

/// The request hook's view: reads and edits the request; each value read once.
struct OnRequest<'a> {
    req: &'a Request,
    identity: OnceCell<Option<Identity>>,
    body: OnceCell<Result<Value, Answer>>,
}

impl OnRequest<'_> {
    fn req(&self) -> &Request {
        self.req
    }

    fn identity(&self) -> Option<&Identity> {
        self.identity.get_or_init(|| self.req.identity()).as_ref()
    }
}

impl Source for OnRequest<'_> {
    request_source!();

    fn request_body(&self) -> Result<&Value, Answer> {
        request_body(&self.body, self.req)
    }
}

impl run::Target for OnRequest<'_> {
    fn header(&self, name: &str) -> Option<String> {
        self.req.header(name)
    }
    fn set_header(&self, name: &str, value: &str) -> Result<(), String> {
        self.req.set_header(name, value)
    }
    fn append_header(&self, name: &str, value: &str) -> Result<(), String> {
        self.req.append_header(name, value)
    }
    fn remove_header(&self, name: &str) {
        self.req.remove_header(name);
    }
    fn set_query(&self, query: Option<&str>) -> Result<(), String> {
        self.req.set_query(query)
    }
    fn set_path(&self, path: &str) -> Result<(), String> {
        self.req.set_path(path)
    }
    fn set_status(&self, _status: u16) -> Result<(), String> {
        Err("a request has no status".to_owned())
    }
    fn set_body(&self, body: Vec<u8>) -> Result<(), String> {
        self.req.set_body(&body)
    }
}

/// The response hook's view: reads the response and the request it answers (`request`,
/// fetched when first needed), edits the response.
struct OnResponse<'a> {
    resp: &'a ResponseHead,
    req: OnceCell<Request>,
    identity: OnceCell<Option<Identity>>,
    body: OnceCell<Result<Value, Answer>>,
}

impl OnResponse<'_> {
    fn req(&self) -> &Request {
        self.req.get_or_init(|| self.resp.request())
    }

    fn identity(&self) -> Option<&Identity> {
        self.identity.get_or_init(|| self.req().identity()).as_ref()
    }
}

impl Source for OnResponse<'_> {
    request_source!();

    /// Never asked: `$request.body` is refused on the response side at load time.
    fn request_body(&self) -> Result<&Value, Answer> {
        Ok(&Value::Null)
    }

    fn status(&self) -> u16 {
        self.resp.status()
    }

    fn response_header_values(&self, name: &str) -> Vec<String> {
        self.resp.header_values(name)
    }

    fn response_body(&self) -> Result<&Value, Answer> {
        self.body
            .get_or_init(|| {
                let ct = self.resp.header("content-type");
                body::parse(ct.as_deref(), self.resp.body(), Side::Response)
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl run::Target for OnResponse<'_> {
    fn header(&self, name: &str) -> Option<String> {
        self.resp.header(name)
    }
    fn set_header(&self, name: &str, value: &str) -> Result<(), String> {
        self.resp.set_header(name, value)
    }
    fn append_header(&self, name: &str, value: &str) -> Result<(), String> {
        self.resp.append_header(name, value)
    }
    fn remove_header(&self, name: &str) {
        self.resp.remove_header(name);
    }
    fn set_query(&self, _query: Option<&str>) -> Result<(), String> {
        Err("a response has no query".to_owned())
    }
    fn set_path(&self, _path: &str) -> Result<(), String> {
        Err("a response has no path".to_owned())
    }
    fn set_status(&self, status: u16) -> Result<(), String> {
        self.resp.set_status(status)
    }
    fn set_body(&self, body: Vec<u8>) -> Result<(), String> {
        self.resp.set_body(&body)
    }
}

#[tollgate_sdk::plugin]
impl Plugin for Transform {
    type Config = Value;

    fn new(config: Value) -> Result<Self, String> {
        Plan::parse(config).map(Self)
    }

    fn on_request(&self, _phase: RequestPhase, req: &Request) -> Action {
        if self.0.request.is_empty() {
            return Action::Continue;
        }
        let view = OnRequest {
            req,
            identity: OnceCell::new(),
            body: OnceCell::new(),
        };
        match run::request(&self.0.request, &view, &view) {
            Ok(()) => Action::Continue,
            Err(a) => answer(&a),
        }
    }

    fn on_response(&self, _phase: ResponsePhase, resp: &ResponseHead) -> Action {
        if self.0.response.is_empty() {
            return Action::Continue;
        }
        let view = OnResponse {
            resp,
            req: OnceCell::new(),
            identity: OnceCell::new(),
            body: OnceCell::new(),
        };
        match run::response(&self.0.response, &view, &view) {
            Ok(()) => Action::Continue,
            Err(a) => answer(&a),
        }
    }
}
