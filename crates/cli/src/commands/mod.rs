//! The commands, and what they share: compiling files and reporting diagnostics.

mod compile;
mod explain;
mod schema;
mod test;
mod validate;

use crate::args::{CompileArgs, MessageFormat, OfflineCommand};
use crate::exit::{INVALID, USAGE};
use crate::input::{ReadError, load_files};
use crate::output::Output;
use crate::render::report;
use cordium_merge::{Compiled, Inputs, Options};
use cordium_spec::{Diagnostic, SourceMap};
use std::path::Path;

/// Runs a command and returns its exit code.
pub(crate) fn run(command: OfflineCommand, out: &mut Output) -> i32 {
    match command {
        OfflineCommand::Compile(c) => compile::run(&c, out),
        OfflineCommand::Explain(e) => explain::run(&e, out),
        OfflineCommand::Validate(v) => validate::run(&v, out),
        OfflineCommand::Test(t) => test::run(&t, out),
        OfflineCommand::Schema(s) => schema::run(&s, out),
    }
}

/// Why a compilation produced nothing.
pub(crate) enum Failure {
    /// A file could not be read.
    Usage(ReadError),
    /// The input has errors.
    Invalid(SourceMap, Vec<Diagnostic>),
}

/// Reads, validates and compiles the layers named by `args`.
pub(crate) fn compile_files(
    args: &CompileArgs,
    base: Option<&Path>,
    provenance: bool,
) -> Result<(SourceMap, Compiled), Failure> {
    let mut sources = SourceMap::new();
    let (documents, mut diagnostics) =
        load_files(&args.files, base, &mut sources).map_err(Failure::Usage)?;
    let repository_file = match &args.repo_file {
        Some(path) => {
            let (mut docs, diags) = load_files(std::slice::from_ref(path), base, &mut sources)
                .map_err(Failure::Usage)?;
            diagnostics.extend(diags);
            let mut docs = docs.pop().unwrap_or_default();
            if docs.len() > 1 {
                diagnostics.push(
                    Diagnostic::error(
                        "compile::repo-file",
                        "the repository file must hold one Workspace document",
                    )
                    .at(docs[1].root.loc),
                );
            }
            docs.drain(..).next()
        }
        None => None,
    };
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(Failure::Invalid(sources, diagnostics));
    }
    let options = Options {
        run_vars: args.vars.clone(),
        secrets: args
            .secrets
            .as_ref()
            .map(|s| s.iter().filter(|n| !n.is_empty()).cloned().collect()),
        user_secrets: args
            .user_secrets
            .as_ref()
            .map(|s| s.iter().filter(|n| !n.is_empty()).cloned().collect()),
        build: args.build,
        allow_undefined_vars: args.allow_undefined_vars,
        provenance,
    };
    let inputs = match Inputs::from_documents(
        &sources,
        documents.into_iter().flatten().collect(),
        repository_file,
        options,
    ) {
        Ok(inputs) => inputs,
        Err(d) => return Err(Failure::Invalid(sources, d.0)),
    };
    match cordium_merge::compile(inputs) {
        Ok(compiled) => Ok((sources, compiled)),
        Err(d) => Err(Failure::Invalid(sources, d.0)),
    }
}

/// Reports a failure and returns its exit code.
pub(crate) fn fail(failure: Failure, format: MessageFormat, out: &mut Output) -> i32 {
    match failure {
        Failure::Usage(e) => {
            out.err(&format!("error: {e}\n"));
            USAGE
        }
        Failure::Invalid(sources, diagnostics) => {
            report(&diagnostics, &sources, format, out);
            INVALID
        }
    }
}
