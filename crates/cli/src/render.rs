//! Diagnostics for people (rustc-like, with the source line and a caret) and for tools (JSON
//! lines).

use crate::args::MessageFormat;
use crate::output::{Output, visible};
use anstyle::{AnsiColor, Style};
use cordium_spec::{Diagnostic, Location, Severity, SourceMap};
use std::fmt::Write as _;

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const BLUE: Style = AnsiColor::Blue.on_default().bold();
const BOLD: Style = Style::new().bold();

/// Renders one diagnostic the way rustc does: header, place, source line, caret, notes.
pub(crate) fn human(d: &Diagnostic, sources: &SourceMap) -> String {
    let mut out = String::new();
    let (label, style) = match d.severity {
        Severity::Error => ("error", ERROR),
        Severity::Warning => ("warning", WARNING),
    };
    let _ = writeln!(
        out,
        "{style}{label}[{}]{style:#}{BOLD}: {}{BOLD:#}",
        d.code,
        visible(&d.message)
    );
    let gutter = d
        .location
        .iter()
        .chain(d.related.iter().map(|r| &r.location))
        .map(|l| l.line.to_string().len())
        .max()
        .unwrap_or(1);
    let pad = " ".repeat(gutter);
    if let Some(loc) = &d.location {
        let span = d.primary_span().unwrap_or_else(|| loc.span());
        snippet(&mut out, sources, loc, span, "-->", '^', "", style, &pad);
    }
    for related in &d.related {
        snippet(
            &mut out,
            sources,
            &related.location,
            related.location.span(),
            ":::",
            '-',
            &visible(&related.message),
            BLUE,
            &pad,
        );
    }
    if !d.path.is_empty() {
        let _ = writeln!(
            out,
            "{pad} {BLUE}={BLUE:#} {BOLD}field{BOLD:#}: {}",
            visible(&d.path)
        );
    }
    if let Some(help) = &d.help {
        let _ = writeln!(
            out,
            "{pad} {BLUE}={BLUE:#} {BOLD}help{BOLD:#}: {}",
            visible(help)
        );
    }
    out
}

#[allow(clippy::too_many_arguments, reason = "a private formatting helper")]
fn snippet(
    out: &mut String,
    sources: &SourceMap,
    loc: &Location,
    span: std::ops::Range<usize>,
    arrow: &str,
    mark: char,
    label: &str,
    style: Style,
    pad: &str,
) {
    let Some(source) = sources.get(loc.source) else {
        return;
    };
    let (line, column, text) = source.line_of(span.start);
    let _ = writeln!(
        out,
        "{pad}{BLUE}{arrow}{BLUE:#} {}:{line}:{column}",
        visible(&source.name)
    );
    let _ = writeln!(out, "{pad} {BLUE}|{BLUE:#}");
    let col0 = column.saturating_sub(1);
    let (end_line, _, _) = source.line_of(span.end.saturating_sub(1).max(span.start));
    let span_chars = if end_line == line {
        source
            .text
            .get(span.clone())
            .map_or(1, |s| s.chars().count())
    } else {
        usize::MAX
    };
    let window = Window::around(text, col0, span_chars);
    let _ = writeln!(
        out,
        "{BLUE}{line:>width$} |{BLUE:#} {}{}{}",
        window.before,
        visible(window.text),
        window.after,
        width = pad.len()
    );
    let indent: String = std::iter::repeat_n(' ', window.before.chars().count())
        .chain(
            window
                .text
                .chars()
                .take(window.caret)
                .map(|c| if c == '\t' { '\t' } else { ' ' }),
        )
        .collect();
    let width = window.marks;
    let marks: String = std::iter::repeat_n(mark, width).collect();
    let label = if label.is_empty() {
        String::new()
    } else {
        format!(" {label}")
    };
    let _ = writeln!(
        out,
        "{pad} {BLUE}|{BLUE:#} {indent}{style}{marks}{label}{style:#}"
    );
}

/// The most characters of a source line a snippet shows: a minified JSON file or a long
/// generated line is cut around the caret, as rustc does, so one diagnostic stays a few lines
/// long whatever the input.
const MAX_LINE_CHARS: usize = 120;
/// How many characters of context a cut line keeps before the caret.
const CONTEXT_BEFORE: usize = 40;

/// The part of a source line a snippet prints, and where its caret goes.
#[derive(Debug, PartialEq)]
struct Window<'a> {
    /// `…` when the line was cut before the window, else empty.
    before: &'static str,
    /// The characters shown.
    text: &'a str,
    /// `…` when the line was cut after the window, else empty.
    after: &'static str,
    /// Characters of `text` before the caret.
    caret: usize,
    /// How many marks to draw (at least one, never past the window).
    marks: usize,
}

impl<'a> Window<'a> {
    /// The window of `line` around the span starting `caret` characters in and `span_chars`
    /// long (`usize::MAX` when it runs past the line).
    fn around(line: &'a str, caret: usize, span_chars: usize) -> Self {
        let total = line.chars().count();
        let (start, end) = if total <= MAX_LINE_CHARS {
            (0, total)
        } else {
            let start = caret
                .saturating_sub(CONTEXT_BEFORE)
                .min(total - MAX_LINE_CHARS);
            (start, start + MAX_LINE_CHARS)
        };
        let byte = |n: usize| line.char_indices().nth(n).map_or(line.len(), |(i, _)| i);
        let caret = caret.clamp(start, end) - start;
        let room = (end - start).saturating_sub(caret).max(1);
        Window {
            before: if start > 0 { "…" } else { "" },
            text: &line[byte(start)..byte(end)],
            after: if end < total { "…" } else { "" },
            caret,
            marks: span_chars.clamp(1, room),
        }
    }
}

