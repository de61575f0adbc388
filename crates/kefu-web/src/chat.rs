//! Live chat over WebSockets. Customers connect to `/chat/ws` (no account: a conversation's
//! secret lets a browser resume it); agents to `/api/v1/chat/ws` (signed in, on duty for chat).
//! Every message is stored before its sender gets `ack`, then delivered to the other side; a
//! client that reconnects says the last number it has and gets what came after.
//!
//! Routing: a new conversation waits in a queue (customers are told their position) until an
//! agent who is connected and on duty for chat has room (fewer than
//! [`MAX_CONVERSATIONS_PER_AGENT`] open conversations); the least busy agent gets it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use kefu_store::ContractId;
use kefu_store::UserId;
use kefu_store::chat::{ChatMessage, Sender};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::AppState;
use crate::auth::{Authorized, Staff};
use crate::contracts::{HoursNow, hours_now};

/// Conversations an agent handles at once.
pub const MAX_CONVERSATIONS_PER_AGENT: usize = 3;

type Outbox = mpsc::UnboundedSender<Value>;

/// Who is connected, who waits, who handles what. In memory: one process serves a deployment;
/// the store has the durable truth (messages, states, assignments).
#[derive(Default)]
pub struct ChatHub {
    state: Mutex<HubState>,
    /// The group committer: messages from all sockets, stored a batch per transaction.
    committer: std::sync::OnceLock<mpsc::UnboundedSender<Job>>,
    /// One routing pass at a time: concurrent passes could give one agent two conversations
    /// while another waits, or drop a conversation from the queue.
    routing: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct HubState {
    /// Sockets listening to a conversation (the customer's browser tabs, the agent).
    rooms: HashMap<String, Vec<Outbox>>,
    /// Conversations waiting for an agent, oldest first.
    waiting: VecDeque<String>,
    /// Connected agents: their socket and their open conversations.
    agents: HashMap<UserId, (Outbox, Vec<String>)>,
}

/// A message waiting to be stored, and whom to tell.
struct Job {
    conversation: String,
    sender: Sender,
    agent: Option<UserId>,
    id: String,
    text: String,
    reply: tokio::sync::oneshot::Sender<Result<kefu_store::chat::Appended, String>>,
}

/// Messages that arrive while a transaction commits wait for the next one, which then stores
/// them all: one commit for many messages when traffic is heavy, one for one when it is not.
async fn committer(store: kefu_store::Store, mut rx: mpsc::UnboundedReceiver<Job>) {
    const MAX_BATCH: usize = 256;
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let batch: Vec<kefu_store::chat::NewMessage<'_>> = jobs
            .iter()
            .map(|j| kefu_store::chat::NewMessage {
                conversation: &j.conversation,
                sender: j.sender,
                agent: j.agent,
                client_msg_id: &j.id,
                text: &j.text,
            })
            .collect();
        let results = store.append_messages(&batch).await;
        drop(batch);
        match results {
            Ok(results) => {
                for (job, r) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(r.map_err(|e| e.to_string()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot store chat messages");
                for job in jobs {
                    let _ = job
                        .reply
                        .send(Err("cannot store the message now; send it again".to_owned()));
                }
            }
        }
    }
}

impl ChatHub {
    /// Starts the group committer on the store (once, when the server starts).
    pub fn start(&self, store: kefu_store::Store) {
        let (tx, rx) = mpsc::unbounded_channel();
        if self.committer.set(tx).is_ok() {
            tokio::spawn(committer(store, rx));
        }
    }

    /// Stores a message (committed, possibly with others) and gives its number.
    async fn append(
        &self,
        conversation: &str,
        sender: Sender,
        agent: Option<UserId>,
        id: &str,
        text: &str,
    ) -> Result<kefu_store::chat::Appended, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            conversation: conversation.to_owned(),
            sender,
            agent,
            id: id.to_owned(),
            text: text.to_owned(),
            reply,
        };
        let Some(tx) = self.committer.get() else {
            return Err("the chat store is not running".to_owned());
        };
        tx.send(job)
            .map_err(|_| "the chat store is not running".to_owned())?;
        answer
            .await
            .unwrap_or_else(|_| Err("the chat store stopped".to_owned()))
    }

    fn join(&self, conversation: &str, out: &Outbox) {
        if let Ok(mut s) = self.state.lock() {
            s.rooms
                .entry(conversation.to_owned())
                .or_default()
                .push(out.clone());
        }
    }

    fn publish(&self, conversation: &str, v: &Value) {
        if let Ok(mut s) = self.state.lock()
            && let Some(subs) = s.rooms.get_mut(conversation)
        {
            subs.retain(|o| o.send(v.clone()).is_ok());
        }
    }

