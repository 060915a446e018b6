//! The gateway session as a pure state machine: messages, commands and the clock go in,
//! messages to publish and [`ZwaveEvent`]s come out ([`Core::drain`]). No I/O.
//!
//! - Until the first `getNodes` answer, everything but API answers is held (bounded) and then
//!   decoded, so that nothing about a real node is refused as unknown for arriving early.
//! - Commands run one at a time per node, each with at most one request in flight: a sleeping
//!   node's requests wait in the gateway for its wake-up and are not repeated meanwhile.
//! - A node believed dead (status `Dead`, or silent for longer than `stale_after`) is pinged
//!   before a command; a ping that says dead ends every command for `dead_for` at once, so a
//!   dead lock is asked once, not once per command. The health check pings silent nodes.
//! - Echoes of writes, legacy alarm halves and repeats of one operation (the value topic and
//!   the forwarded event of one keypad unlock) are not passed on.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use latchkey_zwave::{
    Availability, Decoder, Inbound, Limits, NodeSummary, Operation, Origin, Outbound, Rejections,
    Report, Request, TopicKind,
};

use super::job::{Action, Input, Job};
use super::{FailReason, JobId, LockNode, Outcome, ZwaveCommand, ZwaveEvent, ZwaveOptions};

/// Counters of what the session dropped, held and sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Messages refused by the decoder (by reason in [`Core::rejections`]).
    pub rejected: u64,
    /// Messages held until the first node list.
    pub held: u64,
    /// Held messages dropped because the hold was full.
    pub held_dropped: u64,
    /// Value updates that kept their previous time: echoes of writes, not passed on.
    pub echoes: u64,
    /// Repeats of an operation within the window, not passed on.
    pub duplicates: u64,
    /// API calls published.
    pub requests: u64,
    /// API answers to calls that were not ours (or came too late).
    pub foreign_answers: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Listing,
    Job(u16),
    Health(u16),
}

#[derive(Debug)]
struct Active {
    job: Job,
    awaiting: Option<String>,
    due: Option<Instant>,
}

#[derive(Debug)]
struct Node {
    info: LockNode,
    heard: Instant,
    /// When a ping last said dead.
    dead_since: Option<Instant>,
    active: Option<Active>,
    queue: VecDeque<Job>,
    health: Option<(String, Instant)>,
    operations: Vec<(Operation, Instant)>,
}

/// The session. See the module docs.
#[derive(Debug)]
pub struct Core {
    opts: ZwaveOptions,
    decoder: Decoder,
    listed: bool,
    listing: Option<(String, Instant)>,
    held: VecDeque<(String, Vec<u8>)>,
    nodes: BTreeMap<u16, Node>,
    /// Commands submitted before the first node list.
    early: Vec<Job>,
    requests: HashMap<String, Purpose>,
    seq: u64,
    next_job: u64,
    gateway: bool,
    driver: bool,
    connected: bool,
    health_due: Instant,
    counters: Counters,
    publish: Vec<Outbound>,
    events: Vec<ZwaveEvent>,
}

fn lock_node(n: &NodeSummary) -> LockNode {
    LockNode {
        id: n.id,
        name: n.name.clone(),
        location: n.location.clone(),
        manufacturer_id: n.manufacturer_id,
        product_type: n.product_type,
        product_id: n.product_id,
        product_label: n.product_label.clone(),
        firmware_version: n.firmware_version.clone(),
        capacity: u16::try_from(n.capacity()).unwrap_or(u16::MAX),
        sleeping: n.sleeping,
        door_lock: n.door_lock,
        auto_relock: n.auto_relock,
        availability: n.status,
    }
}