/// One diagnostic as a single JSON object (no trailing newline).
pub(crate) fn json(d: &Diagnostic, sources: &SourceMap) -> String {
    let place = |l: &Location| {
        serde_json::json!({
            "file": sources.name(l.source),
            "line": l.line,
            "column": l.column,
        })
    };
    let span = d.primary_span().and_then(|s| {
        let loc = d.location?;
        let source = sources.get(loc.source)?;
        let (line, column, _) = source.line_of(s.start);
        let (end_line, end_column, _) = source.line_of(s.end);
        Some(serde_json::json!({"start": {"line": line, "column": column}, "end": {"line": end_line, "column": end_column}, "byteStart": s.start, "byteEnd": s.end}))
    });
    // The place the human format's `-->` line shows: the start of the primary span (e.g. the
    // `${{ vars.X }}` inside a string), not the start of the whole node.
    let location = d.location.as_ref().map(|l| {
        let mut p = place(l);
        if let Some(start) = span.as_ref().map(|s| &s["start"]) {
            p["line"] = start["line"].clone();
            p["column"] = start["column"].clone();
        }
        p
    });
    let value = serde_json::json!({
        "severity": d.severity,
        "code": d.code,
        "message": d.message,
        "path": d.path,
        "location": location,
        "span": span,
        "help": d.help,
        "related": d.related.iter().map(|r| {
            let mut p = place(&r.location);
            p["message"] = r.message.clone().into();
            p
        }).collect::<Vec<_>>(),
    });
    value.to_string()
}

/// The closing line: `error: 3 problems found in ws.yaml`.
pub(crate) fn summary(diagnostics: &[Diagnostic]) -> Option<String> {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    (errors > 0).then(|| {
        format!(
            "{ERROR}error{ERROR:#}{BOLD}: {errors} problem{} found{BOLD:#}",
            if errors == 1 { "" } else { "s" }
        )
    })
}

/// Diagnostics shown to a person at most; the rest are counted (a file with a mistake on every
/// line would otherwise print megabytes). JSON lists every one, for tools.
pub(crate) const MAX_SHOWN: usize = 100;

/// Prints diagnostics in the chosen format, with a summary line for people.
pub(crate) fn report(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    format: MessageFormat,
    out: &mut Output,
) {
    match format {
        MessageFormat::Human => {
            for d in diagnostics.iter().take(MAX_SHOWN) {
                out.err(&human(d, sources));
                out.err("\n");
            }
            if let Some(left_out) = diagnostics.len().checked_sub(MAX_SHOWN).filter(|n| *n > 0) {
                out.err(&format!(
                    "... and {left_out} more not shown (`--message-format json` lists every one)\n\n"
                ));
            }
            if let Some(summary) = summary(diagnostics) {
                out.err(&summary);
                out.err("\n");
            }
        }
        MessageFormat::Json => {
            for d in diagnostics {
                out.err(&json(d, sources));
                out.err("\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_shown_whole() {
        let w = Window::around("key: value", 5, 5);
        assert_eq!(
            (w.before, w.text, w.after, w.caret, w.marks),
            ("", "key: value", "", 5, 5)
        );
    }

    #[test]
    fn long_lines_are_cut_around_the_caret() {
        let line = format!("{}BAD{}", "a".repeat(5_000), "b".repeat(5_000));
        let w = Window::around(&line, 5_000, 3);
        assert_eq!((w.before, w.after), ("…", "…"));
        assert_eq!(w.text.chars().count(), MAX_LINE_CHARS);
        assert_eq!(&w.text[w.caret..w.caret + 3], "BAD");
        assert_eq!(w.marks, 3);
    }

    #[test]
    fn a_caret_near_either_end_keeps_the_window_full() {
        let line = "x".repeat(1_000);
        let start = Window::around(&line, 0, usize::MAX);
        assert_eq!((start.before, start.after, start.caret), ("", "…", 0));
        assert_eq!(start.marks, MAX_LINE_CHARS);
        let end = Window::around(&line, 999, 1);
        assert_eq!((end.before, end.after), ("…", ""));
        assert_eq!(end.text.chars().count(), MAX_LINE_CHARS);
        assert_eq!(end.caret, MAX_LINE_CHARS - 1);
    }

    #[test]
    fn a_rendered_diagnostic_stays_short_on_a_huge_line() {
        let mut sources = SourceMap::new();
        let text = format!(
            "spec: {{image: {{registry: {{url: 5}}}}, x: \"{}\"}}",
            "y".repeat(1 << 20)
        );
        let id = sources.add("big.yaml", text.as_str());
        let d = Diagnostic::error("spec::type", "expected a string").at(Location {
            source: id,
            line: 1,
            column: 33,
            offset: 32,
            len: 1,
            content: None,
        });
        let rendered = human(&d, &sources);
        assert!(rendered.len() < 1_000, "{} bytes", rendered.len());
        assert!(rendered.contains("big.yaml:1:33"), "{rendered}");
    }
}
