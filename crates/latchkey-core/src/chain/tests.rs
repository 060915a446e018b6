// Tests may unwrap: a panic is the failure report (unwrap is refused only on outside input).
#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;

fn key() -> ChainKey {
    ChainKey::new(&[7; 32])
}

/// The logs here are keyed from event 1, as a new installation's are.
fn keying() -> Keying {
    Keying {
        key: key(),
        from: Some(1),
        digested: None,
    }
}

/// An event as latchkey writes it (event 1 is the keying marker).
fn event(seq: i64, prev: &Hash) -> StoredEvent {
    let mut ev = StoredEvent {
        seq,
        at_micros: 1_780_000_000_000_000 + seq * 1_000,
        property: Some(1),
        actor: if seq % 3 == 0 { None } else { Some(seq % 5) },
        kind: if seq == 1 {
            KEYED_MARKER.into()
        } else {
            "access.decision".into()
        },
        subject: format!("door:{}", seq % 4),
        data: format!(r#"{{"decision":"granted","credential":{seq}}}"#),
        prev_hash: prev.to_vec(),
        hash: Vec::new(),
    };
    ev.hash = keying().hash(prev, &ev.body()).to_vec();
    ev
}

fn chain(n: i64) -> Vec<StoredEvent> {
    let mut prev = GENESIS;
    (1..=n)
        .map(|seq| {
            let ev = event(seq, &prev);
            prev = hash_of(&ev);
            ev
        })
        .collect()
}

fn hash_of(ev: &StoredEvent) -> Hash {
    ev.hash.as_slice().try_into().unwrap()
}

fn head(events: &[StoredEvent]) -> Option<(i64, Hash)> {
    events.last().map(|e| (e.seq, hash_of(e)))
}

fn verify(
    events: Vec<StoredEvent>,
    head: Option<(i64, Hash)>,
) -> Result<VerifySummary, ChainBreak> {
    verify_with(keying(), events, head)
}

fn verify_with(
    keying: Keying,
    events: Vec<StoredEvent>,
    head: Option<(i64, Hash)>,
) -> Result<VerifySummary, ChainBreak> {
    let mut v = Verifier::new(keying);
    for ev in events {
        v.push(ev)?;
    }
    v.finish(head)
}

/// Recomputes a row's hash with the key, as someone holding the master key could.
fn rehash(ev: &mut StoredEvent) {
    let prev: Hash = ev.prev_hash.as_slice().try_into().unwrap();
    ev.hash = keying().hash(&prev, &ev.body()).to_vec();
}

fn assert_break(result: Result<VerifySummary, ChainBreak>, kind: BreakKind, seq: i64) {
    match result {
        Ok(s) => panic!("chain verified ({s:?}) but expected {kind:?} at {seq}"),
        Err(b) => assert_eq!((b.kind, b.seq), (kind, seq), "{b}"),
    }
}

#[test]
fn an_intact_chain_verifies_against_its_head() {
    let events = chain(20);
    let h = head(&events);
    let s = verify(events, h).unwrap();
    assert_eq!((s.events, s.last_seq), (20, 20));
    assert_eq!(Some((20, s.head)), h);
    let empty = verify(Vec::new(), None).unwrap();
    assert_eq!((empty.events, empty.last_seq, empty.head), (0, 0, GENESIS));
}

#[test]
fn every_field_changes_the_hash() {
    let base = EventBody {
        seq: 1,
        at_micros: 2,
        property: Some(3),
        actor: None,
        kind: "a",
        subject: "b",
        data: "c",
    };
    let h = hash_event(&GENESIS, &base);
    let variants = [
        EventBody { seq: 2, ..base },
        EventBody {
            at_micros: 3,
            ..base
        },
        EventBody {
            property: None,
            ..base
        },
        EventBody {
            property: Some(0),
            ..base
        },
        EventBody {
            actor: Some(0),
            ..base
        },
        EventBody {
            kind: "ab",
            subject: "",
            ..base
        },
        EventBody {
            subject: "bc",
            data: "",
            ..base
        },
        EventBody {
            kind: "",
            subject: "ab",
            ..base
        },
    ];
    for v in &variants {
        assert_ne!(hash_event(&GENESIS, v), h, "{v:?}");
    }
    assert_ne!(hash_event(&[1; 32], &base), h);
}

#[test]
fn an_edited_field_is_named() {
    let mut events = chain(20);
    events[9].data = r#"{"decision":"denied"}"#.into();
    assert_break(verify(events, None), BreakKind::Edited, 10);
}

#[test]
fn an_edited_and_rehashed_row_is_named() {
    let mut events = chain(20);
    events[9].actor = Some(99);
    rehash(&mut events[9]);
    let h = head(&events);
    let err = verify(events, h).unwrap_err();
    assert_eq!((err.kind, err.seq), (BreakKind::Edited, 10));
    assert!(
        err.to_string().starts_with("event 10 was changed: "),
        "{err}"
    );
}

#[test]
fn an_edited_and_rehashed_last_row_is_caught_by_the_head() {
    let mut events = chain(20);
    let h = head(&events);
    events[19].subject = "door:9".into();
    rehash(&mut events[19]);
    assert_break(verify(events, h), BreakKind::Edited, 20);
}

#[test]
fn a_deleted_middle_row_is_named() {
    let mut events = chain(20);
    events.remove(6);
    assert_break(verify(events, None), BreakKind::Deleted, 7);
}

#[test]
fn a_deleted_last_row_is_caught_by_the_head() {
    let mut events = chain(20);
    let h = head(&events);
    events.pop();
    let err = verify(events, h).unwrap_err();
    assert_eq!((err.kind, err.seq), (BreakKind::Deleted, 20));
    assert!(
        err.to_string().starts_with("event 20 is missing: "),
        "{err}"
    );
}

#[test]
fn an_inserted_row_with_renumbering_is_named() {
    let mut events = chain(20);
    let forged = event(8, &hash_of(&events[6]));
    for ev in &mut events[7..] {
        ev.seq += 1;
    }
    events.insert(7, forged);
    assert_break(verify(events, None), BreakKind::Inserted, 8);
}

#[test]
fn an_inserted_row_whose_successors_are_rehashed_is_still_named() {
    let mut events = chain(20);
    let forged = event(8, &hash_of(&events[6]));
    for ev in &mut events[7..] {
        ev.seq += 1;
        rehash(ev);
    }
    events.insert(7, forged);
    assert_break(verify(events, None), BreakKind::Inserted, 8);
}

#[test]
fn a_row_inserted_without_the_key_is_named_inserted() {
    let mut events = chain(20);
    let mut forged = event(8, &hash_of(&events[6]));
    forged.data = r#"{"decision":"granted","credential":666}"#.into();
    forged.hash = hash_event(&hash_of(&events[6]), &forged.body()).to_vec();
    for ev in &mut events[7..] {
        ev.seq += 1;
    }
    events.insert(7, forged);
    let err = verify(events, None).unwrap_err();
    assert_eq!((err.kind, err.seq), (BreakKind::Inserted, 8), "{err}");
    assert!(
        err.to_string().starts_with("event 8 was inserted: "),
        "{err}"
    );
}

#[test]
fn a_row_appended_past_the_head_is_named() {
    let mut events = chain(20);
    let h = head(&events);
    events.push(event(21, &hash_of(&events[19])));
    assert_break(verify(events, h), BreakKind::Inserted, 21);
}

#[test]
fn two_rows_with_swapped_seq_are_reordered() {
    // Read by seq: the rows themselves trade places.
    let mut events = chain(20);
    events[11].seq = 13;
    events[12].seq = 12;
    events.swap(11, 12);
    assert_break(verify(events, None), BreakKind::Reordered, 12);

    // Far apart.
    let mut events = chain(20);
    events[4].seq = 15;
    events[14].seq = 5;
    events.swap(4, 14);
    assert_break(verify(events, None), BreakKind::Reordered, 5);

    // Read in storage order: the numbers go backwards.
    let mut events = chain(20);
    events.swap(11, 12);
    assert_break(verify(events, None), BreakKind::Reordered, 12);
}

#[test]
fn a_duplicated_seq_is_reordered() {
    let mut events = chain(20);
    let dup = events[4].clone();
    events.insert(5, dup);
    assert_break(verify(events, None), BreakKind::Reordered, 5);
}

#[test]
fn a_broken_link_at_the_start_is_named() {
    let mut events = chain(5);
    events[0].prev_hash = vec![7; 32];
    rehash(&mut events[0]);
    assert_break(verify(events, None), BreakKind::Edited, 1);
    let mut events = chain(5);
    events[0].prev_hash = vec![1, 2, 3];
    assert_break(verify(events, None), BreakKind::Edited, 1);
}

#[test]
fn after_a_break_the_verifier_keeps_reporting_it() {
    let mut events = chain(10);
    events[2].kind = "x".into();
    let mut v = Verifier::new(keying());
    let mut first = None;
    for ev in events {
        if let Err(b) = v.push(ev) {
            first.get_or_insert(b.clone());
            assert_eq!(Some(&b), first.as_ref());
        }
    }
    assert_eq!(v.finish(None).err(), first);
}

#[test]
fn a_break_is_found_far_from_its_cause_within_the_lookahead() {
    let mut events = chain(200);
    events.remove(50);
    let mut v = Verifier::new(keying());
    let mut reported_at = None;
    for (i, ev) in events.into_iter().enumerate() {
        if let Err(b) = v.push(ev) {
            assert_eq!((b.kind, b.seq), (BreakKind::Deleted, 51));
            reported_at = Some(i);
            break;
        }
    }
    let i = reported_at.unwrap();
    assert!(i <= 50 + LOOKAHEAD, "reported after {i} rows");
}

#[test]
fn breaks_serialize_and_read_as_sentences() {
    let b = ChainBreak {
        seq: 42,
        kind: BreakKind::Edited,
        detail: "its contents no longer match its hash".into(),
    };
    assert_eq!(
        b.to_string(),
        "event 42 was changed: its contents no longer match its hash"
    );
    let v = serde_json::to_value(&b).unwrap();
    assert_eq!(v["kind"], "edited");
    assert_eq!(v["seq"], 42);
}

/// Recomputes every hash from `from` on without the key (plain SHA-256, the only hash someone
/// without the master key can compute), relinking each row to the one before, and returns the
/// new head: the rewrite of the issue.
fn rewrite_without_the_key(events: &mut [StoredEvent], from: usize) -> Option<(i64, Hash)> {
    for i in from..events.len() {
        if i > 0 {
            events[i].prev_hash = events[i - 1].hash.clone();
        }
        events[i].data = r#"{"decision":"granted","credential":1}"#.into();
        let prev: Hash = events[i].prev_hash.as_slice().try_into().unwrap();
        events[i].hash = hash_event(&prev, &events[i].body()).to_vec();
    }
    head(events)
}

#[test]
fn a_tail_rewritten_without_the_key_is_named_at_its_first_row() {
    let mut events = chain(400);
    let h = rewrite_without_the_key(&mut events, 299);
    let err = verify(events, h).unwrap_err();
    assert_eq!((err.kind, err.seq), (BreakKind::Edited, 300), "{err}");
    assert_eq!(
        err.to_string(),
        "event 300 was changed: its contents no longer match its hash"
    );
}

#[test]
fn a_log_checked_with_another_key_fails_where_the_keyed_chain_starts() {
    let events = chain(10);
    let h = head(&events);
    let other = Keying {
        key: ChainKey::new(&[8; 32]),
        from: Some(1),
        digested: None,
    };
    let err = verify_with(other, events, h).unwrap_err();
    assert_eq!((err.kind, err.seq), (BreakKind::Edited, 1));
    assert!(
        err.detail.contains("does not verify with this master key"),
        "{err}"
    );
}

/// Events 1..=`old` as an older latchkey wrote them (unkeyed), then the keying marker and
/// keyed events up to `n`.
fn upgraded(old: i64, n: i64) -> (Vec<StoredEvent>, Keying) {
    let keying = Keying {
        key: key(),
        from: Some(old + 1),
        digested: None,
    };
    let mut prev = GENESIS;
    let events = (1..=n)
        .map(|seq| {
            let mut ev = event(seq, &prev);
            ev.kind = if seq == old + 1 {
                KEYED_MARKER.into()
            } else {
                "access.decision".into()
            };
            ev.hash = keying.hash(&prev, &ev.body()).to_vec();
            prev = hash_of(&ev);
            ev
        })
        .collect();
    (events, keying)
}

#[test]
fn an_upgraded_log_verifies_unkeyed_before_its_marker_and_keyed_from_it() {
    let (events, keying) = upgraded(5, 12);
    assert_eq!(events[5].kind, KEYED_MARKER);
    assert_eq!(
        events[4].hash,
        hash_event(&hash_of(&events[3]), &events[4].body()).to_vec(),
        "the old events keep their unkeyed hashes"
    );
    let h = head(&events);
    assert_eq!(verify_with(keying, events, h).unwrap().events, 12);
}

#[test]
fn the_unkeyed_part_cannot_grow_past_the_marker() {
    // Claiming the keyed chain starts later turns the marker into a row out of place.
    let (events, keying) = upgraded(5, 12);
    let h = head(&events);
    let later = Keying {
        from: Some(9),
        ..keying.clone()
    };
    let err = verify_with(later, events.clone(), h).unwrap_err();
    assert_eq!((err.kind, err.seq), (BreakKind::Edited, 6), "{err}");
    assert!(
        err.detail.contains("claims to start the keyed chain"),
        "{err}"
    );

    // Removing the marker and relinking everything without the key leaves an unkeyed log.
    let mut stripped = events;
    stripped.truncate(5);
    let h = head(&stripped);
    let none = Keying {
        from: None,
        ..keying
    };
    let err = verify_with(none, stripped, h).unwrap_err();
    assert_eq!((err.kind, err.seq), (BreakKind::Unkeyed, 1), "{err}");
    assert!(
        err.to_string()
            .starts_with("event 1 is not keyed: the log holds 5 events"),
        "{err}"
    );
}

#[test]
fn a_second_marker_is_named() {
    let mut events = chain(10);
    events[6].kind = KEYED_MARKER.into();
    rehash(&mut events[6]);
    let err = verify(events, None).unwrap_err();
    assert_eq!((err.kind, err.seq), (BreakKind::Edited, 7), "{err}");
}

#[test]
fn an_emptied_log_names_the_head_it_lost() {
    let events = chain(12);
    let h = head(&events);
    let err = verify(Vec::new(), h).unwrap_err();
    assert_eq!(
        err.to_string(),
        "event 1 is missing: the log is empty but the head says 12"
    );
}

#[test]
fn each_kind_of_break_reads_with_its_word() {
    let words = [
        (BreakKind::Edited, "event 3 was changed: x"),
        (BreakKind::Deleted, "event 3 is missing: x"),
        (BreakKind::Inserted, "event 3 was inserted: x"),
        (BreakKind::Reordered, "event 3 is out of order: x"),
        (BreakKind::Unkeyed, "event 3 is not keyed: x"),
        (BreakKind::Head, "the chain head x"),
    ];
    for (kind, text) in words {
        let b = ChainBreak {
            seq: 3,
            kind,
            detail: "x".into(),
        };
        assert_eq!(b.to_string(), text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_single_field_edit_is_found_at_its_row(n in 2i64..40, pick in any::<prop::sample::Index>(), field in 0u8..4) {
        let mut events = chain(n);
        let i = pick.index(events.len());
        match field {
            0 => events[i].at_micros += 1,
            1 => events[i].actor = Some(-1),
            2 => events[i].kind.push('!'),
            _ => events[i].data.clear(),
        }
        let h = head(&chain(n));
        let err = verify(events, h).unwrap_err();
        prop_assert_eq!((err.kind, err.seq), (BreakKind::Edited, i as i64 + 1));
    }

    #[test]
    fn any_single_deletion_is_found(n in 2i64..40, pick in any::<prop::sample::Index>()) {
        let mut events = chain(n);
        let h = head(&events);
        let i = pick.index(events.len());
        events.remove(i);
        let err = verify(events, h).unwrap_err();
        prop_assert_eq!((err.kind, err.seq), (BreakKind::Deleted, i as i64 + 1));
    }
}

/// A log as this version writes it: the digest marker at event 1, then events chained over
/// their payload digests.
fn digested_chain(n: i64) -> (Vec<StoredEvent>, Keying) {
    let keying = Keying {
        key: key(),
        from: Some(1),
        digested: Some(1),
    };
    let mut prev = GENESIS;
    let events = (1..=n)
        .map(|seq| {
            let mut ev = event(seq, &prev);
            if seq == 1 {
                ev.kind = DIGEST_MARKER.into();
            }
            ev.hash = keying.hash(&prev, &ev.body()).to_vec();
            prev = hash_of(&ev);
            ev
        })
        .collect();
    (events, keying)
}

fn redact(keying: &Keying, ev: &mut StoredEvent) {
    ev.data = keying.redacted_data(ev.seq, ev.actor, &ev.data).unwrap();
    ev.actor = None;
}

#[test]
fn a_redacted_event_still_verifies_and_keeps_nothing_of_its_payload() {
    let (mut events, keying) = digested_chain(12);
    let h = head(&events);
    let before = events[4].data.clone();
    redact(&keying, &mut events[4]);
    redact(&keying, &mut events[7]);
    assert!(!events[4].data.contains("credential"), "{}", events[4].data);
    assert_ne!(events[4].data, before);
    assert_eq!(verify_with(keying, events, h).unwrap().events, 12);
}

#[test]
fn an_edited_payload_is_named_even_where_links_cover_digests() {
    let (mut events, keying) = digested_chain(12);
    let h = head(&events);
    events[4].data = events[4].data.replace("granted", "denied");
    let err = verify_with(keying.clone(), events.clone(), h).unwrap_err();
    assert_eq!((err.kind, err.seq), (BreakKind::Edited, 5), "{err}");

    // A changed actor is an edit too.
    let (mut events, _) = digested_chain(12);
    events[5].actor = Some(99);
    let err = verify_with(keying.clone(), events, h).unwrap_err();
    assert_eq!((err.kind, err.seq), (BreakKind::Edited, 6), "{err}");
}

#[test]
fn a_redaction_forged_without_the_key_is_named() {
    let (mut events, keying) = digested_chain(12);
    let h = head(&events);
    // Anyone can compute an unkeyed digest of the payload; it is not the one the link covers.
    let unkeyed: Hash = Sha256::digest(events[4].data.as_bytes()).into();
    events[4].data = redacted_data(&unkeyed);
    events[4].actor = None;
    let err = verify_with(keying.clone(), events, h).unwrap_err();
    assert_eq!((err.kind, err.seq), (BreakKind::Edited, 5), "{err}");

    // A redacted payload that keeps its actor is not a redaction: the actor was part of it.
    let (mut events, _) = digested_chain(12);
    let actor = events[4].actor;
    assert!(actor.is_some());
    redact(&keying, &mut events[4]);
    events[4].actor = actor;
    let err = verify_with(keying, events, h).unwrap_err();
    assert_eq!((err.kind, err.seq), (BreakKind::Edited, 5), "{err}");
}

#[test]
fn the_digest_marker_stands_only_where_digests_start() {
    let (mut events, keying) = digested_chain(12);
    events[6].kind = DIGEST_MARKER.into();
    rehash_with(&keying, &mut events[6]);
    let h = head(&events);
    let err = verify_with(keying, events, h).unwrap_err();
    assert_eq!((err.kind, err.seq), (BreakKind::Edited, 7), "{err}");
}

#[test]
fn a_keyed_log_upgraded_to_digests_verifies_in_three_parts() {
    let keying = Keying {
        key: key(),
        from: Some(4),
        digested: Some(8),
    };
    let mut prev = GENESIS;
    let events: Vec<StoredEvent> = (1..=12)
        .map(|seq| {
            let mut ev = event(seq, &prev);
            ev.kind = match seq {
                4 => KEYED_MARKER.into(),
                8 => DIGEST_MARKER.into(),
                _ => "access.decision".into(),
            };
            ev.hash = keying.hash(&prev, &ev.body()).to_vec();
            prev = hash_of(&ev);
            ev
        })
        .collect();
    assert!(
        keying.redacted_data(7, None, "{}").is_none(),
        "older rows stay as they are"
    );
    let h = head(&events);
    assert_eq!(verify_with(keying, events, h).unwrap().events, 12);
}

fn rehash_with(keying: &Keying, ev: &mut StoredEvent) {
    let prev: Hash = ev.prev_hash.as_slice().try_into().unwrap();
    ev.hash = keying.hash(&prev, &ev.body()).to_vec();
}
