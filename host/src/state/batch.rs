//! Request coalescing for Redis: checks that are ready to go at the same moment are sent as
//! one pipeline (one write, one read) instead of one write each. The first check to arrive
//! leads: it yields once, so that every other request task ready to run gets to add its
//! check, then sends the whole batch and hands each answer back. A leader dropped before
//! it sends passes the batch to a task of its own, so no check is left waiting.

use std::sync::{Arc, Mutex};

use ::redis::{Cmd, ErrorKind, RedisError, Value};
use tokio::sync::oneshot;

use super::conn::Conn;

/// A check's answer, or why there is none (the error kind, and its text).
pub type Answer = Result<Value, (ErrorKind, String)>;

struct Pending {
    cmd: Cmd,
    reply: oneshot::Sender<Answer>,
}

/// Checks waiting for the next pipeline.
#[derive(Default)]
pub struct Batcher {
    queue: Mutex<Vec<Pending>>,
}

impl Batcher {
    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `cmd` with whatever else is ready, on `conn`, and waits for its answer.
    pub async fn send(self: &Arc<Self>, conn: Conn, cmd: Cmd) -> Answer {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut q = self.queue();
            q.push(Pending { cmd, reply });
            q.len() == 1
        };
        if lead {
            let leader = Leader(Some((Arc::clone(self), conn)));
            tokio::task::yield_now().await;
            drop(leader);
        }
        answer
            .await
            .unwrap_or_else(|_| Err((ErrorKind::Client, "the batch was dropped".into())))
    }
}

/// The leader's hold on the batch: when it ends (after the yield, or when the leader is
/// dropped during it), a task of its own sends the batch, so that a request that goes away
/// never takes the others' answers with it.
struct Leader(Option<(Arc<Batcher>, Conn)>);

impl Drop for Leader {
    fn drop(&mut self) {
        if let Some((batcher, conn)) = self.0.take() {
            tokio::spawn(run(batcher, conn));
        }
    }
}

/// Sends every queued check as one pipeline and answers each.
async fn run(batcher: Arc<Batcher>, mut conn: Conn) {
    let batch = std::mem::take(&mut *batcher.queue());
    if batch.is_empty() {
        return;
    }
    let mut pipe = ::redis::pipe();
    pipe.ignore_errors();
    let mut replies = Vec::with_capacity(batch.len());
    for p in batch {
        pipe.add_command(p.cmd);
        replies.push(p.reply);
    }
    match pipe.query_async::<Vec<Value>>(&mut conn).await {
        Ok(values) => {
            let mut values = values.into_iter();
            for reply in replies {
                let answer = match values.next() {
                    Some(Value::ServerError(e)) => {
                        let e = RedisError::from(e);
                        Err((e.kind(), e.to_string()))
                    }
                    Some(v) => Ok(v),
                    None => Err((ErrorKind::Parse, "a reply is missing".into())),
                };
                let _ = reply.send(answer);
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err((e.kind(), e.to_string())));
            }
        }
    }
}
