//! Group commit for remote commands: concurrent requests are recorded in one transaction, so a
//! building full of phones does not queue behind one disk flush each. Every command is still
//! durable, with its audit event, before it is sent.

use std::sync::OnceLock;

use jiff::Timestamp;
use latchkey_core::{DoorId, PersonId, PropertyId};
use latchkey_store::audit::NewEvent;
use latchkey_store::devices::{self as repo, LockCommand};
use tokio::sync::{mpsc, oneshot};

use crate::{App, AppError, Result};

/// Most commands recorded in one transaction.
const BATCH: usize = 256;

pub(crate) struct NewCommand {
    pub door: DoorId,
    pub property: PropertyId,
    pub action: &'static str,
    /// Who asked; `None` when latchkey sends it on its own (a passage door's lock that came
    /// back).
    pub by: Option<PersonId>,
    pub at: Timestamp,
    pub deadline: Timestamp,
    /// The audit event's kind and data; the command id is added to the data.
    pub kind: &'static str,
    pub data: serde_json::Value,
    /// Messages to queue with the command (the household told of an opening); the command id
    /// is added to each body.
    pub tell: Vec<latchkey_store::lockout::Notification>,
    pub reply: oneshot::Sender<Result<LockCommand>>,
}

#[derive(Default)]
pub(crate) struct CommandWriter {
    tx: OnceLock<mpsc::Sender<NewCommand>>,
}

impl App {
    /// Records a command and its audit event, together with whatever other commands are
    /// waiting, and returns it once committed.
    pub(crate) async fn record_command(&self, mut c: NewCommand) -> Result<LockCommand> {
        let (reply, answer) = oneshot::channel();
        c.reply = reply;
        let sender = self.bridge().writer.tx.get_or_init(|| {
            let (tx, rx) = mpsc::channel(4 * BATCH);
            tokio::spawn(write_loop(self.clone(), rx));
            tx
        });
        sender
            .send(c)
            .await
            .map_err(|_| AppError::Internal("the command writer stopped".into()))?;
        answer
            .await
            .map_err(|_| AppError::Internal("the command writer dropped a command".into()))?
    }
}

async fn write_loop(app: App, mut rx: mpsc::Receiver<NewCommand>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        match write(&app, &batch).await {
            Ok(cmds) => {
                for (c, cmd) in batch.into_iter().zip(cmds) {
                    let _ = c.reply.send(Ok(cmd));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                tracing::error!(error = %e, "recording remote commands failed");
                for c in batch {
                    let _ = c.reply.send(Err(AppError::Internal(msg.clone())));
                }
            }
        }
    }
}

async fn write(app: &App, batch: &[NewCommand]) -> Result<Vec<LockCommand>> {
    let mut tx = app.store().write().await?;
    // One statement for the batch's commands: on SQLite every statement is a trip to the
    // connection's thread and back (docs/ARCHITECTURE.md, decision 95).
    let rows: Vec<repo::NewCommand<'_>> = batch
        .iter()
        .map(|c| repo::NewCommand {
            door: c.door,
            action: c.action,
            by: c.by,
            at: c.at,
            deadline: c.deadline,
        })
        .collect();
    let cmds = repo::create_commands(tx.conn(), &rows).await?;
    let mut events = Vec::with_capacity(batch.len());
    for (c, cmd) in batch.iter().zip(&cmds) {
        let mut data = c.data.clone();
        if let Some(map) = data.as_object_mut() {
            map.insert("command".into(), serde_json::json!(cmd.id));
        }
        if !c.tell.is_empty() {
            let mut tell = c.tell.clone();
            for n in &mut tell {
                if let Some(map) = n.body.as_object_mut() {
                    map.insert("command".into(), serde_json::json!(cmd.id));
                }
            }
            latchkey_store::lockout::queue(tx.conn(), &tell).await?;
        }
        events.push(
            NewEvent::new(c.kind, format!("door:{}", c.door))
                .property(c.property)
                .actor(c.by)
                .data(data),
        );
    }
    let at = batch.last().map_or_else(|| app.now(), |c| c.at);
    app.commit_at(tx, events, at).await?;
    Ok(cmds)
}
