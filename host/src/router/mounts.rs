//! The router: host, base path and stage pick an API mount; its route table picks the route.
//!
//! Mounts are tried most specific first: exact host, then wildcard host (longer suffix
//! first), then any host; within that, the longer path prefix first.

use http::Method;

use super::table::{ParamValue, RouteId, RouteTable, TableMatch};
use crate::config::HostPattern;

/// Index of an API in the snapshot.
pub type ApiId = usize;
/// Index of a stage in its API.
pub type StageId = usize;

#[derive(Debug)]
struct Mount {
    host: Option<HostPattern>,
    prefix: Vec<String>,
    api: ApiId,
    stage: StageId,
}

impl Mount {
    fn rank(&self) -> (u8, std::cmp::Reverse<usize>, std::cmp::Reverse<usize>) {
        let (host_rank, host_len) = match &self.host {
            Some(HostPattern::Exact(h)) => (0, h.len()),
            Some(HostPattern::Wildcard(s)) => (1, s.len()),
            None => (2, 0),
        };
        (
            host_rank,
            std::cmp::Reverse(host_len),
            std::cmp::Reverse(self.prefix.len()),
        )
    }

    fn matches<S: AsRef<str>>(&self, host: Option<&str>, segments: &[S]) -> bool {
        let host_ok = match (&self.host, host) {
            (None, _) => true,
            (Some(pattern), Some(h)) => pattern.matches(h),
            (Some(_), None) => false,
        };
        host_ok
            && segments.len() >= self.prefix.len()
            && self
                .prefix
                .iter()
                .zip(segments)
                .all(|(p, s)| p == s.as_ref())
    }
}

/// A request routed to an API, stage and route.
#[derive(Debug, PartialEq, Eq)]
pub struct RouteMatch {
    /// The API.
    pub api: ApiId,
    /// The stage of the API.
    pub stage: StageId,
    /// The route in the API.
    pub route: RouteId,
    /// Parameter values in the route's parameter order.
    pub params: Vec<ParamValue>,
    /// How many leading path segments the mount (base path and stage) took.
    pub prefix_len: usize,
}

/// What the router decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Routed {
    /// A route.
    Found(RouteMatch),
    /// The path exists in the API but not for this method.
    MethodNotAllowed(Vec<Method>),
    /// Nothing matches.
    NotFound,
}

/// All mounted APIs of a snapshot.
#[derive(Debug, Default)]
pub struct Router {
    mounts: Vec<Mount>,
    tables: Vec<RouteTable>,
}

impl Router {
    /// Adds an API with its route table. `stages` lists each stage's id and, for stages other
    /// than `$default`, the path segment that selects it.
    pub fn add_api(
        &mut self,
        hosts: &[HostPattern],
        base_path: &[String],
        stages: &[(StageId, Option<String>)],
        table: RouteTable,
    ) -> ApiId {
        let api = self.tables.len();
        self.tables.push(table);
        let hosts: Vec<Option<HostPattern>> = if hosts.is_empty() {
            vec![None]
        } else {
            hosts.iter().cloned().map(Some).collect()
        };
        for host in hosts {
            for (stage, segment) in stages {
                let mut prefix = base_path.to_vec();
                prefix.extend(segment.clone());
                self.mounts.push(Mount {
                    host: host.clone(),
                    prefix,
                    api,
                    stage: *stage,
                });
            }
        }
        self.mounts.sort_by_key(Mount::rank);
        api
    }

    /// Routes a request. `host` is lower case without a port.
    pub fn route<S: AsRef<str>>(
        &self,
        host: Option<&str>,
        method: &Method,
        segments: &[S],
    ) -> Routed {
        let Some(mount) = self.mounts.iter().find(|m| m.matches(host, segments)) else {
            return Routed::NotFound;
        };
        let rest = &segments[mount.prefix.len()..];
        match self.tables[mount.api].lookup(method, rest) {
            TableMatch::Found { route, params } => Routed::Found(RouteMatch {
                api: mount.api,
                stage: mount.stage,
                route,
                params,
                prefix_len: mount.prefix.len(),
            }),
            TableMatch::MethodNotAllowed(allowed) => Routed::MethodNotAllowed(allowed),
            TableMatch::NotFound => Routed::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::RoutePath;

    fn table(path: &str) -> RouteTable {
        let mut t = RouteTable::default();
        t.insert(&RoutePath::parse(path).expect("path"), &[], 0);
        t
    }

    fn segs(p: &str) -> Vec<&str> {
        p.split('/').filter(|s| !s.is_empty()).collect()
    }

    #[test]
    fn hosts_base_paths_and_stages_select_the_api() {
        let mut r = Router::default();
        let any = r.add_api(&[], &[], &[(0, None)], table("/{x+}"));
        let v1 = r.add_api(
            &[],
            &["v1".into()],
            &[(0, None), (1, Some("beta".into()))],
            table("/pets"),
        );
        let host: HostPattern = "api.example.com".parse().expect("host");
        let exact = r.add_api(&[host], &[], &[(0, None)], table("/pets"));
        let wild: HostPattern = "*.example.com".parse().expect("host");
        let wildcard = r.add_api(&[wild], &[], &[(0, None)], table("/pets"));

        let route = |host, path| match r.route(host, &Method::GET, &segs(path)) {
            Routed::Found(m) => Some((m.api, m.stage, m.prefix_len)),
            _ => None,
        };
        assert_eq!(route(None, "/v1/pets"), Some((v1, 0, 1)));
        assert_eq!(route(None, "/v1/beta/pets"), Some((v1, 1, 2)));
        assert_eq!(route(None, "/other"), Some((any, 0, 0)));
        assert_eq!(route(Some("api.example.com"), "/pets"), Some((exact, 0, 0)));
        assert_eq!(
            route(Some("shop.example.com"), "/pets"),
            Some((wildcard, 0, 0))
        );
        assert_eq!(route(Some("example.com"), "/v1/pets"), Some((v1, 0, 1)));
    }
}
