//! A real broker (the embedded rumqttd on port 0), virtual Z-Wave locks behind the virtual
//! Z-Wave JS UI gateway on it, and latchkey's Z-Wave gateway session on its own MQTT session.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_bridge::zwave::{
    JobId, Outcome, ZwaveCommand, ZwaveEvent, ZwaveGateway, ZwaveOptions, session_options, start,
};
use latchkey_mqtt::{BrokerOptions, ConnState, EmbeddedBroker, QoS, Session, SessionOptions};
use latchkey_sim::zwave::{ZwaveLockConfig, ZwaveSimConfig, ZwaveSimHandle, run};
use latchkey_zwave::{Pin, Report, Topics};
use serde_json::Value;
use tokio::sync::mpsc;

/// Generous: a loaded machine must not fail a test by being slow.
pub const WAIT: Duration = Duration::from_secs(60);

pub struct ZRig {
    pub broker: EmbeddedBroker,
    pub sim: ZwaveSimHandle,
    pub gateway: ZwaveGateway,
    pub events: mpsc::Receiver<ZwaveEvent>,
    /// Every event read so far.
    pub seen: Vec<ZwaveEvent>,
    /// A bystander that publishes what the test says (a hand on the keypad, a hostile client).
    pub hand: latchkey_mqtt::SessionHandle,
    /// Every API call the gateway was sent: (api, args).
    pub calls: Arc<Mutex<Vec<(String, Value)>>>,
}

/// Options fit for the virtual locks (which store a write 300 ms after it): short waits.
pub fn quick() -> ZwaveOptions {
    ZwaveOptions {
        settle: Duration::from_millis(500),
        retry_backoff: Duration::from_millis(200),
        position_timeout: Duration::from_secs(5),
        answer_timeout: Duration::from_secs(20),
        ..ZwaveOptions::default()
    }
}

pub fn lock(id: u16, f: impl FnOnce(&mut ZwaveLockConfig)) -> ZwaveLockConfig {
    let mut l = ZwaveLockConfig::new(id, format!("door_{id}"));
    l.capacity = 10;
    f(&mut l);
    l
}

pub async fn connected(state: &mut tokio::sync::watch::Receiver<ConnState>) {
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| *s == ConnState::Connected),
    )
    .await
    .expect("the session connects")
    .expect("the session runs");
}

pub async fn rig(test: &str, locks: Vec<ZwaveLockConfig>, opts: ZwaveOptions) -> ZRig {
    let broker = EmbeddedBroker::start(BrokerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_payload: 16 << 20,
        ..BrokerOptions::default()
    })
    .unwrap();
    // The spy and the hand first, so that no call is missed.
    let mut spy = SessionOptions::new(broker.internal_url(), format!("spy-{test}"));
    spy.subscriptions = vec![("zwave/_CLIENTS/+/api/+/set".into(), QoS::AtLeastOnce)];
    let (hand, mut spied) = Session::start(spy).unwrap();
    connected(&mut hand.state()).await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    {
        let calls = Arc::clone(&calls);
        tokio::spawn(async move {
            while let Some(m) = spied.recv().await {
                let api = m.topic.rsplit('/').nth(1).unwrap_or("").to_owned();
                let body: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
                calls.lock().unwrap().push((api, body["args"].clone()));
            }
        });
    }
    let (sim, _task) = run(ZwaveSimConfig::new(broker.listen_addr().port(), locks));
    assert!(
        sim.connected(Duration::from_secs(10)).await,
        "the virtual gateway connects"
    );
    let (handle, rx) = Session::start(session_options(
        broker.internal_url(),
        &format!("latchkey-{test}"),
        &Topics::default(),
    ))
    .unwrap();
    connected(&mut handle.state()).await;
    let (gateway, events, _task) = start(handle, rx, opts);
    let mut rig = ZRig {
        broker,
        sim,
        gateway,
        events,
        seen: Vec::new(),
        hand,
        calls,
    };
    rig.until(|e| matches!(e, ZwaveEvent::Nodes(_))).await;
    rig
}

impl ZRig {
    /// Reads events until one matches (panics after [`WAIT`]).
    pub async fn until(&mut self, mut f: impl FnMut(&ZwaveEvent) -> bool) -> ZwaveEvent {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let e = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no such event; seen: {:#?}", self.seen))
                .expect("the session runs");
            self.seen.push(e.clone());
            if f(&e) {
                return e;
            }
        }
    }

    /// Reads events for `d`.
    pub async fn drain_for(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            self.seen.push(e);
        }
    }

    pub async fn submit(&self, c: ZwaveCommand) -> JobId {
        self.gateway.submit(c).await.expect("the session runs")
    }

    /// Submits and waits for the outcome: (outcome, writes).
    pub async fn run(&mut self, c: ZwaveCommand) -> (Outcome, u32) {
        let id = self.submit(c).await;
        self.outcome(id).await
    }

    pub async fn outcome(&mut self, id: JobId) -> (Outcome, u32) {
        match self
            .until(|e| matches!(e, ZwaveEvent::Outcome { job, .. } if *job == id))
            .await
        {
            ZwaveEvent::Outcome {
                outcome, writes, ..
            } => (outcome, writes),
            _ => unreachable!(),
        }
    }

    pub fn set_code(node: u16, slot: u16, pin: &str) -> ZwaveCommand {
        ZwaveCommand::SetCode {
            node,
            slot,
            pin: Pin::new(pin).unwrap(),
            status: latchkey_zwave::SlotStatus::Enabled,
        }
    }

    /// API calls about `node` so far: (api, property or "").
    pub fn calls_about(&self, node: u16) -> Vec<(String, String)> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, args)| args[0] == node || args[0]["nodeId"] == node)
            .map(|(api, args)| {
                (
                    api.clone(),
                    args[0]["property"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    /// A hand on the simulator's controls (`latchkey-sim/zwave/<node>/<op>`).
    pub async fn control(&self, node: u16, op: &str, arg: &str) {
        self.publish(&format!("latchkey-sim/zwave/{node}/{op}"), arg.as_bytes())
            .await;
    }

    pub async fn publish(&self, topic: &str, payload: &[u8]) {
        self.hand
            .publish(topic.to_owned(), payload.to_vec(), QoS::AtLeastOnce, false)
            .await
            .unwrap();
    }

    /// The reports about `node` seen so far.
    pub fn reports(&self, node: u16) -> Vec<Report> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                ZwaveEvent::Report { node: n, report } if *n == node => Some(report.clone()),
                _ => None,
            })
            .collect()
    }
}
