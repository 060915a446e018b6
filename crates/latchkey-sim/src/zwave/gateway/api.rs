//! The gateway's API calls: `getNodes`, `writeValue`, `pollValue`, `pingNode`,
//! `refreshCCValues` and User Code's `sendCommand set`, answered as Z-Wave JS UI does (see the
//! parent module).

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::{BATTERY, Change, DOOR_LOCK, Gateway, Pending, Publish, Refusal, USER_CODE};

impl Gateway {
    pub(super) fn run_api(
        &mut self,
        api: &str,
        body: &Value,
        args: &[Value],
        now: Instant,
        now_ms: u64,
    ) -> Vec<Publish> {
        match api {
            "getNodes" => {
                let nodes = self.nodes_list();
                vec![self.answer(api, body, Ok(Some(nodes)))]
            }
            "pingNode" => {
                let Some(i) = Self::call_node(api, args).and_then(|n| self.index(n)) else {
                    return vec![self.answer(api, body, Err("Node not found".into()))];
                };
                let alive = !self.locks[i].dead;
                let mut out = vec![self.answer(api, body, Ok(Some(json!(alive))))];
                if !alive {
                    out.push(self.node_status(self.locks[i].cfg.id, "Dead", now_ms));
                }
                out
            }
            "refreshCCValues" => {
                let Some(i) = Self::call_node(api, args).and_then(|n| self.index(n)) else {
                    return vec![self.answer(api, body, Err("Node not found".into()))];
                };
                if self.locks[i].dead {
                    let node = self.locks[i].cfg.id;
                    return vec![
                        self.node_status(node, "Dead", now_ms),
                        self.answer(api, body, Err(format!("Node {node} did not respond"))),
                    ];
                }
                let mut out = vec![self.answer(api, body, Ok(None))];
                if args.get(1).and_then(Value::as_u64) == Some(USER_CODE) {
                    for n in 1..=self.locks[i].cfg.capacity {
                        out.extend(self.report_slot(i, n, now_ms));
                    }
                }
                out
            }
            "writeValue" => self.write_value(body, args, now, now_ms),
            "sendCommand" => self.send_command(body, args, now, now_ms),
            "pollValue" => self.poll_value(body, args, now_ms),
            _ => vec![self.answer(api, body, Err("Unknown API".into()))],
        }
    }

    fn nodes_list(&self) -> Value {
        let mut list = vec![
            json!({"id": 1, "name": "", "loc": "", "status": "Alive", "ready": true,
            "isListening": true, "isFrequentListening": false, "isSecure": false, "values": {}}),
        ];
        for (i, l) in self.locks.iter().enumerate() {
            let mut values = Map::new();
            let prefix = format!("{}/{}/", self.settings.prefix, l.cfg.id);
            for (topic, (value, time)) in &self.cache {
                let Some(rest) = topic.strip_prefix(&prefix) else {
                    continue;
                };
                let parts: Vec<&str> = rest.split('/').collect();
                let (cc, property, key) = match parts.as_slice() {
                    [cc, _, property] => (cc, property, None),
                    [cc, _, property, key] => (cc, property, key.parse::<u16>().ok()),
                    _ => continue,
                };
                let cc: u64 = cc.parse().unwrap_or(0);
                let mut id = format!("{cc}-0-{property}");
                let mut v = json!({"id": format!("{}-{id}", l.cfg.id), "nodeId": l.cfg.id, "commandClass": cc,
                    "endpoint": 0, "property": property, "value": value, "lastUpdate": time});
                if let Some(k) = key {
                    id.push_str(&format!("-{k}"));
                    v["propertyKey"] = json!(k);
                }
                values.insert(id, v);
            }
            list.push(json!({
                "id": l.cfg.id, "name": l.cfg.name, "loc": "", "status": self.idle_status(i),
                "available": !l.dead, "ready": true, "failed": l.dead, "isSecure": true,
                "security": "S2_AccessControl", "isListening": false,
                "isFrequentListening": if l.cfg.quirks.sleeping.is_some() { json!(false) } else { json!("1000ms") },
                "manufacturerId": 59, "productType": 1, "productId": 1,
                "productLabel": "Virtual deadbolt", "firmwareVersion": "1.0",
                "interviewStage": "Complete", "values": values,
            }));
        }
        Value::Array(list)
    }

