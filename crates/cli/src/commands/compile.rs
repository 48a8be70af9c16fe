//! `cordium compile`.

use super::{compile_files, fail};
use crate::args::{CompileCommand, OutputFormat};
use crate::exit::OK;
use crate::output::Output;
use crate::render::report;

/// Prints the EffectiveWorkspace, or the diagnostics.
pub(crate) fn run(command: &CompileCommand, out: &mut Output) -> i32 {
    match compile_files(&command.args, None, false) {
        Ok((sources, compiled)) => {
            report(
                &compiled.warnings,
                &sources,
                command.args.message_format,
                out,
            );
            out.out(&match command.output {
                OutputFormat::Yaml => compiled.effective.to_yaml(),
                OutputFormat::Json => compiled.effective.to_json(),
            });
            OK
        }
        Err(failure) => fail(failure, command.args.message_format, out),
    }
}
