//! Where the CLI writes: standard output for results, standard error for diagnostics (coloured
//! when allowed). The first write error is kept, so a closed pipe ends the output quietly.

use crate::args::ColorChoice;
use anstream::AutoStream;
use std::borrow::Cow;
use std::io::{self, Write};

/// `text` with every character that could steer a terminal made visible instead: C0 controls
/// but the line feed and tab become their Unicode control pictures (`\r` is `␍`, ESC `␛`), as
/// rustc shows them in source lines, DEL `␡`, and C1 controls and the bidirectional overrides
/// and isolates (which reorder what is shown, "Trojan Source") `�`. One character for one, so
/// a caret under a source line stays in place.
///
/// For text from outside the CLI that it prints for people: source lines and messages of
/// diagnostics (a hostile file), and what a server says (its errors, events, failures). Left
/// as they are, a carriage return overwrites what the line showed, and an escape sequence
/// clears the screen, retitles the window or (on a terminal, where the colour adapter passes
/// sequences through) forges output. Workspace output (`logs`, `exec`) is the user's own and
/// stays raw. JSON and YAML output are for programs and stay exact: they escape the C0
/// controls (so no escape sequence or carriage return reaches a terminal through them), not
/// DEL, C1 controls or bidirectional characters.
pub(crate) fn visible(text: &str) -> Cow<'_, str> {
    let steers = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(steers) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                c if !steers(c) => c,
                '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + u32::from(c)).unwrap_or('\u{fffd}'),
                '\u{7f}' => '\u{2421}',
                _ => '\u{fffd}',
            })
            .collect(),
    )
}

/// One cell of a table or a value on a line: [`visible`], and a tab or line feed, which would
/// break the row, shown as its control picture too.
pub(crate) fn cell(text: &str) -> Cow<'_, str> {
    match visible(text) {
        Cow::Borrowed(b) if !b.contains(['\t', '\n']) => Cow::Borrowed(b),
        shown => Cow::Owned(shown.replace('\t', "\u{2409}").replace('\n', "\u{2424}")),
    }
}

/// Whether the ANSI adapter leaves `text` as it is whatever the colour choice: only printable
/// ASCII and ASCII whitespace (no escape sequence, no other control byte, nothing multi-byte,
/// which the adapter would have to look at).
fn passes_unchanged(text: &str) -> bool {
    // In blocks, each checked whole without an early exit, so the check vectorizes: it reads
    // every byte of the output.
    text.as_bytes().chunks(64).all(|block| {
        block.iter().fold(true, |ok, &b| {
            ok & ((b' '..=b'~').contains(&b) | matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r'))
        })
    })
}

/// The two output streams.
pub(crate) struct Output {
    stdout: AutoStream<io::Stdout>,
    stderr: AutoStream<io::Stderr>,
    error: Option<io::Error>,
}

impl Output {
    /// Streams honouring `choice` (and, for `auto`, NO_COLOR and whether it is a terminal).
    pub(crate) fn new(choice: ColorChoice) -> Self {
        let choice = match choice {
            ColorChoice::Auto => anstream::ColorChoice::Auto,
            ColorChoice::Always => anstream::ColorChoice::Always,
            ColorChoice::Never => anstream::ColorChoice::Never,
        };
        Self {
            stdout: AutoStream::new(io::stdout(), choice),
            stderr: AutoStream::new(io::stderr(), choice),
            error: None,
        }
    }

    /// Writes to standard output. Text the colour adapter would pass through unchanged (the
    /// JSON or YAML of `compile`, almost always) goes straight to the stream, without the
    /// adapter's byte-by-byte scan: the same bytes, faster.
    pub(crate) fn out(&mut self, text: &str) {
        if self.error.is_some() {
            return;
        }
        let result = if passes_unchanged(text) {
            io::stdout().write_all(text.as_bytes())
        } else {
            self.stdout.write_all(text.as_bytes())
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    /// Writes to standard error.
    pub(crate) fn err(&mut self, text: &str) {
        // Diagnostics still matter when standard output is closed.
        let _ = self.stderr.write_all(text.as_bytes());
    }

    /// Writes bytes to standard output exactly as they are (a workspace's output: nothing
    /// is stripped, added or decoded), and flushes them.
    pub(crate) fn out_raw(&mut self, bytes: &[u8]) {
        if self.error.is_none() {
            let mut raw = io::stdout();
            let result = self
                .stdout
                .flush()
                .and_then(|()| raw.write_all(bytes))
                .and_then(|()| raw.flush());
            if let Err(e) = result {
                self.error = Some(e);
            }
        }
    }

    /// Writes bytes to standard error exactly as they are.
    pub(crate) fn err_raw(&mut self, bytes: &[u8]) {
        let _ = self.stderr.flush();
        let _ = io::stderr().write_all(bytes);
    }

    /// Flushes standard output now (for output that streams, like `watch`).
    pub(crate) fn flush(&mut self) {
        if self.error.is_none()
            && let Err(e) = self.stdout.flush()
        {
            self.error = Some(e);
        }
    }

    /// Whether writing to standard output has failed (e.g. the reader went away).
    pub(crate) fn is_closed(&self) -> bool {
        self.error.is_some()
    }

    /// Flushes and returns the first write error.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.stdout.flush()?;
        self.stderr.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::{Cow, cell, passes_unchanged, visible};

    #[test]
    fn controls_from_outside_are_shown_not_obeyed() {
        assert_eq!(
            visible("plain\ttext\nsecond line é →"),
            "plain\ttext\nsecond line é →"
        );
        assert!(matches!(visible("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(visible("a\rb"), "a␍b");
        assert_eq!(visible("\u{1b}[2J\u{7}x\u{7f}"), "␛[2J␇x␡");
        assert_eq!(visible("\u{9b}2J \u{202e}cba\u{2066}"), "�2J �cba�");
        // One character for one: a caret under the line stays under the same character.
        let hostile = "k: \u{1b}]0;title\u{7}\r";
        assert_eq!(visible(hostile).chars().count(), hostile.chars().count());
        assert_eq!(cell("a\tb\nc\u{1b}"), "a␉b␤c␛");
        assert!(matches!(cell("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn only_printable_ascii_and_whitespace_pass_unchanged() {
        for c in (0u8..=0x7f).map(char::from).chain(['é', '\u{9b}', '→']) {
            let expected = c.is_ascii_graphic() || c == ' ' || c.is_ascii_whitespace();
            // Alone, and deep in a long text (past the first block of the check).
            let long = format!("{}{c}{}", "a".repeat(100), "b".repeat(30));
            assert_eq!(passes_unchanged(&c.to_string()), expected, "{c:?}");
            assert_eq!(passes_unchanged(&long), expected, "{c:?} in a long text");
        }
        assert!(passes_unchanged(""));
    }
}
