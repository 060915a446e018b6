use super::*;

#[test]
fn blank_looking_names_have_no_visible_character() {
    for name in [
        "",
        " \t\n",
        "\u{00A0}\u{2007}\u{202F}\u{3000}",
        "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}",
        "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}",
        "\u{2066}\u{2067}\u{2068}\u{2069}\u{200E}\u{200F}\u{061C}",
        "\u{00AD}\u{034F}\u{180E}\u{FE0F}\u{E0001}\u{E007F}",
        "\u{3164}\u{115F}\u{1160}\u{FFA0}\u{2800}",
        "\u{0301}\u{0308}",
        "\u{2061}\u{2062}\u{2063}\u{2064}",
    ] {
        assert!(!has_visible_char(name), "{name:?} counted as visible");
    }
}

#[test]
fn names_in_any_script_show_something() {
    for name in [
        "Ada",
        "李小龙",
        "\u{200F}שרה",
        "محمد",
        "\u{1F469}\u{200D}\u{1F469}\u{200D}\u{1F467}",
        "e\u{0301}",
        "4B",
        "\u{200B}x\u{200B}",
    ] {
        assert!(has_visible_char(name), "{name:?} counted as blank");
    }
}

#[test]
fn the_ranges_are_sorted_and_disjoint_so_the_search_finds_them() {
    for ranges in [INVISIBLE, COMBINING] {
        for w in ranges.windows(2) {
            assert!(w[0].0 <= w[0].1 && w[0].1 < w[1].0, "{:?}", w);
        }
        for &(lo, hi) in ranges {
            assert!(within(lo, ranges) && within(hi, ranges));
        }
    }
}
