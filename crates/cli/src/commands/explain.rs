//! `cordium explain`: each effective leaf, its value, its origin, and what it replaced or what
//! capped it.

use super::{compile_files, fail};
use crate::args::ExplainArgs;
use crate::exit::{INVALID, OK};
use crate::output::Output;
use cordium_merge::limits::describe;
use cordium_merge::{LeafOrigin, Origin};
use cordium_spec::SourceMap;

/// Prints the table.
pub(crate) fn run(args: &ExplainArgs, out: &mut Output) -> i32 {
    let (sources, compiled) = match compile_files(&args.compile, None, true) {
        Ok(ok) => ok,
        Err(failure) => return fail(failure, args.compile.message_format, out),
    };
    let leaves: Vec<&LeafOrigin> = compiled
        .provenance
        .iter()
        .filter(|l| match &args.path {
            None => true,
            Some(p) => {
                l.path == *p
                    || l.path
                        .strip_prefix(p.as_str())
                        .is_some_and(|r| r.starts_with(['.', '[']))
            }
        })
        .collect();
    if leaves.is_empty() {
        out.err(&format!(
            "error: no effective field at `{}`\n",
            args.path.as_deref().unwrap_or("spec")
        ));
        return INVALID;
    }
    let rows: Vec<[String; 4]> = leaves.iter().map(|l| row(l, &sources)).collect();
    let headers = ["FIELD", "VALUE", "FROM", "NOTES"];
    let widths: Vec<usize> = (0..3)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 4]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i < 3 {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            } else {
                s.push_str(cell);
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    out.out(&line(headers));
    for r in &rows {
        out.out(&line([&r[0], &r[1], &r[2], &r[3]]));
    }
    OK
}

fn place(origin: &Origin, sources: &SourceMap) -> String {
    let doc = origin
        .document
        .as_ref()
        .map(|d| format!(" {d}"))
        .unwrap_or_default();
    match &origin.location {
        Some(loc) => format!("{}{doc} ({})", origin.layer.label(), sources.display(loc)),
        None => origin.layer.label().to_owned(),
    }
}

fn row(leaf: &LeafOrigin, sources: &SourceMap) -> [String; 4] {
    let mut value = leaf.value.replace('\n', "\\n");
    if value.chars().count() > 48 {
        value = value.chars().take(47).collect::<String>() + "…";
    }
    let mut notes = Vec::new();
    if let Some(first) = leaf.replaced.first() {
        let more = if leaf.replaced.len() > 1 {
            format!(" (+{} more)", leaf.replaced.len() - 1)
        } else {
            String::new()
        };
        notes.push(format!("replaced {}{more}", place(first, sources)));
    }
    for cap in &leaf.caps {
        notes.push(format!(
            "capped from {} by {}",
            cap.requested,
            describe(&cap.by, sources)
        ));
    }
    if !leaf.vars.is_empty() {
        notes.push(format!(
            "substituted {}",
            leaf.vars
                .iter()
                .map(|v| format!("vars.{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    // Every cell may quote the files (values, keys, file names): shown, not obeyed.
    [
        leaf.path.clone(),
        value,
        place(&leaf.origin, sources),
        notes.join("; "),
    ]
    .map(|cell| crate::output::cell(&cell).into_owned())
}
