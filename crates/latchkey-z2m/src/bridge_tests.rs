use super::*;

fn limits() -> Limits {
    Limits::default()
}

const DEVICES: &str = r#"[
  {"ieee_address":"0x00124b0000000001","friendly_name":"Coordinator","type":"Coordinator",
   "supported":true,"disabled":false,"interview_state":"SUCCESSFUL"},
  {"ieee_address":"0x000d6f0012345678","friendly_name":"front_door","type":"EndDevice",
   "power_source":"Battery","supported":true,"disabled":false,"interview_state":"SUCCESSFUL",
   "model_id":"YRD256 TSDB","manufacturer":"Yale",
   "definition":{"model":"YRD256HA20BP","vendor":"Yale","description":"Assure lock SL",
     "exposes":[
       {"type":"lock","features":[
         {"type":"binary","name":"state","property":"state","value_on":"LOCK","value_off":"UNLOCK"},
         {"type":"enum","name":"lock_state","property":"lock_state"}]},
       {"type":"composite","name":"pin_code","property":"pin_code","features":[
         {"type":"numeric","name":"user","property":"user"},
         {"type":"numeric","name":"pin_code","property":"pin_code"}]},
       {"type":"numeric","name":"battery","property":"battery"}]},
   "endpoints":{"1":{"bindings":[{"cluster":"closuresDoorLock","target":{"type":"endpoint"}}]}}},
  {"ieee_address":"0x000d6f00aaaaaaaa","friendly_name":"garage/kwikset","type":"EndDevice",
   "supported":true,"interviewing":true,
   "definition":{"model":"66492-001","vendor":"Kwikset","exposes":[
     {"type":"switch","features":[{"type":"lock","features":[]}]}]}},
  {"ieee_address":"0x000d6f00bbbbbbbb","friendly_name":"plug","disabled":true,
   "definition":{"model":"X","vendor":"Y","exposes":[{"type":"switch"}]}},
  {"ieee_address":"not-an-ieee","friendly_name":"weird"},
  {"ieee_address":"0x000d6f00cccccccc","friendly_name":"bad/set"},
  42
]"#;

#[test]
fn bridge_devices_detects_locks_and_pin_support() {
    let list = DeviceList::parse(DEVICES.as_bytes(), &limits()).expect("valid device list");
    assert_eq!(list.devices.len(), 4);
    assert_eq!(list.warnings.len(), 3, "{:?}", list.warnings);

    let coordinator = &list.devices[0];
    assert!(!coordinator.is_lock);
    assert_eq!(coordinator.model, None);
    assert_eq!(coordinator.device_type.as_deref(), Some("Coordinator"));

    let yale = &list.devices[1];
    assert_eq!(yale.ieee_address, "0x000d6f0012345678");
    assert_eq!(yale.friendly_name, "front_door");
    assert_eq!(yale.model.as_deref(), Some("YRD256HA20BP"));
    assert_eq!(yale.vendor.as_deref(), Some("Yale"));
    assert!(yale.is_lock);
    assert!(yale.has_pin_code);
    assert_eq!(yale.power_source.as_deref(), Some("Battery"));
    assert_eq!(yale.supported, Some(true));
    assert!(!yale.disabled);
    assert_eq!(yale.interview_state, Some(InterviewState::Successful));

    let kwikset = &list.devices[2];
    assert_eq!(kwikset.friendly_name, "garage/kwikset");
    assert!(kwikset.is_lock, "lock nested in features");
    assert!(!kwikset.has_pin_code);
    assert_eq!(kwikset.interview_state, Some(InterviewState::InProgress));

    let plug = &list.devices[3];
    assert!(!plug.is_lock);
    assert!(plug.disabled);
    assert_eq!(plug.supported, None);
}

#[test]
fn bridge_devices_must_be_an_array_and_may_be_large() {
    assert_eq!(
        DeviceList::parse(b"{}", &limits()),
        Err(ParseError::WrongType {
            expected: "array",
            found: "object"
        })
    );
    let big = format!("[{}]", " ".repeat(100 * 1024));
    assert_eq!(
        DeviceList::parse(big.as_bytes(), &limits()).map(|l| l.devices.len()),
        Ok(0)
    );
    let tight = Limits {
        max_devices_payload_bytes: 10,
        ..limits()
    };
    assert!(matches!(
        DeviceList::parse(big.as_bytes(), &tight),
        Err(ParseError::TooLarge { .. })
    ));
}

