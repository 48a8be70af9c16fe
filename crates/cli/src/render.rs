//! Diagnostics for people (rustc-like, with the source line and a caret) and for tools (JSON
//! lines).

use crate::args::MessageFormat;
use crate::output::Output;
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
        d.code, d.message
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
            &related.message,
            BLUE,
            &pad,
        );
    }
    if !d.path.is_empty() {
        let _ = writeln!(out, "{pad} {BLUE}={BLUE:#} {BOLD}field{BOLD:#}: {}", d.path);
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "{pad} {BLUE}={BLUE:#} {BOLD}help{BOLD:#}: {help}");
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
        source.name
    );
    let _ = writeln!(out, "{pad} {BLUE}|{BLUE:#}");
    let _ = writeln!(
        out,
        "{BLUE}{line:>width$} |{BLUE:#} {text}",
        width = pad.len()
    );
    let col0 = column.saturating_sub(1);
    let remaining = text.chars().count().saturating_sub(col0).max(1);
    let (end_line, _, _) = source.line_of(span.end.saturating_sub(1).max(span.start));
    let width = if end_line == line {
        source
            .text
            .get(span.clone())
            .map_or(1, |s| s.chars().count())
            .clamp(1, remaining)
    } else {
        remaining
    };
    let indent: String = text
        .chars()
        .take(col0)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
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

/// Prints diagnostics in the chosen format, with a summary line for people.
pub(crate) fn report(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    format: MessageFormat,
    out: &mut Output,
) {
    match format {
        MessageFormat::Human => {
            for d in diagnostics {
                out.err(&human(d, sources));
                out.err("\n");
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
