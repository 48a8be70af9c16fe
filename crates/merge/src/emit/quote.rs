//! How a string is written as a YAML scalar: plain when a reader gets the same string back,
//! otherwise double-quoted with escapes.
//!
//! These are serde-saphyr 2.2's rules (`ser/quoting.rs`, MIT OR Apache-2.0) for block-style
//! values and keys with YAML 1.1 resolution, restated so that `to_yaml` keeps every byte it
//! wrote through serde-saphyr; `tests/emit.rs` compares the two on generated strings. A
//! string is quoted when a YAML 1.1 or 1.2 reader would resolve it to something else (null,
//! a boolean such as `yes`, a number in any radix or base 60, a timestamp, `<<`, `=`), when it
//! starts with an indicator or a document marker, has whitespace at either end, contains
//! `: `, ends with `:`, has `#` after whitespace, or holds a character that needs an escape.

use std::fmt::Write as _;

/// Whether `s` is written plain in value position of a block collection.
pub(super) fn is_plain_value(s: &str) -> bool {
    match plain_ascii(s) {
        Some(plain) => plain && !is_ambiguous(s, false),
        None => !is_ambiguous(s, false) && is_plain_value_text(s, false),
    }
}

/// The common case of [`is_plain_value_text`] in one pass: `None` when `s` is not ASCII (or
/// empty), else whether it passes every check but ambiguity. For ASCII text without controls,
/// `str::trim` removes nothing that the edge check has not refused already, so "ends with
/// `:`" is the last byte.
fn plain_ascii(s: &str) -> Option<bool> {
    let bytes = s.as_bytes();
    let (&first, &last) = (bytes.first()?, bytes.last()?);
    for (i, &b) in bytes.iter().enumerate() {
        if !NOTABLE[usize::from(b)] {
            continue;
        }
        // Any finding below makes the slow path answer "not plain" too, so it ends the scan.
        match b {
            0x80.. => return None,
            b' ' if i > 0 && bytes[i - 1] == b':' => return Some(false),
            b'#' if i > 0 && bytes[i - 1] == b' ' => return Some(false),
            b' ' | b':' | b'#' => {}
            _ => return Some(false),
        }
    }
    Some(
        first != b' '
            && last != b' '
            && last != b':'
            && !is_leading_indicator(first)
            && !(matches!(first, b'-' | b'?') && bytes.get(1).is_none_or(|&b| b == b' '))
            && !starts_with_document_marker(s),
    )
}

/// Bytes [`plain_ascii`] looks at: controls, DEL, non-ASCII, and the space, colon and `#` of
/// `: ` and ` #`.
const NOTABLE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] =
            b < 0x20 || b >= 0x7F || b == b' ' as usize || b == b':' as usize || b == b'#' as usize;
        b += 1;
    }
    table
};

/// Whether a mapping key is written plain (keys must also be safe in flow style and may not
/// hold `:`).
pub(super) fn is_plain_key(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.iter().all(u8::is_ascii_alphanumeric)
    {
        // A word (every field name): plain unless a reader would type it.
        return !is_ambiguous(s, false);
    }
    is_plain_key_text(s) && !is_ambiguous(s, false) && is_plain_value_text(s, true)
}

/// The key-only checks (serde-saphyr's `is_plain_safe`).
fn is_plain_key_text(s: &str) -> bool {
    if is_ambiguous(s, true) || s == "<<" || starts_with_document_marker(s) {
        return false;
    }
    let bytes = s.as_bytes();
    if bytes.first().is_some_and(u8::is_ascii_whitespace)
        || bytes.last().is_some_and(u8::is_ascii_whitespace)
    {
        return false;
    }
    match bytes.first() {
        Some(b'-' | b'?') if bytes.len() == 1 || bytes[1].is_ascii_whitespace() => return false,
        Some(&b) if is_leading_indicator(b) => return false,
        _ => {}
    }
    !s.chars().any(|c| needs_escape(c) || c == ':') && !has_comment_start(s)
}

/// The checks of a value that come after ambiguity (serde-saphyr's `is_plain_value_safe`
/// without its first test).
fn is_plain_value_text(s: &str, in_flow: bool) -> bool {
    if starts_with_document_marker(s) {
        return false;
    }
    let bytes = s.as_bytes();
    if bytes.first().is_some_and(u8::is_ascii_whitespace)
        || bytes.last().is_some_and(u8::is_ascii_whitespace)
    {
        return false;
    }
    match bytes {
        [b'-' | b'?', b1, ..] if b1.is_ascii_whitespace() => return false,
        [b'-' | b'?'] => return false,
        [b, ..] if is_leading_indicator(*b) => return false,
        _ => {}
    }
    if s.contains(": ") || s.trim().ends_with(':') {
        return false;
    }
    if s.is_ascii() {
        // The common case: one pass over bytes. ASCII controls are the C0 set and DEL; a `#`
        // after ASCII white space starts a comment.
        let mut previous_space = false;
        for &b in bytes {
            if b < 0x20 || b == 0x7F {
                return false;
            }
            if in_flow && matches!(b, b',' | b'[' | b']' | b'{' | b'}') {
                return false;
            }
            if b == b'#' && previous_space {
                return false;
            }
            previous_space = b == b' ';
        }
        return true;
    }
    let flow_indicator = |c: char| in_flow && matches!(c, ',' | '[' | ']' | '{' | '}');
    !s.chars().any(|c| needs_escape(c) || flow_indicator(c)) && !has_comment_start(s)
}

