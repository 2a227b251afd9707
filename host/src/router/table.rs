//! The route table of one API: a segment trie with literal > parameter > greedy precedence.

use std::collections::HashMap;

use http::Method;

use crate::config::{RoutePath, Segment};

/// Index of a route in its API.
pub type RouteId = usize;

/// Routes that end at one trie node, by method.
#[derive(Debug, Default)]
struct Endpoints {
    by_method: Vec<(Method, RouteId)>,
    any: Option<RouteId>,
}

impl Endpoints {
    fn get(&self, method: &Method) -> Option<RouteId> {
        self.by_method
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, id)| *id)
            .or(self.any)
    }

    fn is_empty(&self) -> bool {
        self.by_method.is_empty() && self.any.is_none()
    }
}

#[derive(Debug, Default)]
struct Node {
    literal: HashMap<String, Node>,
    param: Option<Box<Node>>,
    greedy: Endpoints,
    here: Endpoints,
}

/// The value of a path parameter: one decoded segment, or the decoded segments a greedy
/// parameter took. Segments stay separate so that a `/` decoded from `%2F` is never
/// mistaken for a separator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamValue {
    /// `{name}`.
    One(String),
    /// `{name+}`.
    Many(Vec<String>),
}

impl ParamValue {
    /// The value as text: greedy segments joined with `/`.
    pub fn joined(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::One(v) => std::borrow::Cow::Borrowed(v),
            Self::Many(segs) => std::borrow::Cow::Owned(segs.join("/")),
        }
    }
}

/// The outcome of a lookup in one API.
#[derive(Debug, PartialEq, Eq)]
pub enum TableMatch {
    /// A route, with the values of its parameters in path order.
    Found {
        /// The route.
        route: RouteId,
        /// Parameter values in the order the route's parameters appear.
        params: Vec<ParamValue>,
    },
    /// The path exists but not for this method.
    MethodNotAllowed(Vec<Method>),
    /// No route has this path.
    NotFound,
}

/// A compiled route table.
#[derive(Debug, Default)]
pub struct RouteTable {
    root: Node,
    default_route: Option<RouteId>,
}

impl RouteTable {
    /// Adds a route; `methods` empty means ANY. Duplicates were refused by config validation;
    /// here a later duplicate simply loses.
    pub fn insert(&mut self, path: &RoutePath, methods: &[Option<Method>], id: RouteId) {
        if path.is_default() {
            self.default_route.get_or_insert(id);
            return;
        }
        let mut node = &mut self.root;
        let mut target: Option<&mut Endpoints> = None;
        for seg in path.segments() {
            match seg {
                Segment::Literal(l) => node = node.literal.entry(l.clone()).or_default(),
                Segment::Param(_) => node = node.param.get_or_insert_with(Box::default),
                Segment::Greedy(_) => {
                    target = Some(&mut node.greedy);
                    break;
                }
            }
        }
        let endpoints = match target {
            Some(t) => t,
            None => &mut node.here,
        };
        let methods: &[Option<Method>] = if methods.is_empty() { &[None] } else { methods };
        for m in methods {
            match m {
                None => {
                    endpoints.any.get_or_insert(id);
                }
                Some(m) => {
                    if !endpoints.by_method.iter().any(|(have, _)| have == m) {
                        endpoints.by_method.push((m.clone(), id));
                    }
                }
            }
        }
    }

    /// Finds the route for `method` and the decoded path `segments`.
    pub fn lookup<S: AsRef<str>>(&self, method: &Method, segments: &[S]) -> TableMatch {
        let mut params = Vec::new();
        if let Some(route) = find(&self.root, segments, method, &mut params) {
            return TableMatch::Found { route, params };
        }
        if let Some(route) = self.default_route {
            return TableMatch::Found {
                route,
                params: Vec::new(),
            };
        }
        let mut allowed = Vec::new();
        collect_allowed(&self.root, segments, &mut allowed);
        if allowed.is_empty() {
            TableMatch::NotFound
        } else {
            allowed.sort_by(|a: &Method, b| a.as_str().cmp(b.as_str()));
            allowed.dedup();
            TableMatch::MethodNotAllowed(allowed)
        }
    }
}

fn find<S: AsRef<str>>(
    node: &Node,
    segs: &[S],
    method: &Method,
    params: &mut Vec<ParamValue>,
) -> Option<RouteId> {
    let Some((first, rest)) = segs.split_first() else {
        return node.here.get(method);
    };
    if let Some(child) = node.literal.get(first.as_ref())
        && let Some(id) = find(child, rest, method, params)
    {
        return Some(id);
    }
    if let Some(child) = &node.param {
        params.push(ParamValue::One(first.as_ref().to_owned()));
        if let Some(id) = find(child, rest, method, params) {
            return Some(id);
        }
        params.pop();
    }
    let id = node.greedy.get(method)?;
    params.push(ParamValue::Many(
        segs.iter().map(|s| s.as_ref().to_owned()).collect(),
    ));
    Some(id)
}

