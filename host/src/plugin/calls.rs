//! Calling a plugin's hooks. One call moves the request or response handle, if the hook
//! borrows one, into the instance's resource table, runs the hook under the epoch deadline
//! (host calls that wait stop at the same deadline), and takes the handle back. A failed
//! call, or one whose future is dropped, discards the instance.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long past its deadline a call waiting in WASI (where neither the epoch deadline nor
/// the host's own timers reach it) is given before it is cut: two epoch ticks, so guest
/// code past the deadline is stopped by the epoch first.
const CALL_GRACE: Duration = EPOCH_TICK.saturating_mul(2);

use wasmtime::component::{Resource, ResourceTable};

use super::authorizer::Cached;
use super::bindings::messages;
use super::bindings::{Action, Decision, RequestPhase, Response, ResponsePhase};
use super::engine::EPOCH_TICK;
use super::handles::{Identity, RequestHandle, ResponseHandle};
use super::host::HostDeadline;
use super::host::edits::replay;
use super::messages::{RouterMessage, Selection};
use super::runtime::{Bindings, MAX_WARM, Plugin, PluginError, PluginInstance};

enum Call {
    Request(RequestPhase),
    Response(ResponsePhase),
    Authorize,
    Handle,
    SelectRoute(messages::Message),
}

enum Outcome {
    Action(Action),
    Decision(Decision),
    Response(Response),
    Selection(messages::Selection),
}

/// What a request phase's call decided.
#[derive(Debug)]
pub enum Verdict {
    /// Pass the request on.
    Continue,
    /// Answer with the plugin's own response.
    Respond(Response),
    /// An authorizer's deny: the caller is known but may not do this.
    Deny,
    /// An authorizer's unauthorized, or the identity source it reads is missing: the
    /// caller could not be authenticated.
    Unauthorized,
}

impl From<Action> for Verdict {
    fn from(a: Action) -> Self {
        match a {
            Action::Continue => Self::Continue,
            Action::Respond(r) => Self::Respond(r),
        }
    }
}

/// A handle a call lends the plugin.
trait CallHandle: Send + 'static {
    /// Takes back what was lent out of the handle during the call.
    fn reclaim(&mut self, _table: &mut ResourceTable) {}
}

impl CallHandle for RequestHandle {}

/// No handle: the hook borrows none (`select-route`).
enum NoHandle {}

impl CallHandle for NoHandle {}

impl CallHandle for ResponseHandle {
    /// The request handed out by `response-head.request`.
    fn reclaim(&mut self, table: &mut ResourceTable) {
        if let Some(rep) = self.request_rep.take()
            && let Ok(request) = table.delete(Resource::<RequestHandle>::new_own(rep))
        {
            self.request = Some(request);
        }
    }
}

