//! Quoting of free-form text and bytes so that one entry is always one line.

use std::fmt::Write;

/// At most this many bytes of one string or value are shown; longer ones are cut and their length
/// given. This keeps lines readable and bounded (see `MAX_LINE_BYTES`).
pub(super) const MAX_SHOWN_BYTES: usize = 256;

/// Appends `s` in double quotes. Quotes, backslashes, control characters (line breaks included)
/// and the Unicode line and paragraph separators are escaped; other text stays readable as is.
pub(super) fn push_quoted_str(out: &mut String, s: &str) {
    let mut cut = s.len().min(MAX_SHOWN_BYTES);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    out.push('"');
    for c in s[..cut].chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    push_cut_note(out, cut, s.len());
}

/// Appends a value: as quoted text when it is UTF-8, else as `b"..."` with `\xNN` escapes.
pub(super) fn push_quoted_bytes(out: &mut String, bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return push_quoted_str(out, text);
    }
    let cut = bytes.len().min(MAX_SHOWN_BYTES);
    out.push_str("b\"");
    for &b in &bytes[..cut] {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    push_cut_note(out, cut, bytes.len());
}

/// Marks a shortened string with its full length.
fn push_cut_note(out: &mut String, shown: usize, len: usize) {
    if shown < len {
        let _ = write!(out, "...({len} bytes)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        push_quoted_str(&mut out, s);
        out
    }

    #[test]
    fn line_breaks_quotes_and_control_characters_are_escaped() {
        assert_eq!(quoted("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quoted("x\ny\r\tz"), r#""x\ny\r\tz""#);
        assert_eq!(quoted("\u{0}\u{85}\u{2028}"), r#""\u{0}\u{85}\u{2028}""#);
        assert_eq!(quoted("Zoë O'Brien"), "\"Zoë O'Brien\"");
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary_with_its_length() {
        let s = "é".repeat(200); // 400 bytes
        let q = quoted(&s);
        assert!(q.ends_with("\"...(400 bytes)"), "{q}");
        assert_eq!(q.matches('é').count(), MAX_SHOWN_BYTES / 2);
    }

    #[test]
    fn binary_values_use_hex_escapes() {
        let mut out = String::new();
        push_quoted_bytes(&mut out, b"ok\xff\n\"");
        assert_eq!(out, r#"b"ok\xff\x0a\"""#);
    }
}
