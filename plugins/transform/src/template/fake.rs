//! A fake request and response for the tests.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Answer, Source};

/// Every value a template can read, settable per test.
pub struct Fake {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub params: BTreeMap<String, String>,
    pub stage_vars: BTreeMap<String, String>,
    pub identity: Option<(String, Vec<(String, String)>)>,
    pub route_key: String,
    pub body: Result<Value, Answer>,
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Result<Value, Answer>,
}

impl Default for Fake {
    fn default() -> Self {
        Self {
            method: "POST".into(),
            path: "/orders/42".into(),
            query: Some("q=a%20b&tag=x&tag=y+z".into()),
            headers: vec![
                ("x-request-id".into(), "req-1".into()),
                ("x-tag".into(), "t1".into()),
                ("x-tag".into(), "t2".into()),
                ("user-agent".into(), "curl/8".into()),
                ("content-type".into(), "application/json".into()),
            ],
            params: [("id".to_owned(), "42".to_owned())].into(),
            stage_vars: [("name".to_owned(), "prod".to_owned())].into(),
            identity: Some((
                "alice".into(),
                vec![
                    ("sub".into(), "u-1".into()),
                    ("scope".into(), "read".into()),
                ],
            )),
            route_key: "POST /orders/{id}".into(),
            body: Ok(json!({"items": [{"sku": "a", "secret": 1}], "user": {"name": "Zoë"}})),
            status: 404,
            response_headers: vec![
                ("server".into(), "backend/1".into()),
                ("set-cookie".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into()),
            ],
            response_body: Ok(json!({"id": 7, "ok": true})),
        }
    }
}

fn values(list: &[(String, String)], name: &str) -> Vec<String> {
    list.iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .collect()
}

impl Source for Fake {
    fn method(&self) -> String {
        self.method.clone()
    }
    fn path(&self) -> String {
        self.path.clone()
    }
    fn query(&self) -> Option<String> {
        self.query.clone()
    }
    fn header_values(&self, name: &str) -> Vec<String> {
        values(&self.headers, name)
    }
    fn path_param(&self, name: &str) -> Option<String> {
        self.params.get(name).cloned()
    }
    fn stage_variable(&self, name: &str) -> Option<String> {
        self.stage_vars.get(name).cloned()
    }
    fn client_ip(&self) -> String {
        "203.0.113.9".into()
    }
    fn principal(&self) -> Option<String> {
        self.identity.as_ref().map(|(p, _)| p.clone())
    }
    fn claim(&self, name: &str) -> Option<String> {
        let (_, claims) = self.identity.as_ref()?;
        claims
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
    fn route_key(&self) -> String {
        self.route_key.clone()
    }
    fn api_name(&self) -> String {
        "shop".into()
    }
    fn stage_name(&self) -> String {
        "v1".into()
    }
    fn request_body(&self) -> Result<&Value, Answer> {
        self.body.as_ref().map_err(Clone::clone)
    }
    fn status(&self) -> u16 {
        self.status
    }
    fn response_header_values(&self, name: &str) -> Vec<String> {
        values(&self.response_headers, name)
    }
    fn response_body(&self) -> Result<&Value, Answer> {
        self.response_body.as_ref().map_err(Clone::clone)
    }
}