impl Plugin {
    /// Runs `call` on a warm instance, lending it `handle` when the hook borrows one, and
    /// gives the handle back (`None` only if it was lost with a broken instance).
    async fn run<H: CallHandle>(
        &self,
        handle: Option<H>,
        call: Call,
    ) -> (Option<H>, Result<Outcome, PluginError>) {
        // At most MAX_WARM calls in the plugin at once: more wait here, within the call's
        // deadline, rather than fail for want of an instance slot. The permit lives until
        // the call ends, even if it is dropped.
        let _permit = match self.calls.try_acquire() {
            Ok(p) => p,
            // Boxed, as the instantiation below: rare paths kept out of every call's future.
            Err(_) => {
                let wait = tokio::time::timeout(self.settings.deadline, self.calls.acquire());
                match Box::pin(wait).await {
                    Ok(Ok(p)) => p,
                    _ => {
                        return (
                            handle,
                            Err(self.host_err("too many calls waiting for an instance")),
                        );
                    }
                }
            }
        };
        let in_use = MAX_WARM - self.calls.available_permits();
        self.peak_in_use.fetch_max(in_use, Ordering::Relaxed);
        let mut instance = match self.take().await {
            Ok(i) => i,
            Err(e) => return (handle, Err(e)),
        };
        let lent = match handle.map(|h| instance.store.data_mut().table.push(h)) {
            None => None,
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => return (None, Err(self.host_err(e.to_string()))),
        };
        let rep = lent.as_ref().map(Resource::rep);
        let deadline = self.settings.deadline;
        instance.store.data_mut().deadline = Instant::now() + deadline;
        instance.store.data_mut().lent = 0;
        instance.store.data_mut().trace = super::host::CallBudget::new();
        instance.store.set_epoch_deadline(self.deadline_ticks());
        // Guest code is stopped by the epoch deadline, and the host calls that can wait
        // (the body, outbound HTTP) stop at the same deadline themselves (`host::until`).
        // A guest can also wait in WASI (a clock's or a stream's pollable), where neither
        // reaches it: the call as a whole ends a little after the deadline. The timer costs
        // nothing to a call that never waits: it is only registered if the call is pending.
        let ends = instance.store.data().deadline + CALL_GRACE;
        let result =
            match tokio::time::timeout_at(ends.into(), invoke(&mut instance, call, rep)).await {
                Ok(result) => result,
                Err(_) => Err(wasmtime::Error::new(HostDeadline(
                    "a wait in WASI (a clock or a stream)",
                ))),
            };
        let table = &mut instance.store.data_mut().table;
        let mut handle = lent.and_then(|res| table.delete(res).ok());
        if let Some(h) = handle.as_mut() {
            h.reclaim(table);
        }
        let kept_lent = instance.store.data().lent > 0;
        match result {
            Ok(outcome) => {
                if kept_lent {
                    tracing::warn!(
                        plugin = %self.name(),
                        "the plugin kept a request handle past its call; instance discarded"
                    );
                } else {
                    self.put_back(instance);
                }
                (handle, Ok(outcome))
            }
            // The instance may be in any state: it is dropped, never reused.
            Err(e) => {
                let failure = self.failure(&e, instance.store.data());
                (handle, Err(self.call_err(failure)))
            }
        }
    }

    /// Runs a request phase. An authorizer runs in the authorize phase only and its
    /// decision becomes the verdict: allow sets the identity and continues; deny and
    /// unauthorized are the pipeline's to answer. The handle always comes back, even when
    /// the call fails.
    pub async fn on_request(
        &self,
        phase: RequestPhase,
        handle: RequestHandle,
    ) -> (Option<RequestHandle>, Result<Verdict, PluginError>) {
        let call = match (&self.kind(), phase) {
            (super::Kind::Filter, p) => Call::Request(p),
            (super::Kind::Authorizer, RequestPhase::Authorize) => Call::Authorize,
            _ => return (Some(handle), Ok(Verdict::Continue)),
        };
        let mut cache_key = None;
        let mut handle = handle;
        if let (Call::Authorize, Some(decisions)) = (&call, &self.decisions) {
            let Some(key) = decisions.key(&handle) else {
                return (Some(handle), Ok(Verdict::Unauthorized));
            };
            if let Some(hit) = decisions.get(&key) {
                decisions.count(true);
                let action = match hit {
                    Cached::Allow(identity, edits) => {
                        replay(&mut handle, &edits);
                        handle.identity = Some(identity);
                        Verdict::Continue
                    }
                    Cached::Deny => Verdict::Deny,
                    Cached::Unauthorized => Verdict::Unauthorized,
                };
                return (Some(handle), Ok(action));
            }
            decisions.count(false);
            handle.header_log = Some(Vec::new());
            cache_key = Some(key);
        }
        let (mut back, result) = self.run(Some(handle), call).await;
        if let (Some(key), Ok(Outcome::Decision(d)), Some(decisions)) =
            (cache_key, &result, &self.decisions)
        {
            let edits = back
                .as_mut()
                .and_then(|h| h.header_log.take())
                .unwrap_or_default();
            decisions.put(key, d, edits);
        }
        let result = result.map(|outcome| match outcome {
            Outcome::Action(a) => a.into(),
            Outcome::Decision(Decision::Allow(grant)) => {
                if let Some(h) = back.as_mut() {
                    // Usage plans meter by the usage key, or else the principal.
                    let usage_key = grant.usage_key.unwrap_or_else(|| grant.principal.clone());
                    h.identity = Some(Identity {
                        principal: grant.principal,
                        claims: grant.context,
                        usage_key: Some(usage_key),
                    });
                }
                Verdict::Continue
            }
            Outcome::Decision(Decision::Deny) => Verdict::Deny,
            Outcome::Decision(Decision::Unauthorized) => Verdict::Unauthorized,
            Outcome::Response(r) => Verdict::Respond(r),
            Outcome::Selection(_) => Verdict::Continue,
        });
        (back, result)
    }