fn collect_allowed<S: AsRef<str>>(node: &Node, segs: &[S], out: &mut Vec<Method>) {
    let push = |e: &Endpoints, out: &mut Vec<Method>| {
        if e.any.is_some() {
            out.extend(ALL_METHODS.iter().cloned());
        }
        out.extend(e.by_method.iter().map(|(m, _)| m.clone()));
    };
    let Some((first, rest)) = segs.split_first() else {
        push(&node.here, out);
        return;
    };
    if let Some(child) = node.literal.get(first.as_ref()) {
        collect_allowed(child, rest, out);
    }
    if let Some(child) = &node.param {
        collect_allowed(child, rest, out);
    }
    if !node.greedy.is_empty() {
        push(&node.greedy, out);
    }
}

const ALL_METHODS: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn table(routes: &[(&str, &[Method])]) -> RouteTable {
        let mut t = RouteTable::default();
        for (id, (path, methods)) in routes.iter().enumerate() {
            let methods: Vec<Option<Method>> = methods.iter().cloned().map(Some).collect();
            t.insert(&RoutePath::parse(path).expect("path"), &methods, id);
        }
        t
    }

    fn segs(p: &str) -> Vec<&str> {
        p.split('/').filter(|s| !s.is_empty()).collect()
    }

    fn one(v: &str) -> ParamValue {
        ParamValue::One(v.into())
    }

    fn many(v: &[&str]) -> ParamValue {
        ParamValue::Many(v.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn precedence_is_literal_then_param_then_greedy() {
        let t = table(&[
            ("/pets/{id}", &[]),
            ("/pets/mine", &[]),
            ("/pets/{proxy+}", &[]),
            ("/{all+}", &[]),
        ]);
        let get = |p| t.lookup(&Method::GET, &segs(p));
        assert_eq!(
            get("/pets/mine"),
            TableMatch::Found {
                route: 1,
                params: vec![]
            }
        );
        assert_eq!(
            get("/pets/7"),
            TableMatch::Found {
                route: 0,
                params: vec![one("7")]
            }
        );
        assert_eq!(
            get("/pets/7/toys"),
            TableMatch::Found {
                route: 2,
                params: vec![many(&["7", "toys"])]
            }
        );
        assert_eq!(
            get("/other/x"),
            TableMatch::Found {
                route: 3,
                params: vec![many(&["other", "x"])]
            }
        );
        assert_eq!(
            get("/"),
            TableMatch::NotFound,
            "greedy needs at least one segment"
        );
    }

    #[test]
    fn backtracks_from_literal_to_param() {
        let t = table(&[("/a/b/c", &[]), ("/a/{x}/d", &[])]);
        assert_eq!(
            t.lookup(&Method::GET, &segs("/a/b/d")),
            TableMatch::Found {
                route: 1,
                params: vec![one("b")]
            }
        );
    }

    #[test]
    fn method_specific_beats_any_and_405_lists_allowed() {
        let t = table(&[
            ("/items", &[Method::GET, Method::POST]),
            ("/items/{id}", &[Method::DELETE]),
        ]);
        assert_eq!(
            t.lookup(&Method::PUT, &segs("/items")),
            TableMatch::MethodNotAllowed(vec![Method::GET, Method::POST])
        );
        let mut t = t;
        t.insert(&RoutePath::parse("/items").expect("path"), &[], 9);
        assert_eq!(
            t.lookup(&Method::PUT, &segs("/items")),
            TableMatch::Found {
                route: 9,
                params: vec![]
            }
        );
        assert_eq!(
            t.lookup(&Method::GET, &segs("/items")),
            TableMatch::Found {
                route: 0,
                params: vec![]
            }
        );
    }

    #[test]
    fn default_route_catches_everything_else() {
        let mut t = table(&[("/items", &[Method::GET])]);
        t.insert(&RoutePath::parse("$default").expect("path"), &[], 5);
        assert_eq!(
            t.lookup(&Method::POST, &segs("/items")),
            TableMatch::Found {
                route: 5,
                params: vec![]
            }
        );
        assert_eq!(
            t.lookup(&Method::GET, &segs("/nope")),
            TableMatch::Found {
                route: 5,
                params: vec![]
            }
        );
    }
}
