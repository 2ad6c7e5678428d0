//! Text from outside: the ledger's rule for free text (no characters that hide or spoof what
//! people read), printing it safely, and quoting it in messages: never more than a short
//! prefix, so an error about a 100 KB identifier is a short error.

use std::borrow::Cow;

/// Most characters of outside text a message repeats.
pub const QUOTED_CHARS_MAX: usize = 64;

/// `s` as a message shows it: unchanged when it is short and printable; otherwise its first
/// [`QUOTED_CHARS_MAX`] characters with anything unprintable escaped, then `…` and its length.
pub fn short(s: &str) -> Cow<'_, str> {
    let long = s.chars().nth(QUOTED_CHARS_MAX).is_some();
    if !long && !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out: String = s.chars().take(QUOTED_CHARS_MAX).flat_map(char::escape_debug).collect();
    if long {
        out.push_str(&format!("… ({} bytes)", s.len()));
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_and_long_or_unprintable_text_is_cut_and_escaped() {
        assert_eq!(short("FJ-LJ-KELP-001"), "FJ-LJ-KELP-001");
        assert_eq!(short("漳州食品"), "漳州食品");
        assert_eq!(short("a\nb"), "a\\nb");
        let long = "x".repeat(100_000);
        let s = short(&long);
        assert!(s.starts_with(&"x".repeat(QUOTED_CHARS_MAX)) && s.ends_with("… (100000 bytes)"), "{s}");
        assert!(s.len() < 100);
    }

    #[test]
    fn visible_writes_reordering_and_hidden_characters_out() {
        assert_eq!(visible("Zhangzhou <b>\n</b>"), "Zhangzhou <b>\n</b>");
        assert_eq!(visible("abc\u{202E}fed"), "abc\\u{202E}fed");
        assert_eq!(visible("a\u{200B}b\u{2066}"), "a\\u{200B}b\\u{2066}");
        assert_eq!(visible("漳州"), "漳州");
    }
}

/// Characters that change how text around them is displayed without showing themselves:
/// bidirectional embeddings, overrides, isolates and marks.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Characters that take no space: zero-width spaces and joiners, word joiners and invisible
/// operators, the byte-order mark, the soft hyphen, the Mongolian vowel separator.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}')
}

/// The ledger's rule for every free-text field (names, beneficiary, notes, reasons,
/// statements, jurisdiction, references): Unicode NFC; no control character (line breaks and
/// tabs included); no bidirectional control; no invisible character. Lengths are checked by
/// the caller. The error says what was found and where.
pub fn check_free_text(value: &str) -> Result<(), String> {
    for (i, c) in value.chars().enumerate() {
        let what = if c.is_control() {
            "a control character (line breaks and tabs are not allowed either)"
        } else if is_bidi_control(c) {
            "a bidirectional control character"
        } else if is_invisible(c) {
            "an invisible character"
        } else {
            continue;
        };
        return Err(format!("contains {what}, U+{:04X}, at character {}", c as u32, i + 1));
    }
    if !unicode_normalization::is_nfc(value) {
        return Err("is not in Unicode normalization form C (NFC); normalise it before signing".into());
    }
    Ok(())
}

/// `s` safe to print on a terminal or in a file people read: control, bidirectional and
/// invisible characters are shown as `\u{...}` escapes; other text is unchanged.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || is_bidi_control(c) || is_invisible(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() || is_bidi_control(c) || is_invisible(c) {
                    format!("\\u{{{:04X}}}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// `s` with every bidirectional control and invisible character written as `\u{XXXX}`, for
/// output where line breaks are harmless but reordered or hidden text is not (HTML pages).
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| is_bidi_control(c) || is_invisible(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(
                |c| {
                    if is_bidi_control(c) || is_invisible(c) {
                        format!("\\u{{{:04X}}}", c as u32)
                    } else {
                        c.to_string()
                    }
                },
            )
            .collect(),
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Greek,
    Cyrillic,
}

fn script(c: char) -> Option<Script> {
    match c {
        'A'..='Z' | 'a'..='z' | '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}' => Some(Script::Latin),
        '\u{0370}'..='\u{03FF}' | '\u{1F00}'..='\u{1FFF}' => Some(Script::Greek),
        '\u{0400}'..='\u{052F}' => Some(Script::Cyrillic),
        _ => None,
    }
}

/// The words of `value` that mix Latin, Greek and Cyrillic letters, which look alike
/// (`Ζhangzhou` with a Greek Zeta, `Fооd` with Cyrillic o's): a name made to pass for another.
/// Chinese, Japanese and other scripts beside Latin are normal and not reported.
pub fn mixed_script_words(value: &str) -> Vec<&str> {
    value
        .split_whitespace()
        .filter(|w| {
            let mut first = None;
            w.chars().filter_map(script).any(|s| *first.get_or_insert(s) != s)
        })
        .collect()
}

#[cfg(test)]
mod rule_tests {
    use super::*;

    #[test]
    fn the_free_text_rule_accepts_ordinary_text_and_refuses_the_spoofing_tricks() {
        for ok in ["Zhangzhou Food Company", "漳州食品有限公司", "Café Müller", "2024 operations; Q3", ""] {
            assert_eq!(check_free_text(ok), Ok(()), "{ok}");
        }
        for (bad, found) in [
            ("Zhangzhou\nbeneficiary: Someone", "U+000A"),
            ("a\tb", "U+0009"),
            ("abc\u{202E}cba", "U+202E"),
            ("ab\u{2066}c", "U+2066"),
            ("Fo\u{200B}od", "U+200B"),
            ("x\u{FEFF}", "U+FEFF"),
        ] {
            let e = check_free_text(bad).expect_err(bad);
            assert!(e.contains(found), "{e}");
        }
        // "Café" with a combining acute accent (NFD) is refused; the composed form passes.
        let e = check_free_text("Cafe\u{0301}").expect_err("NFD");
        assert!(e.contains("NFC"), "{e}");
    }

    #[test]
    fn printing_escapes_what_cannot_be_seen_and_mixed_scripts_are_found() {
        assert_eq!(printable("plain 文字"), "plain 文字");
        assert_eq!(printable("a\nb\u{202E}"), "a\\u{000A}b\\u{202E}");
        assert_eq!(mixed_script_words("Zhangzhou Food Company"), Vec::<&str>::new());
        assert_eq!(mixed_script_words("Zhangzhou F\u{043E}\u{043E}d Company"), vec!["F\u{043E}\u{043E}d"]);
        assert_eq!(mixed_script_words("\u{0396}hangzhou"), vec!["\u{0396}hangzhou"]);
        assert!(mixed_script_words("Zhangzhou 漳州 Food").is_empty());
    }
}