    /// Runs a response phase.
    pub async fn on_response(
        &self,
        phase: ResponsePhase,
        handle: ResponseHandle,
    ) -> (Option<ResponseHandle>, Result<Action, PluginError>) {
        if self.kind() != super::Kind::Filter {
            return (Some(handle), Ok(Action::Continue));
        }
        let (back, result) = self.run(Some(handle), Call::Response(phase)).await;
        let result = result.map(|outcome| match outcome {
            Outcome::Action(a) => a,
            Outcome::Response(r) => Action::Respond(r),
            Outcome::Decision(_) | Outcome::Selection(_) => Action::Continue,
        });
        (back, result)
    }

    /// Runs a function plugin: it produces the response. Only through
    /// [`super::worlds::Function`], made for function plugins alone.
    pub(super) async fn handle(
        &self,
        handle: RequestHandle,
    ) -> (Option<RequestHandle>, Result<Response, PluginError>) {
        let (back, result) = self.run(Some(handle), Call::Handle).await;
        let result = result.and_then(|outcome| match outcome {
            Outcome::Response(r) => Ok(r),
            _ => Err(self.host_err("the function gave no response")),
        });
        (back, result)
    }

    /// Runs the message router's `select-route` on one message. Only through
    /// [`super::worlds::RouterPlugin`], made for message routers alone.
    pub(super) async fn select_route(
        &self,
        message: RouterMessage,
    ) -> Result<Selection, PluginError> {
        let call = Call::SelectRoute(message.into());
        match self.run(None::<NoHandle>, call).await.1? {
            Outcome::Selection(s) => Ok(s.into()),
            _ => Err(self.host_err("the message router gave no selection")),
        }
    }
}

/// Calls the hook; `rep` is the handle lent for the hooks that borrow one.
async fn invoke(
    instance: &mut PluginInstance,
    call: Call,
    rep: Option<u32>,
) -> wasmtime::Result<Outcome> {
    let store = &mut instance.store;
    match (&instance.bindings, call, rep) {
        (Bindings::Filter(b), Call::Request(phase), Some(rep)) => b
            .call_on_request(store, phase, Resource::new_borrow(rep))
            .await
            .map(Outcome::Action),
        (Bindings::Filter(b), Call::Response(phase), Some(rep)) => b
            .call_on_response(store, phase, Resource::new_borrow(rep))
            .await
            .map(Outcome::Action),
        (Bindings::Authorizer(b), Call::Authorize, Some(rep)) => b
            .call_authorize(store, Resource::new_borrow(rep))
            .await
            .map(Outcome::Decision),
        (Bindings::Function(b), Call::Handle, Some(rep)) => b
            .call_handle(store, Resource::new_borrow(rep))
            .await
            .map(Outcome::Response),
        (Bindings::MessageRouter(b), Call::SelectRoute(message), None) => b
            .call_select_route(store, &message)
            .await
            .map(Outcome::Selection),
        _ => Err(wasmtime::Error::msg("the plugin has no such hook")),
    }
}
