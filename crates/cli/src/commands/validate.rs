//! `cordium validate`: every document on its own, every problem.

use crate::args::ValidateArgs;
use crate::exit::{INVALID, OK, USAGE};
use crate::input::load_files;
use crate::output::Output;
use crate::render::report;
use cordium_spec::{Diagnostic, SourceMap};

/// Checks the files and prints the problems, or one line per valid file.
pub(crate) fn run(args: &ValidateArgs, out: &mut Output) -> i32 {
    let mut sources = SourceMap::new();
    let (documents, diagnostics) = match load_files(&args.files, None, &mut sources) {
        Ok(loaded) => loaded,
        Err(e) => {
            out.err(&format!("error: {e}\n"));
            return USAGE;
        }
    };
    report(&diagnostics, &sources, args.message_format, out);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return INVALID;
    }
    for (i, docs) in documents.iter().enumerate() {
        let name = sources
            .get(cordium_spec::SourceId(u32::try_from(i).unwrap_or(u32::MAX)))
            .map_or("", |s| &s.name);
        let kinds: Vec<&str> = docs.iter().map(|d| d.kind.as_str()).collect();
        out.out(&format!(
            "valid: {name} ({})\n",
            if kinds.is_empty() {
                "no documents".into()
            } else {
                kinds.join(", ")
            }
        ));
    }
    OK
}
