//! Names people read: a name must show at least one character. A name made only of invisible
//! characters looks blank in every list and lets one person pass for "nobody", or two entries
//! look alike.
//!
//! Invisible here means, per character:
//! 1. white space of every kind (`char::is_whitespace`: spaces, no-break, ideographic, line and
//!    paragraph separators) and control characters;
//! 2. Unicode's default-ignorable code points — zero-width space and joiners, word joiner, byte
//!    order mark, bidirectional marks, embeddings, overrides and isolates, soft hyphen,
//!    variation selectors, Hangul fillers, tag characters and the other format characters
//!    fonts draw as nothing;
//! 3. the few other characters drawn blank (braille pattern blank, Mongolian vowel separator,
//!    the invisible mathematical operators) and combining marks, which show nothing without a
//!    letter to sit on.
//!
//! Such characters stay allowed *inside* a name that shows something: a zero-width joiner
//! builds emoji, a right-to-left mark places a Hebrew or Arabic name.

#[cfg(test)]
mod tests;

/// Default-ignorable code points (Unicode's `Default_Ignorable_Code_Point`, DerivedCoreProperties)
/// and other characters drawn as nothing, as inclusive ranges in ascending order.
const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),   // soft hyphen
    ('\u{034F}', '\u{034F}'),   // combining grapheme joiner
    ('\u{061C}', '\u{061C}'),   // Arabic letter mark
    ('\u{115F}', '\u{1160}'),   // Hangul choseong and jungseong fillers
    ('\u{17B4}', '\u{17B5}'),   // Khmer inherent vowels
    ('\u{180B}', '\u{180F}'),   // Mongolian variation selectors and vowel separator
    ('\u{200B}', '\u{200F}'),   // zero-width space, (non-)joiner, LRM, RLM
    ('\u{202A}', '\u{202E}'),   // bidirectional embeddings and overrides
    ('\u{2060}', '\u{206F}'),   // word joiner, invisible operators, isolates, deprecated formats
    ('\u{2800}', '\u{2800}'),   // braille pattern blank
    ('\u{3164}', '\u{3164}'),   // Hangul filler
    ('\u{FE00}', '\u{FE0F}'),   // variation selectors
    ('\u{FEFF}', '\u{FEFF}'),   // zero-width no-break space (byte order mark)
    ('\u{FFA0}', '\u{FFA0}'),   // halfwidth Hangul filler
    ('\u{FFF0}', '\u{FFFB}'),   // unassigned specials, interlinear annotation controls
    ('\u{1BCA0}', '\u{1BCA3}'), // shorthand format controls
    ('\u{1D173}', '\u{1D17A}'), // musical symbol formatting
    ('\u{E0000}', '\u{E0FFF}'), // tags and variation selectors supplement
];

/// Combining marks that show nothing on their own.
const COMBINING: &[(char, char)] = &[
    ('\u{0300}', '\u{036F}'),
    ('\u{1AB0}', '\u{1AFF}'),
    ('\u{1DC0}', '\u{1DFF}'),
    ('\u{20D0}', '\u{20FF}'),
    ('\u{FE20}', '\u{FE2F}'),
];

fn within(c: char, ranges: &[(char, char)]) -> bool {
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Whether `c` is drawn as nothing (see the module's header).
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace() || c.is_control() || within(c, INVISIBLE) || within(c, COMBINING)
}

/// Whether `name` shows at least one character.
pub fn has_visible_char(name: &str) -> bool {
    name.chars().any(|c| !is_invisible(c))
}
