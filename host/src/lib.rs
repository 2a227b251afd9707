//! Tollgate, a programmable API gateway.
//!
//! The request flow follows `docs/pipeline.md`: a [`server`] listener accepts the
//! connection, the [`pipeline`] normalises and [`router`]s the request to an API, stage and
//! route, and the route's [`integration`] answers. The [`gateway`] holds the running
//! services and the compiled route data ([`routes`]), which it rebuilds from the [`config`]
//! and swaps on reload.

pub mod admin;
pub mod allocator;
pub mod body;
pub mod builtins;
pub mod client;
pub mod config;
pub mod demo;
pub mod error;
pub mod gateway;
pub mod integration;
pub mod jwt;
pub mod pipeline;
pub mod plugin;
pub mod plugin_project;
pub mod plugin_test;
pub mod process;
pub mod request;
pub mod router;
pub mod routes;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod template;
pub mod usage;
pub mod websocket;