#[test]
fn bridge_events_from_the_reference() {
    let l = limits();
    assert_eq!(
        BridgeEvent::parse(
            br#"{"type":"device_joined","data":{"friendly_name":"0x000d6f0012345678","ieee_address":"0x000d6f0012345678"}}"#,
            &l
        ),
        Ok(BridgeEvent::DeviceJoined {
            ieee_address: "0x000d6f0012345678".into(),
            friendly_name: "0x000d6f0012345678".into()
        })
    );
    assert_eq!(
        BridgeEvent::parse(
            br#"{"type":"device_interview","data":{"friendly_name":"front_door","ieee_address":"0x000d6f0012345678","status":"successful","supported":true,"definition":{"model":"YRD256HA20BP","vendor":"Yale","exposes":[]}}}"#,
            &l
        ),
        Ok(BridgeEvent::DeviceInterview {
            ieee_address: "0x000d6f0012345678".into(),
            friendly_name: "front_door".into(),
            status: InterviewStatus::Successful,
            supported: Some(true)
        })
    );
    assert_eq!(
        BridgeEvent::parse(
            br#"{"type":"device_leave","data":{"ieee_address":"0x000d6f0012345678","friendly_name":"front_door"}}"#,
            &l
        ),
        Ok(BridgeEvent::DeviceLeave {
            ieee_address: "0x000d6f0012345678".into(),
            friendly_name: Some("front_door".into())
        })
    );
    assert_eq!(
        BridgeEvent::parse(
            br#"{"type":"device_announce","data":{"friendly_name":"front_door","ieee_address":"0x000d6f0012345678"}}"#,
            &l
        ),
        Ok(BridgeEvent::DeviceAnnounce {
            ieee_address: "0x000d6f0012345678".into(),
            friendly_name: "front_door".into()
        })
    );
    assert_eq!(
        BridgeEvent::parse(br#"{"type":"device_renamed","data":{}}"#, &l),
        Ok(BridgeEvent::Other {
            event_type: "device_renamed".into()
        })
    );
}

#[test]
fn malformed_bridge_events_are_typed_errors() {
    let l = limits();
    assert_eq!(
        BridgeEvent::parse(br#"{"data":{}}"#, &l),
        Err(ParseError::MissingField { field: "type" })
    );
    assert_eq!(
        BridgeEvent::parse(br#"{"type":"device_joined"}"#, &l),
        Err(ParseError::MissingField { field: "data" })
    );
    assert!(matches!(
        BridgeEvent::parse(
            br#"{"type":"device_joined","data":{"ieee_address":"0x1","friendly_name":"a"}}"#,
            &l
        ),
        Err(ParseError::InvalidField {
            field: "ieee_address",
            ..
        })
    ));
    assert!(matches!(
        BridgeEvent::parse(
            br#"{"type":"device_interview","data":{"ieee_address":"0x000d6f0012345678","friendly_name":"a","status":"done"}}"#,
            &l
        ),
        Err(ParseError::InvalidField {
            field: "status",
            ..
        })
    ));
}

#[test]
fn logging_line_with_a_pin_code_publish_failure() {
    let msg = LogMessage::parse(
        br#"{"level":"error","message":"Publish 'set' 'pin_code' to 'front_door' failed: 'Error: user must be in range for device'","namespace":"z2m"}"#,
        &limits(),
    )
    .expect("valid log line");
    assert_eq!(msg.level, LogLevel::Error);
    assert_eq!(msg.namespace.as_deref(), Some("z2m"));
    assert_eq!(
        msg.publish_failure(),
        Some(PublishFailure {
            verb: PublishVerb::Set,
            attribute: "pin_code".into(),
            device: "front_door".into(),
            error: "Error: user must be in range for device".into()
        })
    );
}

#[test]
fn publish_failure_for_get_and_names_with_slashes_and_quotes() {
    let msg = LogMessage {
        level: LogLevel::Error,
        message: "Publish 'get' 'state' to 'floor1/Bob's door' failed: 'Error: ZCL command 0x000d6f0012345678/1 closuresDoorLock.read([\"lockState\"]) failed (Timeout)'".into(),
        namespace: None,
    };
    let failure = msg.publish_failure().expect("a publish failure");
    assert_eq!(failure.verb, PublishVerb::Get);
    assert_eq!(failure.attribute, "state");
    assert_eq!(failure.device, "floor1/Bob's door");
    assert!(failure.error.ends_with("(Timeout)"));
}

#[test]
fn other_log_lines_are_not_publish_failures() {
    for message in [
        "MQTT publish: topic 'zigbee2mqtt/front_door', payload '{}'",
        "Publish 'toggle' 'state' to 'x' failed: 'e'",
        "Publish 'set' 'pin_code' to 'x'",
        "",
    ] {
        let msg = LogMessage {
            level: LogLevel::Info,
            message: message.into(),
            namespace: None,
        };
        assert_eq!(msg.publish_failure(), None, "{message}");
    }
}

#[test]
fn logging_requires_a_message() {
    assert_eq!(
        LogMessage::parse(br#"{"level":"info"}"#, &limits()),
        Err(ParseError::MissingField { field: "message" })
    );
    let unknown = LogMessage::parse(br#"{"level":"trace","message":"m"}"#, &limits());
    assert_eq!(unknown.map(|m| m.level), Ok(LogLevel::Other));
}

#[test]
fn bridge_state_uses_the_availability_forms() {
    use crate::inbound::Availability;
    assert_eq!(
        Availability::parse(br#"{"state":"online"}"#, &limits()),
        Ok(Availability::Online)
    );
    assert_eq!(
        Availability::parse(b"offline", &limits()),
        Ok(Availability::Offline)
    );
}

#[test]
fn bridge_response_ok_and_error() {
    let ok = BridgeResponse::parse(
        br#"{"status":"ok","data":{"id":"front_door"},"transaction":"abc-1"}"#,
        &limits(),
    )
    .expect("valid response");
    assert_eq!(ok.status, ResponseStatus::Ok);
    assert_eq!(ok.data["id"], "front_door");
    assert_eq!(ok.transaction.as_deref(), Some("abc-1"));
    let err = BridgeResponse::parse(
        br#"{"status":"error","data":{},"error":"Device 'x' does not exist","transaction":7}"#,
        &limits(),
    )
    .expect("valid response");
    assert_eq!(err.status, ResponseStatus::Error);
    assert_eq!(err.error.as_deref(), Some("Device 'x' does not exist"));
    assert_eq!(err.transaction.as_deref(), Some("7"));
    assert_eq!(
        BridgeResponse::parse(br#"{"data":{}}"#, &limits()).map(|r| r.status),
        Err(ParseError::MissingField { field: "status" })
    );
}