    fn value_target(args: &[Value]) -> Option<(u16, u64, String, Option<u16>)> {
        let id = args.first()?.as_object()?;
        let node = u16::try_from(id.get("nodeId")?.as_u64()?).ok()?;
        let cc = id.get("commandClass")?.as_u64()?;
        let property = id.get("property")?.as_str()?.to_owned();
        let key = match id.get("propertyKey") {
            None | Some(Value::Null) => None,
            Some(k) => Some(u16::try_from(k.as_u64()?).ok()?),
        };
        Some((node, cc, property, key))
    }

    fn write_value(
        &mut self,
        body: &Value,
        args: &[Value],
        now: Instant,
        now_ms: u64,
    ) -> Vec<Publish> {
        let api = "writeValue";
        let Some((node, cc, property, key)) = Self::value_target(args) else {
            return vec![self.answer(api, body, Ok(Some(json!({"status": 2}))))];
        };
        let Some(i) = self.index(node) else {
            return vec![self.answer(api, body, Ok(Some(json!({"status": 2}))))];
        };
        let value = args.get(1).cloned().unwrap_or(Value::Null);
        let change = match self.check_write(i, cc, &property, key, &value) {
            Ok(c) => c,
            Err(Refusal::Invalid(message)) => {
                return vec![self.answer(
                    api,
                    body,
                    Ok(Some(json!({"status": 5, "message": message}))),
                )];
            }
            Err(Refusal::Fail) => {
                return vec![self.answer(api, body, Ok(Some(json!({"status": 2}))))];
            }
        };
        if self.locks[i].dead {
            // zwave-js marks the node dead when the transmission fails; ZUI answers status 2.
            return vec![
                self.node_status(node, "Dead", now_ms),
                self.answer(api, body, Ok(Some(json!({"status": 2})))),
            ];
        }
        let topic = self.topic(node, cc, &property, key);
        if self.locks[i].cfg.quirks.supervised {
            let mut out = vec![self.answer(api, body, Ok(Some(json!({"status": 255}))))];
            out.extend(self.apply(i, change, now, now_ms));
            return out;
        }
        // The echo: the written value at once, with the value's old time.
        let mut out = vec![self.value(topic, value, false, now_ms)];
        out.push(self.answer(api, body, Ok(Some(json!({"status": 254})))));
        let delay = match change {
            Change::Mode(_) => self.settings.actuation,
            _ => self.settings.answer_delay,
        };
        self.pending
            .push((now + delay, Pending::Apply { node, change }));
        out
    }

    /// `sendCommand [{nodeId, commandClass: 99, endpoint}, "set", [userId, status, code]]`: one
    /// User Code Set with the status it names. Its result is the method's: a Supervision result
    /// from a lock that supervises, nothing from one that does not; no value is echoed.
    fn send_command(
        &mut self,
        body: &Value,
        args: &[Value],
        now: Instant,
        now_ms: u64,
    ) -> Vec<Publish> {
        let api = "sendCommand";
        let target = args.first().and_then(Value::as_object);
        let node = target
            .and_then(|t| t.get("nodeId"))
            .and_then(Value::as_u64)
            .and_then(|n| u16::try_from(n).ok());
        let cc = target
            .and_then(|t| t.get("commandClass"))
            .and_then(Value::as_u64);
        let Some(i) = node.and_then(|n| self.index(n)) else {
            return vec![self.answer(api, body, Err("Node not found".into()))];
        };
        if cc != Some(USER_CODE) || args.get(1).and_then(Value::as_str) != Some("set") {
            return vec![self.answer(api, body, Err("Unsupported command".into()))];
        }
        let params = args.get(2).and_then(Value::as_array);
        let parsed = params.and_then(|p| {
            Some((
                u16::try_from(p.first()?.as_u64()?).ok()?,
                u8::try_from(p.get(1)?.as_u64()?).ok()?,
                p.get(2)?.as_str()?.to_owned(),
            ))
        });
        let l = &self.locks[i];
        let Some((slot, status, code)) = parsed.filter(|(slot, status, code)| {
            (1..=l.cfg.capacity).contains(slot)
                && (1..=4).contains(status)
                && (4..=10).contains(&code.len())
        }) else {
            return vec![self.answer(api, body, Err("Invalid arguments".into()))];
        };
        let node = l.cfg.id;
        if l.dead {
            return vec![
                self.node_status(node, "Dead", now_ms),
                self.answer(api, body, Err(format!("Node {node} did not respond"))),
            ];
        }
        let change = Change::CodeAs { slot, status, code };
        if l.cfg.quirks.supervised {
            let mut out = vec![self.answer(api, body, Ok(Some(json!({"status": 255}))))];
            out.extend(self.apply(i, change, now, now_ms));
            return out;
        }
        let due = now + self.settings.answer_delay;
        self.pending.push((due, Pending::Apply { node, change }));
        vec![self.answer(api, body, Ok(None))]
    }