    fn positions(&self) {
        if let Ok(mut s) = self.state.lock() {
            let waiting: Vec<String> = s.waiting.iter().cloned().collect();
            for (i, conv) in waiting.iter().enumerate() {
                if let Some(subs) = s.rooms.get_mut(conv) {
                    let v = json!({"type": "queue", "position": i + 1});
                    subs.retain(|o| o.send(v.clone()).is_ok());
                }
            }
        }
    }
}

fn message_json(conversation: &str, m: &ChatMessage) -> Value {
    json!({
        "type": "message",
        "conversation": conversation,
        "seq": m.seq,
        "from": m.sender.as_str(),
        "id": m.client_msg_id,
        "text": m.text,
        "at": m.sent_at.to_string(),
    })
}

/// Hands waiting conversations to agents with room, least busy first.
async fn route(state: &AppState) {
    let _one_at_a_time = state.chat.routing.lock().await;
    loop {
        let pick = {
            let Ok(s) = state.chat.state.lock() else {
                return;
            };
            let Some(conv) = s.waiting.front().cloned() else {
                break;
            };
            let agent = s
                .agents
                .iter()
                .filter(|(_, (_, open))| open.len() < MAX_CONVERSATIONS_PER_AGENT)
                .min_by_key(|(id, (_, open))| (open.len(), **id))
                .map(|(id, (out, _))| (*id, out.clone()));
            match agent {
                Some(a) => (conv, a),
                None => break,
            }
        };
        let (conv, (agent, out)) = pick;
        match state.store.assign_conversation(&conv, agent).await {
            Ok(true) => {}
            // Ended or taken meanwhile: drop it from the queue.
            Ok(false) => {
                if let Ok(mut s) = state.chat.state.lock() {
                    s.waiting.retain(|c| c != &conv);
                }
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot assign a conversation");
                return;
            }
        }
        let history = state
            .store
            .messages_after(&conv, 0)
            .await
            .unwrap_or_default();
        if let Ok(mut s) = state.chat.state.lock() {
            s.waiting.retain(|c| c != &conv);
            if let Some((_, open)) = s.agents.get_mut(&agent) {
                open.push(conv.clone());
            }
            s.rooms.entry(conv.clone()).or_default().push(out.clone());
        }
        let _ = out.send(json!({
            "type": "assigned",
            "conversation": conv,
            "history": history.iter().map(|m| message_json(&conv, m)).collect::<Vec<_>>(),
        }));
        state
            .chat
            .publish(&conv, &json!({"type": "assigned", "conversation": conv}));
    }
    state.chat.positions();
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum CustomerFrame {
    Start {
        contract: String,
    },
    Resume {
        conversation: String,
        token: String,
        after: i64,
    },
    Send {
        id: String,
        text: String,
    },
    Rate {
        score: u8,
    },
    End,
    /// Outside service hours: a message for follow-up instead of a conversation.
    LeaveMessage {
        contract: String,
        id: String,
        name: Option<String>,
        /// A phone number or an email address.
        reach: String,
        text: String,
    },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum AgentFrame {
    Send {
        conversation: String,
        id: String,
        text: String,
    },
    End {
        conversation: String,
    },
}

/// Stores a message, acknowledges it to its sender, and delivers it to the conversation's
/// sockets (once: a resend that was stored before is acknowledged, not delivered again).
async fn send_message(
    state: &AppState,
    out: &Outbox,
    conversation: &str,
    sender: Sender,
    agent: Option<UserId>,
    id: String,
    text: String,
) {
    match state
        .chat
        .append(conversation, sender, agent, &id, &text)
        .await
    {
        Ok(a) => {
            let _ = out
                .send(json!({"type": "ack", "conversation": conversation, "id": id, "seq": a.seq}));
            if !a.duplicate {
                let m = ChatMessage {
                    seq: a.seq,
                    sender,
                    client_msg_id: id,
                    text,
                    sent_at: jiff::Timestamp::now(),
                };
                state
                    .chat
                    .publish(conversation, &message_json(conversation, &m));
            }
        }
        Err(e) => {
            let _ = out.send(error(e));
        }
    }
}

fn error(detail: impl Into<String>) -> Value {
    json!({"type": "error", "detail": detail.into()})
}

/// Pumps an outbox into the socket until either side closes.
fn spawn_writer(mut sink: futures_util::stream::SplitSink<WebSocket, Message>) -> Outbox {
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    tokio::spawn(async move {
        while let Some(v) = rx.recv().await {
            if sink
                .send(Message::Text(v.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    tx
}

pub async fn customer_ws(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| customer_session(state, socket))
}

async fn customer_session(state: AppState, socket: WebSocket) {
    let (sink, mut stream) = socket.split();
    let out = spawn_writer(sink);
    let mut conversation: Option<String> = None;
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Text(text) = msg else {
            continue;
        };
        let frame: CustomerFrame = match serde_json::from_str(&text) {
            Ok(f) => f,
            Err(e) => {
                let _ = out.send(error(format!("not a frame this endpoint knows: {e}")));
                continue;
            }
        };
        match (frame, &conversation) {
            (CustomerFrame::Start { contract }, None) => {
                let id: Option<ContractId> =
                    state.store.contract_id(&contract).await.ok().flatten();
                let Some(cid) = id else {
                    let _ = out.send(error(format!("no contract {contract:?}")));
                    continue;
                };
                let hours = chat_hours(&state, &contract).await;
                if let Some(h) = hours.as_ref().filter(|h| !h.open) {
                    let _ = out.send(json!({
                        "type": "closed",
                        "hours": hours_json(h),
                        "next_opening": h.next_opening,
                        "takes_messages": h.takes_messages,
                    }));
                    continue;
                }
                match state.store.open_conversation(cid).await {
                    Ok(opened) => {
                        let _ = out.send(json!({
                            "type": "welcome",
                            "conversation": opened.id,
                            "token": opened.visitor_token,
                            "hours": hours.as_ref().map(hours_json),
                        }));
                        state.chat.join(&opened.id, &out);
                        if let Ok(mut s) = state.chat.state.lock() {
                            s.waiting.push_back(opened.id.clone());
                        }
                        conversation = Some(opened.id);
                        route(&state).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot open a conversation");
                        let _ = out.send(error("cannot open a conversation now"));
                    }
                }
            }
            (
                CustomerFrame::Resume {
                    conversation: id,
                    token,
                    after,
                },
                None,
            ) => {
                match state.store.visitor_owns(&id, &token).await {
                    Ok(true) => {}
                    _ => {
                        let _ = out.send(error("unknown conversation or wrong token"));
                        continue;
                    }
                }
                // Join first, then replay: a message stored in between is sent twice at worst
                // (the client drops numbers it has), never lost.
                state.chat.join(&id, &out);
                let _ = out.send(json!({"type": "welcome", "conversation": id, "resumed": true}));
                for m in state
                    .store
                    .messages_after(&id, after)
                    .await
                    .unwrap_or_default()
                {
                    let _ = out.send(message_json(&id, &m));
                }
                conversation = Some(id);
            }
            (CustomerFrame::Send { id, text }, Some(conv)) => {
                send_message(&state, &out, conv, Sender::Customer, None, id, text).await;
            }
            (CustomerFrame::Rate { score }, Some(conv)) => {
                match state.store.rate_conversation(conv, score).await {
                    Ok(()) => {
                        let _ = out.send(json!({"type": "rated", "score": score}));
                    }
                    Err(e) => {
                        let _ = out.send(error(e.to_string()));
                    }
                }
            }
            (CustomerFrame::End, Some(conv)) => {
                end(&state, conv).await;
            }
            (
                CustomerFrame::LeaveMessage {
                    contract,
                    id,
                    name,
                    reach,
                    text,
                },
                _,
            ) => {
                leave_message(&state, &out, &contract, &id, name.as_deref(), &reach, &text).await;
            }
            (CustomerFrame::Start { .. } | CustomerFrame::Resume { .. }, Some(_)) => {
                let _ = out.send(error("this connection already has its conversation"));
            }
            (_, None) => {
                let _ = out.send(error("start or resume a conversation first"));
            }
        }
    }
}

/// The chat channel's hours now, if the contract has a chat channel.
async fn chat_hours(state: &AppState, contract: &str) -> Option<HoursNow> {
    let stored = state.contracts.get(&state.store, contract).await.ok()?;
    hours_now(
        &stored,
        kefu_core::contract::ChannelKind::Chat,
        state.contracts.holidays(),
        jiff::Timestamp::now(),
    )
}

fn hours_json(h: &HoursNow) -> Value {
    json!({"zh": h.hours_zh, "en": h.hours_en, "open": h.open})
}

/// Stores a message left outside service hours (committed before `message_left` is sent).
async fn leave_message(
    state: &AppState,
    out: &Outbox,
    contract: &str,
    id: &str,
    name: Option<&str>,
    reach: &str,
    text: &str,
) {
    let Some(contract_id) = state.store.contract_id(contract).await.ok().flatten() else {
        let _ = out.send(error(format!("no contract {contract:?}")));
        return;
    };
    let m = kefu_store::offline::NewOfflineMessage {
        contract_id,
        client_msg_id: id,
        name,
        reach,
        text,
    };
    match state.store.leave_offline_message(&m).await {
        Ok(left) => {
            let _ = out.send(json!({
                "type": "message_left",
                "id": id,
                "reference": left.contact_id.to_string(),
            }));
        }
        Err(kefu_store::StoreError::Invalid(why)) => {
            let _ = out.send(json!({"type": "error", "id": id, "detail": why}));
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot store an offline message");
            let _ = out.send(json!({"type": "error", "id": id, "detail": "cannot store the message now; send it again"}));
        }
    }
}

async fn end(state: &AppState, conv: &str) {
    if let Err(e) = state.store.end_conversation(conv).await {
        tracing::error!(error = %e, "cannot end a conversation");
        return;
    }
    state
        .chat
        .publish(conv, &json!({"type": "ended", "conversation": conv}));
    if let Ok(mut s) = state.chat.state.lock() {
        s.waiting.retain(|c| c != conv);
        for (_, open) in s.agents.values_mut() {
            open.retain(|c| c != conv);
        }
    }
    route(state).await;
}

pub async fn agent_ws(
    auth: Authorized<Staff>,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // A browser signed in by cookie may only open this from our own pages: another site's
    // script could otherwise ride the agent's cookie (cross-site WebSocket hijacking).
    if matches!(auth.user.via, crate::auth::Via::Session { .. }) {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok());
        let origin = headers
            .get(axum::http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .and_then(|o| o.split_once("://").map(|(_, h)| h.to_owned()));
        if origin.is_none() || origin.as_deref() != host {
            return crate::Problem {
                status: axum::http::StatusCode::FORBIDDEN,
                title: "Forbidden",
                detail: "a signed-in browser opens the chat socket from kefu's own pages only"
                    .to_owned(),
            }
            .into_response();
        }
    }
    ws.on_upgrade(move |socket| agent_session(state, auth.user.account.id, socket))
}

async fn agent_session(state: AppState, agent: UserId, socket: WebSocket) {
    let (sink, mut stream) = socket.split();
    let out = spawn_writer(sink);
    let on_duty = state
        .store
        .on_duty_now()
        .await
        .map(|l| {
            l.iter()
                .any(|d| d.user_id == agent && d.channel == kefu_store::Channel::Chat)
        })
        .unwrap_or(false);
    if !on_duty {
        let _ = out.send(error(
            "go on duty for chat first (PUT /api/v1/presence/chat)",
        ));
        return;
    }
    if let Some(reasons) = crate::staff::chat_block(&state, agent).await {
        let _ = out.send(error(reasons));
        return;
    }
    if let Ok(mut s) = state.chat.state.lock() {
        s.agents.insert(agent, (out.clone(), Vec::new()));
    }
    let _ = out.send(json!({"type": "ready"}));
    route(&state).await;
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Text(text) = msg else {
            continue;
        };
        let frame: AgentFrame = match serde_json::from_str(&text) {
            Ok(f) => f,
            Err(e) => {
                let _ = out.send(error(format!("not a frame this endpoint knows: {e}")));
                continue;
            }
        };
        let mine = |conv: &str| {
            state
                .chat
                .state
                .lock()
                .map(|s| {
                    s.agents
                        .get(&agent)
                        .is_some_and(|(_, open)| open.iter().any(|c| c == conv))
                })
                .unwrap_or(false)
        };
        match frame {
            AgentFrame::Send {
                conversation,
                id,
                text,
            } if mine(&conversation) => {
                send_message(
                    &state,
                    &out,
                    &conversation,
                    Sender::Agent,
                    Some(agent),
                    id,
                    text,
                )
                .await;
            }
            AgentFrame::End { conversation } if mine(&conversation) => {
                end(&state, &conversation).await;
            }
            AgentFrame::Send { conversation, .. } | AgentFrame::End { conversation } => {
                let _ = out.send(error(format!("conversation {conversation} is not yours")));
            }
        }
    }
    // The agent left: their open conversations wait again (first in line) for someone else.
    let open = state
        .chat
        .state
        .lock()
        .ok()
        .and_then(|mut s| s.agents.remove(&agent))
        .map(|(_, open)| open)
        .unwrap_or_default();
    for c in open.into_iter().rev() {
        match state.store.release_conversation(&c).await {
            Ok(true) => {
                if let Ok(mut s) = state.chat.state.lock() {
                    s.waiting.push_front(c.clone());
                }
                state
                    .chat
                    .publish(&c, &json!({"type": "waiting", "conversation": c}));
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "cannot release a conversation"),
        }
    }
    route(&state).await;
}

impl ChatHub {
    /// Conversations waiting, and agents connected with how many conversations each has.
    pub fn snapshot(&self) -> (usize, Vec<(UserId, usize)>) {
        self.state
            .lock()
            .map(|s| {
                (
                    s.waiting.len(),
                    s.agents
                        .iter()
                        .map(|(id, (_, open))| (*id, open.len()))
                        .collect(),
                )
            })
            .unwrap_or_default()
    }
}