/// Bytes that cannot start a plain scalar (`-` and `?` only when alone or before a space).
fn is_leading_indicator(b: u8) -> bool {
    matches!(
        b,
        b',' | b':'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}

/// `#` after white space: a comment in a plain scalar.
fn has_comment_start(s: &str) -> bool {
    let mut previous_space = false;
    for c in s.chars() {
        if c == '#' && previous_space {
            return true;
        }
        previous_space = c.is_whitespace();
    }
    false
}

/// `---` or `...` alone or before white space.
fn starts_with_document_marker(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("---").or_else(|| s.strip_prefix("...")) else {
        return false;
    };
    rest.as_bytes()
        .first()
        .is_none_or(|b| b.is_ascii_whitespace())
}

/// Characters that only a double-quoted scalar can carry (controls, BOM, the Unicode line
/// and paragraph separators, U+FFFE and U+FFFF).
pub(super) fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{FEFF}' | '\u{2028}' | '\u{2029}' | '\u{FFFE}' | '\u{FFFF}'
        )
}

/// Whether a reader's implicit typing could turn `s` into something other than this string.
fn is_ambiguous(s: &str, yaml_12: bool) -> bool {
    let first = match s.as_bytes().first() {
        None => return true,
        Some(&b) => b,
    };
    // Every ambiguous spelling starts with one of these bytes; most text starts elsewhere.
    if !matches!(
        first,
        b'0'..=b'9'
            | b'+'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'<'
            | b'='
            | b'n'
            | b'N'
            | b't'
            | b'T'
            | b'f'
            | b'F'
            | b'i'
            | b'I'
            | b'y'
            | b'Y'
            | b'o'
            | b'O'
            | b' '
            | b'\t'
            | b'\r'
            | b'\n'
    ) {
        return false;
    }
    if first.is_ascii_alphabetic() && s.len() > 5 {
        // The longest word starting with a letter is `false`; a longer text that is one of
        // them with white space after it is refused by the edge check of every caller.
        return false;
    }
    s == "~"
        || s.eq_ignore_ascii_case("null")
        || s.eq_ignore_ascii_case("true")
        || s.eq_ignore_ascii_case("false")
        || is_numeric(s, yaml_12)
        || s.eq_ignore_ascii_case("nan")
        || s.eq_ignore_ascii_case("inf")
        || s.eq_ignore_ascii_case("+inf")
        || s.eq_ignore_ascii_case("-inf")
        || (!yaml_12 && (is_yaml11_bool(s) || is_yaml11_timestamp(s) || matches!(s, "<<" | "=")))
}

/// The YAML 1.1 boolean spellings, around ASCII white space.
fn is_yaml11_bool(s: &str) -> bool {
    let t = s.trim_matches([' ', '\t', '\r', '\n']);
    ["true", "yes", "y", "on", "false", "no", "n", "off"]
        .iter()
        .any(|word| t.eq_ignore_ascii_case(word))
}

/// Numeric syntax of YAML 1.2, or (not `yaml_12`) of YAML 1.1 with its underscores, radix
/// prefixes and base 60, whether or not the value fits a number.
fn is_numeric(s: &str, yaml_12: bool) -> bool {
    if !matches!(
        s.as_bytes().first(),
        Some(b'0'..=b'9' | b'+' | b'-' | b'.' | b'_')
    ) {
        return false;
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned.eq_ignore_ascii_case(".inf") || unsigned.eq_ignore_ascii_case(".nan") {
        return true;
    }
    if !yaml_12 {
        if is_yaml11_sexagesimal(s) {
            return true;
        }
        if let Some((radix, digits)) = radix_digits(unsigned)
            && is_digit_run(digits, radix, false)
        {
            return true;
        }
    }
    let normalized;
    let s = if !yaml_12 && s.contains('_') {
        normalized = s.replace('_', "");
        normalized.as_str()
    } else {
        s
    };
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if let Some((radix, digits)) = radix_digits(unsigned) {
        let digits = if !yaml_12 && (s.starts_with("0b") || s.starts_with("0o")) {
            digits.strip_prefix(['+', '-']).unwrap_or(digits)
        } else {
            digits
        };
        return is_digit_run(digits, radix, true);
    }
    let mantissa = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => {
            let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if !is_digit_run(exponent, 10, true) {
                return false;
            }
            mantissa
        }
        None => unsigned,
    };
    match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            if !whole.is_empty() && !is_digit_run(whole, 10, true) {
                return false;
            }
            if !yaml_12 {
                fraction.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            } else if fraction.is_empty() {
                !whole.is_empty()
            } else {
                is_digit_run(fraction, 10, true)
            }
        }
        None => is_digit_run(mantissa, 10, true),
    }
}

