// Tests may unwrap: a panic is the failure report (unwrap is refused only on outside input).
#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;

fn event(seq: i64, prev: &Hash) -> StoredEvent {
    let mut ev = StoredEvent {
        seq,
        at_micros: 1_780_000_000_000_000 + seq * 1_000,
        property: Some(1),
        actor: if seq % 3 == 0 { None } else { Some(seq % 5) },
        kind: "access.decision".into(),
        subject: format!("door:{}", seq % 4),
        data: format!(r#"{{"decision":"granted","credential":{seq}}}"#),
        prev_hash: prev.to_vec(),
        hash: Vec::new(),
    };
    ev.hash = hash_event(prev, &ev.body()).to_vec();
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
    let mut v = Verifier::new();
    for ev in events {
        v.push(ev)?;
    }
    v.finish(head)
}

fn rehash(ev: &mut StoredEvent) {
    let prev: Hash = ev.prev_hash.as_slice().try_into().unwrap();
    ev.hash = hash_event(&prev, &ev.body()).to_vec();
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
        err.to_string().starts_with("event 10 was edited: "),
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
        err.to_string().starts_with("event 20 was deleted: "),
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
    let mut v = Verifier::new();
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
    let mut v = Verifier::new();
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
        "event 42 was edited: its contents no longer match its hash"
    );
    let v = serde_json::to_value(&b).unwrap();
    assert_eq!(v["kind"], "edited");
    assert_eq!(v["seq"], 42);
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