    fn check_write(
        &self,
        i: usize,
        cc: u64,
        property: &str,
        key: Option<u16>,
        value: &Value,
    ) -> Result<Change, Refusal> {
        let l = &self.locks[i];
        let slot = || {
            key.filter(|k| (1..=l.cfg.capacity).contains(k))
                .ok_or(Refusal::Invalid(
                    "The user ID must be between 1 and the number of supported users",
                ))
        };
        match (cc, property) {
            (USER_CODE, "userCode") => {
                let slot = slot()?;
                let code = value
                    .as_str()
                    .ok_or(Refusal::Invalid("The user code must be a string"))?;
                if !(4..=10).contains(&code.len()) {
                    return Err(Refusal::Invalid(
                        "The user code must have a length of 4 to 10 characters",
                    ));
                }
                Ok(Change::Code {
                    slot,
                    code: code.to_owned(),
                })
            }
            (USER_CODE, "userIdStatus") => {
                let slot = slot()?;
                let status = value
                    .as_u64()
                    .and_then(|s| u8::try_from(s).ok())
                    .filter(|s| *s <= 4)
                    .ok_or(Refusal::Invalid("Invalid user ID status"))?;
                // Setting a status needs the code in the gateway's cache.
                let cached =
                    self.cache
                        .get(&self.topic(l.cfg.id, USER_CODE, "userCode", Some(slot)));
                let has_code =
                    cached.is_some_and(|(v, _)| v.as_str().is_some_and(|c| !c.is_empty()));
                if status != 0 && !has_code {
                    return Err(Refusal::Fail);
                }
                Ok(Change::Status { slot, status })
            }
            (DOOR_LOCK, "targetMode") => {
                let mode = value
                    .as_u64()
                    .and_then(|m| u8::try_from(m).ok())
                    .ok_or(Refusal::Invalid("Invalid mode"))?;
                Ok(Change::Mode(mode))
            }
            (DOOR_LOCK, "autoRelockTime") => {
                let s = value
                    .as_u64()
                    .and_then(|m| u16::try_from(m).ok())
                    .ok_or(Refusal::Invalid("Invalid time"))?;
                Ok(Change::AutoRelock(s))
            }
            _ => Err(Refusal::Invalid("No writeable valueId found")),
        }
    }

    fn poll_value(&mut self, body: &Value, args: &[Value], now_ms: u64) -> Vec<Publish> {
        let api = "pollValue";
        let Some((node, cc, property, key)) = Self::value_target(args) else {
            return vec![self.answer(api, body, Err("Invalid valueId".into()))];
        };
        let Some(i) = self.index(node) else {
            return vec![self.answer(api, body, Err(format!("Node {node} not found")))];
        };
        if self.locks[i].dead {
            return vec![
                self.node_status(node, "Dead", now_ms),
                self.answer(
                    api,
                    body,
                    Err(format!("Failed to poll value: node {node} did not respond")),
                ),
            ];
        }
        let l = &self.locks[i];
        let read = match (cc, property.as_str(), key) {
            (USER_CODE, "userIdStatus", Some(n)) => l.slot(n).map(|s| json!(s.status)),
            (USER_CODE, "userCode", Some(n)) => l.slot(n).map(|_| json!(l.reported_code(n))),
            (DOOR_LOCK, "currentMode", None) => Some(json!(l.mode)),
            (DOOR_LOCK, "autoRelockTime", None) => Some(json!(l.auto_relock)),
            (BATTERY, "level", None) => Some(json!(l.battery)),
            _ => None,
        };
        let Some(read) = read else {
            return vec![self.answer(api, body, Err("Value not found".into()))];
        };
        let topic = self.topic(node, cc, &property, key);
        vec![
            self.value(topic, read.clone(), true, now_ms),
            self.answer(api, body, Ok(Some(read))),
        ]
    }
}