/// `0b`, `0o` or `0x` (either case) and the digits after it.
fn radix_digits(s: &str) -> Option<(u32, &str)> {
    match s.as_bytes() {
        [b'0', b'b' | b'B', ..] => Some((2, &s[2..])),
        [b'0', b'o' | b'O', ..] => Some((8, &s[2..])),
        [b'0', b'x' | b'X', ..] => Some((16, &s[2..])),
        _ => None,
    }
}

/// A non-empty run of digits of `radix`; underscores anywhere, or (`strict_underscores`) only
/// between two digits.
fn is_digit_run(s: &str, radix: u32, strict_underscores: bool) -> bool {
    let is_digit = |b: u8| b.is_ascii() && char::from(b).is_digit(radix);
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.iter().enumerate().all(|(i, &b)| {
            is_digit(b)
                || (b == b'_'
                    && (!strict_underscores
                        || (i > 0
                            && is_digit(bytes[i - 1])
                            && bytes.get(i + 1).is_some_and(|&next| is_digit(next)))))
        })
}

/// YAML 1.1 base-60 integers and floats (`1:20`, `190:20:30.15`).
fn is_yaml11_sexagesimal(s: &str) -> bool {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (unsigned, None),
    };
    let Some((first, rest)) = integer.split_once(':') else {
        return false;
    };
    let Some(first_digit) = first.as_bytes().first() else {
        return false;
    };
    if !first_digit.is_ascii_digit()
        || (fraction.is_none() && *first_digit == b'0')
        || !first.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return false;
    }
    if !rest.split(':').all(|part| match part.as_bytes() {
        [digit] => digit.is_ascii_digit(),
        [tens, units] => matches!(tens, b'0'..=b'5') && units.is_ascii_digit(),
        _ => false,
    }) {
        return false;
    }
    fraction.is_none_or(|part| part.bytes().all(|b| b.is_ascii_digit() || b == b'_'))
}

/// YAML 1.1 timestamp syntax, without checking the calendar.
fn is_yaml11_timestamp(mut s: &str) -> bool {
    fn digits(s: &mut &str, min: usize, max: usize) -> bool {
        let len = s.bytes().take_while(u8::is_ascii_digit).count();
        if !(min..=max).contains(&len) {
            return false;
        }
        *s = &s[len..];
        true
    }
    fn prefix(s: &mut &str, ch: char) -> bool {
        match s.strip_prefix(ch) {
            Some(rest) => {
                *s = rest;
                true
            }
            None => false,
        }
    }
    /// Three numbers separated by `separator`, the first of `first` digits, the others of 1
    /// or 2 (a date's `2026-12-5`, a time's `1:02:03`).
    fn three(s: &mut &str, first: (usize, usize), separator: char) -> bool {
        digits(s, first.0, first.1)
            && prefix(s, separator)
            && digits(s, 1, 2)
            && prefix(s, separator)
            && digits(s, 1, 2)
    }
    if !three(&mut s, (4, 4), '-') {
        return false;
    }
    if s.is_empty() {
        return true;
    }
    if let Some(rest) = s.strip_prefix(['T', 't']) {
        s = rest;
    } else {
        let rest = s.trim_start_matches([' ', '\t']);
        if rest.len() == s.len() {
            return false;
        }
        s = rest;
    }
    if !three(&mut s, (1, 2), ':') {
        return false;
    }
    if prefix(&mut s, '.') || prefix(&mut s, ',') {
        digits(&mut s, 0, usize::MAX);
    }
    s = s.trim_start_matches([' ', '\t']);
    if s.is_empty() || s == "Z" {
        return true;
    }
    if !(prefix(&mut s, '+') || prefix(&mut s, '-')) || !digits(&mut s, 1, 2) {
        return false;
    }
    if prefix(&mut s, ':') && !digits(&mut s, 2, 2) {
        return false;
    }
    s.is_empty()
}

/// Appends `s` double-quoted, with YAML's escapes.
pub(super) fn push_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '\\' => "\\\\",
            '"' => "\\\"",
            '\0' => "\\0",
            '\u{7}' => "\\a",
            '\u{8}' => "\\b",
            '\t' => "\\t",
            '\n' => "\\n",
            '\u{b}' => "\\v",
            '\u{c}' => "\\f",
            '\r' => "\\r",
            '\u{1b}' => "\\e",
            '\u{FEFF}' => "\\uFEFF",
            '\u{85}' => "\\N",
            '\u{2028}' => "\\L",
            '\u{2029}' => "\\P",
            c if (c as u32) <= 0xFF && c.is_control() => "x",
            c if (c as u32) <= 0xFFFF && needs_escape(c) => "u",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        // Writing to a String cannot fail.
        let _ = match escape {
            "x" => write!(out, "\\x{:02X}", c as u32),
            "u" => write!(out, "\\u{:04X}", c as u32),
            text => out.write_str(text),
        };
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}
