//! The built-in `jwt-auth` plugin end to end: tokens signed here with every supported
//! algorithm, key sets served by a real (test) identity provider whose JWKS can be swapped
//! and which counts its requests, OIDC discovery, key rotation and expiry, the classic
//! attacks on JWT verifiers, claim checks, route scopes and the plugin's own settings.

use std::cell::RefCell;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::support::{Backend, DEADLINE, Gateway, client, dead_port, poll_until};
use tollgate_test_artifacts::TEST_FILTER;

mod hardening;
mod idp;
mod keys;
mod requests;
mod setup;
mod tokens;
mod verify;

use idp::*;
use setup::*;
use tokens::*;
