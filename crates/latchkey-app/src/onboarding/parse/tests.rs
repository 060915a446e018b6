use super::*;

const HEAD: &str = "unit,floor,door,resident_name,resident_email,role\n";

fn errors(body: &str) -> Vec<String> {
    match parse(format!("{HEAD}{body}").as_bytes()) {
        Ok(units) => panic!("expected errors, read {} units", units.len()),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_unit_takes_its_floor_and_door_from_its_first_line_and_people_from_every_line() {
    let units = parse(
        format!(
            "\u{feff}{HEAD}1A,1,Door 1A,Ana Silva,ANA@Example.org,\n1A,,,Marta Silva,,household\n\
             1B,1,Door 1B,,,\n,,,,,\n\"2A, north\",2,\"Door 2A\",\"Lee, Jo\",jo@example.org,resident\n"
        )
        .as_bytes(),
    )
    .expect("a good file");
    assert_eq!(units.len(), 3);
    assert_eq!(
        (units[0].line, units[0].floor, units[0].door.as_str()),
        (2, 1, "Door 1A")
    );
    assert_eq!(units[0].residents.len(), 2);
    assert_eq!(
        units[0].residents[0].email.as_deref(),
        Some("ana@example.org")
    );
    assert_eq!(units[0].residents[0].role, Role::Resident);
    assert_eq!(units[0].residents[1].role, Role::Household);
    assert!(units[1].residents.is_empty());
    assert_eq!(units[2].label, "2A, north");
    assert_eq!(units[2].residents[0].name, "Lee, Jo");
    assert_eq!(units[2].line, 6);
}

#[test]
fn every_bad_line_is_named_with_its_reason() {
    let e = errors(
        "1A,1,Door 1A,Ana,not-an-email,\n\
         1B,1,Door 1B,Bo,bo@example.org,landlord\n\
         1C,x,Door 1C,,,\n\
         1D,1,,,,\n\
         1E,1,Door 1A,,,\n\
         1F,1,Door 1F,,bo@example.org,\n\
         1G,1,Door 1G,Gus,bo@example.org,\n\
         1A,1,Door 1X,,,\n\
         1H,1,Door 1H\n\
         ,1,Door 1I,,,\n\
         1J,1,Door 1J,Jo,,manager\n",
    );
    let want = [
        "line 2: resident_email `not-an-email` is not an e-mail address",
        "line 3: role `landlord` is not one of resident, household, guest, trusted_contact",
        "line 4: floor `x` is not a whole number between -10 and 300",
        "line 5: door is missing",
        "line 6: door \"Door 1A\" is already on line 2",
        "line 7: resident_name is missing",
        "line 8: resident_email bo@example.org is already on line 3",
        "line 9: unit 1A is already on line 2",
        "line 10: has 3 columns; every line has 6",
        "line 11: unit is missing",
        "line 12: role `manager` is not one of",
    ];
    assert_eq!(e.len(), want.len(), "{e:#?}");
    for (got, want) in e.iter().zip(want) {
        assert!(got.starts_with(want), "{got} / {want}");
    }
}

#[test]
fn a_unit_whose_lines_disagree_or_are_apart_is_refused_at_the_line() {
    let e = errors("1A,1,Door 1A,Ana,,\n1A,2,,Bo,,\n1A,,Door X,Cy,,\n1B,1,Door 1B,,,\n1A,,,Di,,\n");
    assert!(
        e[0].starts_with("line 3: unit 1A has floor 1 on line 2"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("line 4: unit 1A has door \"Door 1A\" on line 2"),
        "{e:?}"
    );
    assert!(
        e[2].starts_with("line 6: unit 1A is already on line 2"),
        "{e:?}"
    );
    assert_eq!(e.len(), 3, "{e:?}");
}

#[test]
fn a_wrong_first_line_of_a_unit_is_named_once_not_on_each_of_its_lines() {
    let e = errors("1A,,Door 1A,Ana,,\n1A,,,Bo,,\n1A,,,Cy,,\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("line 2: floor is missing"), "{e:?}");
}

#[test]
fn text_that_is_too_long_invisible_or_not_utf8_is_refused() {
    let long = "x".repeat(33);
    let e = errors(&format!("{long},1,Door,,,\n2A,1,\u{200b},,,\n"));
    assert!(
        e[0].starts_with("line 2: unit: must be at most 32 characters"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("line 3: door: must contain a visible character"),
        "{e:?}"
    );
    let mut bytes = HEAD.as_bytes().to_vec();
    bytes.extend_from_slice(b"1A,1,Door 1A,Ana \xff,,\n");
    let e = parse(&bytes).expect_err("latin-1 is refused");
    assert_eq!(
        e[0].to_string(),
        "line 2: resident_name is not UTF-8 text: save the file as \"CSV UTF-8\""
    );
}

#[test]
fn a_wrong_header_an_empty_file_and_a_huge_file_are_refused_whole() {
    let e = parse(b"flat,level,door,name,email,role\n1A,1,Door,,,\n").expect_err("bad header");
    assert!(
        e[0].to_string()
            .starts_with("line 1: the first line must be the header")
    );
    let e = parse(b"").expect_err("empty");
    assert!(e[0].to_string().starts_with("the file: is empty"));
    let e = parse(HEAD.as_bytes()).expect_err("no unit");
    assert!(e[0].to_string().starts_with("the file: has no unit"));
    let big = format!("{HEAD}{}", "1A,1,Door 1A,Ana,,\n".repeat(MAX_BYTES / 10));
    let e = parse(big.as_bytes()).expect_err("too large");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].to_string().contains("larger than 1048576 bytes"),
        "{e:?}"
    );
    let many: String = (0..MAX_LINES)
        .map(|i| format!("U{i},1,D{i},,,\n"))
        .collect();
    let e = parse(format!("{HEAD}{many}").as_bytes()).expect_err("too many lines");
    assert_eq!(e.len(), 1);
    assert!(e[0].to_string().contains("more than 10000 lines"), "{e:?}");
}
