use super::*;

fn code(s: &str) -> Code {
    Code::new(s).unwrap()
}

fn read(status: SlotStatus, code: ReportedCode, read_back: bool) -> SlotReading {
    SlotReading {
        slot: 3,
        status,
        code,
        read_back,
    }
}

#[test]
fn a_code_keeps_its_leading_zero_and_never_prints_its_digits() {
    let c = code("0427");
    assert_eq!(c.expose(), "0427");
    assert_eq!(format!("{c:?}"), "Code(****)");
    let cmd = LockCommand::SetCode {
        slot: 1,
        code: c,
        code_use: CodeUse::Access,
        enabled: true,
    };
    assert!(!format!("{cmd:?}").contains("0427"));
    let reported = ReportedCode::Exact("0427".into());
    assert!(!format!("{reported:?}").contains("0427"));
}

#[test]
fn a_code_is_four_to_ten_ascii_digits() {
    assert_eq!(Code::new("123"), Err(CodeError::Length));
    assert_eq!(Code::new("12345678901"), Err(CodeError::Length));
    assert_eq!(Code::new("12a4"), Err(CodeError::NotDigits));
    assert_eq!(Code::new("١٢٣٤"), Err(CodeError::NotDigits));
    assert_eq!(Code::new(" 1234"), Err(CodeError::NotDigits));
    assert!(Code::new("1234567890").is_ok());
}

#[test]
fn commands_name_their_slot() {
    assert_eq!(LockCommand::ClearSlot { slot: 7 }.slot(), Some(7));
    assert_eq!(LockCommand::ReadSlot { slot: 0 }.slot(), Some(0));
    assert_eq!(LockCommand::Unlock.slot(), None);
    assert!(!LockCommand::ReadSlot { slot: 0 }.writes_code());
}

#[test]
fn a_read_back_with_the_same_digits_is_set() {
    let p = LockProfile::ZWAVE;
    let r = read(
        SlotStatus::Enabled,
        ReportedCode::Exact("0427".into()),
        true,
    );
    assert_eq!(
        p.judge(&code("0427"), true, &r),
        Verdict::Held(CodeHeld::Set)
    );
    // `427` is not `0427`.
    let r = read(SlotStatus::Enabled, ReportedCode::Exact("427".into()), true);
    assert_eq!(p.judge(&code("0427"), true, &r), Verdict::Wrong);
}

#[test]
fn a_masked_read_back_is_assumed_never_set() {
    let be469 = LockProfile::for_model(Protocol::ZWave, Some("Schlage"), Some("BE469ZP"), false);
    assert_eq!(be469.confirms, Confirms::MaskedReadBack);
    assert_eq!(be469.held_as(), CodeHeld::Assumed);
    let r = read(SlotStatus::Enabled, ReportedCode::Masked, true);
    assert_eq!(
        be469.judge(&code("0427"), true, &r),
        Verdict::Held(CodeHeld::Assumed)
    );
    // An unknown Z-Wave lock that answers only the status is assumed too.
    let r = read(SlotStatus::Enabled, ReportedCode::NotReported, true);
    assert_eq!(
        LockProfile::ZWAVE.judge(&code("0427"), true, &r),
        Verdict::Held(CodeHeld::Assumed)
    );
}

#[test]
fn an_echo_proves_nothing_on_a_lock_that_is_read_back() {
    let r = read(
        SlotStatus::Enabled,
        ReportedCode::Exact("0427".into()),
        false,
    );
    assert_eq!(
        LockProfile::ZWAVE.judge(&code("0427"), true, &r),
        Verdict::Unproven
    );
}

#[test]
fn an_empty_slot_or_the_wrong_status_means_write_again() {
    for p in [LockProfile::ZIGBEE, LockProfile::ZWAVE] {
        let empty = read(SlotStatus::Empty, ReportedCode::NotReported, true);
        assert_eq!(p.judge(&code("5190"), true, &empty), Verdict::NotLanded);
        let disabled = read(SlotStatus::Disabled, ReportedCode::NotReported, true);
        assert_eq!(p.judge(&code("5190"), true, &disabled), Verdict::Wrong);
        let enabled = read(SlotStatus::Enabled, ReportedCode::NotReported, true);
        assert_eq!(p.judge(&code("5190"), false, &enabled), Verdict::Wrong);
    }
}

#[test]
fn a_zigbee_slot_status_confirms_as_it_always_has() {
    let p = LockProfile::for_model(Protocol::Zigbee, Some("Yale"), Some("YRD226"), false);
    assert_eq!(p, LockProfile::ZIGBEE);
    assert_eq!(p.held_as(), CodeHeld::Set);
    let r = read(SlotStatus::Enabled, ReportedCode::NotReported, false);
    assert_eq!(
        p.judge(&code("5190"), true, &r),
        Verdict::Held(CodeHeld::Set)
    );
    let r = read(SlotStatus::Disabled, ReportedCode::NotReported, true);
    assert_eq!(
        p.judge(&code("5190"), false, &r),
        Verdict::Held(CodeHeld::Set)
    );
}

#[test]
fn profiles_are_chosen_by_maker_and_model_else_the_protocol_default() {
    let k = LockProfile::for_model(Protocol::ZWave, Some("Kwikset"), Some("914"), false);
    assert_eq!((k.name, k.confirms), ("kwikset-91x", Confirms::ReadBack));
    let y = LockProfile::for_model(Protocol::ZWave, Some("Yale"), Some("YRD256-ZW3"), false);
    assert_eq!(y.slots, Some(250));
    // A model prefix of another maker does not match.
    let other = LockProfile::for_model(Protocol::ZWave, Some("Acme"), Some("BE469"), false);
    assert_eq!(other.name, "zwave");
    assert_eq!(
        LockProfile::for_model(Protocol::ZWave, None, None, true),
        LockProfile {
            sleeping: true,
            ..LockProfile::ZWAVE
        }
    );
    let never = LockProfile {
        confirms: Confirms::Never,
        ..LockProfile::ZWAVE
    };
    assert_eq!(never.held_as(), CodeHeld::Assumed);
}

#[test]
fn pin_lengths_bound_the_codes_a_lock_takes() {
    let l = LockProfile::ZIGBEE.pin_lengths;
    assert!(l.allows(&code("1234")) && l.allows(&code("12345678")));
    assert!(!l.allows(&code("123456789")));
}

#[test]
fn device_addresses_refuse_what_would_make_a_topic_ambiguous() {
    for ok in [
        "linden/1a-entry",
        "front door",
        "a/b/c",
        "sets/x",
        "x/setting",
    ] {
        assert_eq!(DeviceAddress::parse(ok).unwrap().as_str(), ok);
    }
    let cases: [(&str, AddressError); 10] = [
        ("", AddressError::Empty),
        ("a+b", AddressError::ForbiddenChar),
        ("a#", AddressError::ForbiddenChar),
        ("a\u{0}b", AddressError::ForbiddenChar),
        ("/a", AddressError::EmptySegment),
        ("a//b", AddressError::EmptySegment),
        ("a/", AddressError::EmptySegment),
        ("bridge/x", AddressError::Reserved),
        ("x/availability", AddressError::Reserved),
        ("x/set/state", AddressError::Reserved),
    ];
    for (name, err) in cases {
        assert_eq!(DeviceAddress::parse(name), Err(err), "{name:?}");
    }
    let long = "x".repeat(MAX_ADDRESS_BYTES + 1);
    assert!(matches!(
        DeviceAddress::parse(&long),
        Err(AddressError::TooLong { .. })
    ));
    assert!(DeviceAddress::parse(&long[1..]).is_ok());
}
