//! End-to-end tests of the real `tollgate` binary: one test binary, a module per capability.

mod support;

mod admin;
mod admin_api;
mod auth;
mod cli;
mod client_faults;
mod cluster;
mod config_errors;
mod cors;
mod dashboard;
mod drills;
mod examples;
mod introspection;
mod jwt;
mod lifecycle;
mod limits;
mod observability;
mod plugin_capabilities;
mod plugin_loading;
mod plugin_project;
mod plugin_test;
mod plugin_worlds;
mod plugins;
mod proxy;
mod rate_limit;
mod request_validator;
mod routing;
mod tls;
mod tracing;
mod transform;
mod usage_plans;
mod websocket;