impl Core {
    /// A session that knows no node yet and is not connected.
    pub fn new(opts: ZwaveOptions, now: Instant) -> Self {
        let decoder = Decoder::new(opts.topics.clone(), Limits::DEFAULT);
        Core {
            health_due: now + opts.health_every,
            opts,
            decoder,
            listed: false,
            listing: None,
            held: VecDeque::new(),
            nodes: BTreeMap::new(),
            early: Vec::new(),
            requests: HashMap::new(),
            seq: 0,
            next_job: 0,
            gateway: true,
            driver: true,
            connected: false,
            counters: Counters::default(),
            publish: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &ZwaveOptions {
        &self.opts
    }

    /// Messages refused, by reason.
    pub fn rejections(&self) -> &Rejections {
        self.decoder.rejections()
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The lock nodes of the last list.
    pub fn lock_nodes(&self) -> Vec<LockNode> {
        self.nodes.values().map(|n| n.info.clone()).collect()
    }

    /// What to publish and what to tell, since the last call.
    pub fn drain(&mut self) -> (Vec<Outbound>, Vec<ZwaveEvent>) {
        (
            std::mem::take(&mut self.publish),
            std::mem::take(&mut self.events),
        )
    }

    /// When [`Core::tick`] next has work.
    pub fn next_due(&self) -> Option<Instant> {
        let jobs = self
            .nodes
            .values()
            .filter_map(|n| n.active.as_ref().and_then(|a| a.due));
        let health = self
            .nodes
            .values()
            .filter_map(|n| n.health.as_ref().map(|h| h.1));
        jobs.chain(health)
            .chain(self.listing.as_ref().map(|l| l.1))
            .chain(self.listed.then_some(self.health_due))
            .min()
    }

    fn online(&self) -> bool {
        self.connected && self.gateway && self.driver
    }

    /// The MQTT session is up (again): ask for the node list.
    pub fn connected(&mut self, now: Instant) {
        self.connected = true;
        self.relist(now);
    }

    /// The MQTT session is down: nothing in flight will be answered.
    pub fn disconnected(&mut self) {
        self.connected = false;
        self.listing = None;
        self.abandon_all();
    }

    /// Submits a command; its outcome comes as [`ZwaveEvent::Outcome`].
    pub fn submit(&mut self, command: ZwaveCommand, now: Instant) -> JobId {
        self.next_job += 1;
        let id = JobId(self.next_job);
        let job = Job::new(id, command);
        if !self.listed {
            self.early.push(job);
        } else {
            self.enqueue(job, now);
        }
        id
    }

    /// Asks the gateway for its nodes again.
    pub fn relist(&mut self, now: Instant) {
        if let Some(id) = self.send(&Request::GetNodes, Purpose::Listing) {
            self.listing = Some((id, now + self.opts.answer_timeout));
        }
    }

    fn send(&mut self, request: &Request, purpose: Purpose) -> Option<String> {
        self.seq += 1;
        let id = format!("lk{}", self.seq);
        match request.encode(&self.opts.topics, &id) {
            Ok(mut out) => {
                // Every request latchkey makes is a single call.
                let first = out.swap_remove(0);
                let id = first.request_id.clone();
                self.publish.push(first);
                self.counters.requests += 1;
                self.requests.insert(id.clone(), purpose);
                Some(id)
            }
            Err(e) => {
                tracing::error!(error = %e, "a Z-Wave request could not be encoded");
                None
            }
        }
    }

    fn outcome(&mut self, job: &Job, outcome: Outcome) {
        self.events.push(ZwaveEvent::Outcome {
            job: job.id,
            node: job.command.node(),
            outcome,
            writes: job.writes,
        });
    }

    fn enqueue(&mut self, mut job: Job, now: Instant) {
        let node_id = job.command.node();
        let online = self.online();
        let (dead_for, stale_after) = (self.opts.dead_for, self.opts.stale_after);
        let Some(node) = self.nodes.get_mut(&node_id) else {
            self.outcome(&job, Outcome::Failed(FailReason::UnknownNode));
            return;
        };
        let info = &node.info;
        let refused = match &job.command {
            ZwaveCommand::SetCode { slot, .. }
            | ZwaveCommand::ClearSlot { slot, .. }
            | ZwaveCommand::ReadSlot { slot, .. }
                if *slot == 0 || *slot > info.capacity =>
            {
                Some(FailReason::NoSuchSlot)
            }
            ZwaveCommand::Lock { .. }
            | ZwaveCommand::Unlock { .. }
            | ZwaveCommand::ReadPosition { .. }
                if !info.door_lock =>
            {
                Some(FailReason::Unsupported)
            }
            ZwaveCommand::SetAutoRelock { .. } if !info.auto_relock => {
                Some(FailReason::Unsupported)
            }
            _ => None,
        };
        if let Some(reason) = refused {
            self.outcome(&job, Outcome::Failed(reason));
            return;
        }
        if node.active.is_some() {
            // The later word on a slot replaces a waiting earlier one in its place in the queue.
            let stale = node
                .queue
                .iter()
                .position(|q| q.command.superseded_by(&job.command));
            let old = match stale {
                Some(i) => Some(std::mem::replace(&mut node.queue[i], job)),
                None => {
                    node.queue.push_back(job);
                    None
                }
            };
            if let Some(old) = old {
                self.outcome(&old, Outcome::Failed(FailReason::Superseded));
            }
            return;
        }
        if !online
            || node
                .dead_since
                .is_some_and(|t| now.duration_since(t) < dead_for)
        {
            self.outcome(&job, Outcome::Offline);
            return;
        }
        let probe = !node.info.sleeping
            && (node.info.availability == Some(Availability::Dead)
                || now.duration_since(node.heard) >= stale_after);
        let action = job.start(probe);
        self.act(node_id, job, action, now);
    }

    /// Carries out a job's action.
    fn act(&mut self, node_id: u16, job: Job, action: Action, now: Instant) {
        let sleeping = self.nodes.get(&node_id).is_some_and(|n| n.info.sleeping);
        let (awaiting, due) = match action {
            Action::Send(request) => {
                let Some(id) = self.send(&request, Purpose::Job(node_id)) else {
                    self.outcome(
                        &job,
                        Outcome::Failed(FailReason::Refused("not encodable".into())),
                    );
                    return self.next(node_id, now);
                };
                let timeout = if sleeping {
                    self.opts.sleeping_answer_timeout
                } else {
                    self.opts.answer_timeout
                };
                (Some(id), Some(now + timeout))
            }
            Action::Wait(d) => (None, Some(now + d)),
            Action::Stay => (None, None),
            Action::Done(outcome) => {
                self.outcome(&job, outcome);
                return self.next(node_id, now);
            }
        };
        if let Some(node) = self.nodes.get_mut(&node_id) {
            node.active = Some(Active { job, awaiting, due });
        }
    }

    /// Starts the node's next queued command (ending at once those that end at once).
    fn next(&mut self, node_id: u16, now: Instant) {
        match self.nodes.get_mut(&node_id) {
            Some(node) => node.active = None,
            None => return,
        }
        loop {
            let Some(node) = self.nodes.get_mut(&node_id) else {
                return;
            };
            if node.active.is_some() {
                return;
            }
            let Some(job) = node.queue.pop_front() else {
                return;
            };
            self.enqueue(job, now);
        }
    }

    /// Feeds the node's active job.
    fn advance(&mut self, node_id: u16, input: Input, now: Instant) {
        let Some(node) = self.nodes.get_mut(&node_id) else {
            return;
        };
        let Some(mut active) = node.active.take() else {
            return;
        };
        let action = active.job.on(input, &self.opts);
        if action == Action::Stay {
            node.active = Some(active);
            return;
        }
        if let Some(id) = active.awaiting.take() {
            self.requests.remove(&id);
        }
        self.act(node_id, active.job, action, now);
    }

    /// Every command in flight or queued ends offline.
    fn abandon_all(&mut self) {
        let ids: Vec<u16> = self.nodes.keys().copied().collect();
        for id in ids {
            let Some(node) = self.nodes.get_mut(&id) else {
                continue;
            };
            let mut jobs: Vec<Job> = node.queue.drain(..).collect();
            if let Some(a) = node.active.take() {
                jobs.insert(0, a.job);
            }
            node.health = None;
            for job in jobs {
                self.outcome(&job, Outcome::Offline);
            }
        }
        self.requests.clear();
    }

    /// Handles one message from the broker.
    pub fn on_message(&mut self, topic: &str, payload: &[u8], now: Instant) {
        let kind = self.decoder.topics().classify(topic);
        if !self.listed && !matches!(kind, Some(TopicKind::ApiResponse { .. })) {
            if kind.is_none() {
                return;
            }
            if self.held.len() >= self.opts.max_held {
                self.counters.held_dropped += 1;
            } else {
                self.counters.held += 1;
                self.held.push_back((topic.to_owned(), payload.to_vec()));
            }
            return;
        }
        let relist = matches!(
            kind,
            Some(TopicKind::Event {
                scope: "controller",
                name: "node_added" | "node_removed"
            })
        );
        match self.decoder.decode(topic, payload) {
            Err(_) => self.counters.rejected += 1,
            Ok(None) => {
                if relist {
                    self.relist(now);
                }
            }
            Ok(Some(inbound)) => self.inbound(inbound, now),
        }
    }

    fn purpose(&mut self, request_id: Option<&String>) -> Option<Purpose> {
        let p = request_id.and_then(|id| self.requests.get(id).copied());
        if p.is_none() {
            self.counters.foreign_answers += 1;
        }
        p
    }

    /// Feeds an answer to the job that asked, if its request is the one in flight.
    fn route(&mut self, request_id: Option<String>, input: Input, now: Instant) {
        match self.purpose(request_id.as_ref()) {
            Some(Purpose::Job(node)) => {
                let current = self.nodes.get(&node).and_then(|n| n.active.as_ref());
                if current.and_then(|a| a.awaiting.as_ref()) == request_id.as_ref() {
                    self.advance(node, input, now);
                }
            }
            Some(Purpose::Health(node)) => {
                if let Some(n) = self.nodes.get_mut(&node) {
                    n.health = None;
                }
                if let Some(id) = &request_id {
                    self.requests.remove(id);
                }
            }
            Some(Purpose::Listing) | None => {}
        }
    }

    fn inbound(&mut self, inbound: Inbound, now: Instant) {
        match inbound {
            Inbound::Nodes {
                request_id, nodes, ..
            } => {
                if let Some(id) = &request_id
                    && self.requests.remove(id).is_some()
                {
                    self.listing = None;
                }
                self.learn(&nodes, now);
            }
            Inbound::Written {
                request_id,
                outcome,
                ..
            } => self.route(request_id, Input::Written(outcome), now),
            Inbound::ReadNothing { request_id, .. } => {
                self.route(request_id, Input::ReadNothing, now);
            }
            Inbound::Pinged {
                request_id,
                node,
                alive,
            } => {
                self.availability(
                    node,
                    if alive {
                        Availability::Alive
                    } else {
                        Availability::Dead
                    },
                    now,
                );
                if let Some(n) = self.nodes.get_mut(&node) {
                    if alive {
                        n.heard = now;
                        n.dead_since = None;
                    } else {
                        n.dead_since = Some(now);
                    }
                }
                self.route(request_id, Input::Pinged(alive), now);
            }
            Inbound::Failed {
                api, request_id, ..
            } => {
                if api == latchkey_zwave::Api::GetNodes {
                    return;
                }
                self.route(request_id, Input::Failed, now);
            }
            Inbound::Done { request_id, .. } => {
                if let Some(id) = request_id {
                    self.requests.remove(&id);
                }
            }
            Inbound::GatewayOnline(up) => self.gateway_state(Some(up), None, now),
            Inbound::DriverReady(up) => self.gateway_state(None, Some(up), now),
            Inbound::Node {
                node,
                report,
                origin,
            } => self.node_report(node, report, origin, now),
        }
    }

    fn gateway_state(&mut self, gateway: Option<bool>, driver: Option<bool>, now: Instant) {
        let before = self.gateway && self.driver;
        self.gateway = gateway.unwrap_or(self.gateway);
        self.driver = driver.unwrap_or(self.driver);
        let after = self.gateway && self.driver;
        if before == after {
            return;
        }
        self.events.push(ZwaveEvent::Gateway { online: after });
        if after {
            self.relist(now);
        } else {
            self.abandon_all();
        }
    }

    fn learn(&mut self, nodes: &[NodeSummary], now: Instant) {
        let locks: Vec<&NodeSummary> = nodes.iter().filter(|n| n.is_lock()).collect();
        let gone: Vec<u16> = self
            .nodes
            .keys()
            .filter(|id| !locks.iter().any(|n| n.id == **id))
            .copied()
            .collect();
        for id in gone {
            if let Some(mut node) = self.nodes.remove(&id) {
                let jobs = node
                    .active
                    .take()
                    .map(|a| a.job)
                    .into_iter()
                    .chain(node.queue.drain(..));
                for job in jobs.collect::<Vec<_>>() {
                    self.outcome(&job, Outcome::Failed(FailReason::UnknownNode));
                }
            }
        }
        for n in locks {
            let info = lock_node(n);
            match self.nodes.get_mut(&n.id) {
                Some(node) => node.info = info,
                None => {
                    self.nodes.insert(
                        n.id,
                        Node {
                            info,
                            heard: now,
                            dead_since: None,
                            active: None,
                            queue: VecDeque::new(),
                            health: None,
                            operations: Vec::new(),
                        },
                    );
                }
            }
        }
        let listed = self.lock_nodes();
        self.events.push(ZwaveEvent::Nodes(listed));
        if !self.listed {
            self.listed = true;
            let held: Vec<_> = self.held.drain(..).collect();
            for (topic, payload) in held {
                self.on_message(&topic, &payload, now);
            }
            for job in std::mem::take(&mut self.early) {
                self.enqueue(job, now);
            }
        }
    }

    fn availability(&mut self, node_id: u16, a: Availability, now: Instant) {
        let Some(node) = self.nodes.get_mut(&node_id) else {
            return;
        };
        if matches!(a, Availability::Alive | Availability::Awake) {
            node.heard = now;
            node.dead_since = None;
        }
        if node.info.availability == Some(a) {
            return;
        }
        node.info.availability = Some(a);
        self.events.push(ZwaveEvent::Report {
            node: node_id,
            report: Report::Availability(a),
        });
    }

    fn node_report(&mut self, node_id: u16, report: Report, origin: Origin, now: Instant) {
        if !self.nodes.contains_key(&node_id) {
            return;
        }
        let read_by = match origin {
            Origin::Echo { .. } => {
                self.counters.echoes += 1;
                return;
            }
            Origin::ReadBack { request_id } => Some(request_id),
            Origin::Update { .. } | Origin::Event => None,
        };
        match &report {
            Report::Availability(a) => {
                // A `Dead` status (perhaps retained, perhaps old) makes the next command ping
                // first; only a ping's answer stops commands for `dead_for`.
                self.availability(node_id, *a, now);
                return;
            }
            Report::LegacyAlarmType(_) | Report::LegacyAlarmLevel(_) => return,
            Report::Operation(op) => {
                let window = self.opts.dedupe_window;
                if let Some(n) = self.nodes.get_mut(&node_id) {
                    n.operations
                        .retain(|(_, t)| now.duration_since(*t) < window);
                    if n.operations.iter().any(|(o, _)| o == op) {
                        self.counters.duplicates += 1;
                        return;
                    }
                    n.operations.push((*op, now));
                }
            }
            _ => {}
        }
        if let Some(n) = self.nodes.get_mut(&node_id) {
            n.heard = now;
        }
        // The report goes out before the outcome it may bring: a jam reaches ingestion while
        // the command it answers is still waiting, so the two are one event.
        if !matches!(report, Report::LastActive { .. }) {
            self.events.push(ZwaveEvent::Report {
                node: node_id,
                report: report.clone(),
            });
        }
        match read_by {
            Some(request_id) => self.route(request_id, Input::Read(report), now),
            None => self.advance_on_report(node_id, &report, now),
        }
    }

    fn advance_on_report(&mut self, node_id: u16, report: &Report, now: Instant) {
        let waiting = self
            .nodes
            .get(&node_id)
            .and_then(|n| n.active.as_ref())
            .is_some_and(|a| a.awaiting.is_none() || a.job.step == super::job::Step::ReadPosition);
        if waiting {
            self.advance(node_id, Input::NodeReport(report.clone()), now);
        }
    }

    /// Runs timers: job waits and answer timeouts, listing retries, the health check.
    pub fn tick(&mut self, now: Instant) {
        if let Some((id, due)) = &self.listing
            && *due <= now
        {
            self.requests.remove(id);
            self.listing = None;
            if self.connected {
                self.relist(now);
            }
        }
        let due: Vec<u16> = self
            .nodes
            .iter()
            .filter(|(_, n)| {
                n.active
                    .as_ref()
                    .and_then(|a| a.due)
                    .is_some_and(|d| d <= now)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let timed_out = self
                .nodes
                .get(&id)
                .and_then(|n| n.active.as_ref())
                .is_some_and(|a| a.awaiting.is_some());
            self.advance(
                id,
                if timed_out {
                    Input::Timeout
                } else {
                    Input::Timer
                },
                now,
            );
        }
        for n in self.nodes.values_mut() {
            if n.health.as_ref().is_some_and(|h| h.1 <= now)
                && let Some((id, _)) = n.health.take()
            {
                self.requests.remove(&id);
            }
        }
        if self.listed && self.health_due <= now {
            self.health_due = now + self.opts.health_every;
            if self.online() {
                self.health(now);
            }
        }
    }

    /// Pings every awake lock that has been silent for `stale_after` and is not busy.
    fn health(&mut self, now: Instant) {
        let stale: Vec<u16> = self
            .nodes
            .iter()
            .filter(|(_, n)| {
                !n.info.sleeping
                    && n.active.is_none()
                    && n.health.is_none()
                    && now.duration_since(n.heard) >= self.opts.stale_after
                    && n.dead_since
                        .is_none_or(|t| now.duration_since(t) >= self.opts.dead_for)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            if let Some(rid) = self.send(&Request::Ping { node: id }, Purpose::Health(id))
                && let Some(n) = self.nodes.get_mut(&id)
            {
                n.health = Some((rid, now + self.opts.answer_timeout));
            }
        }
    }

    /// How long until `due`, for a caller that sleeps.
    pub fn until_due(&self, now: Instant) -> Option<Duration> {
        self.next_due().map(|d| d.saturating_duration_since(now))
    }
}
