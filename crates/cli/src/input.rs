//! Reading input files (or standard input) into a source map and typed documents.

use cordium_spec::yaml::{MAX_SOURCE_BYTES, NotUtf8, decode};
use cordium_spec::{Diagnostic, Document, SourceMap, load};
use std::io::Read;
use std::path::Path;

/// A file that could not be read: a usage problem (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {reason}")]
pub(crate) struct ReadError {
    /// The path as given.
    pub(crate) path: String,
    /// Why.
    pub(crate) reason: String,
}

/// Reads one file (`-` is standard input), refusing files over the parser's size limit before
/// reading them whole. Returns the name to show and the decoded text; bytes that are not
/// UTF-8 are invalid input (exit 1, a diagnostic at the first bad byte), not a usage error.
pub(crate) fn read(
    path: &Path,
    base: Option<&Path>,
) -> Result<(String, Result<String, NotUtf8>), ReadError> {
    let name = base
        .and_then(|b| path.strip_prefix(b).ok())
        .unwrap_or(path)
        .display()
        .to_string();
    let fail = |reason: String| ReadError {
        path: name.clone(),
        reason,
    };
    let limit = u64::try_from(MAX_SOURCE_BYTES).unwrap_or(u64::MAX) + 1;
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| fail(e.to_string()))?;
        return Ok(("<stdin>".into(), decode(bytes)));
    }
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    // Sized once from the file's length (bounded by the limit), not grown from 32 bytes.
    if let Ok(meta) = file.metadata() {
        bytes.reserve(usize::try_from(meta.len().min(limit)).unwrap_or(0));
    }
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    Ok((name, decode(bytes)))
}

/// Reads and loads files; names in diagnostics are relative to `base` when given.
pub(crate) fn load_files(
    paths: &[impl AsRef<Path>],
    base: Option<&Path>,
    sources: &mut SourceMap,
) -> Result<(Vec<Vec<Document>>, Vec<Diagnostic>), ReadError> {
    let mut documents = Vec::new();
    let mut diagnostics = Vec::new();
    for path in paths {
        match read(path.as_ref(), base)? {
            (name, Ok(text)) => {
                let id = sources.add(name, text.as_str());
                let loaded = load(&text, id);
                documents.push(loaded.documents);
                diagnostics.extend(loaded.diagnostics);
            }
            (name, Err(bad)) => {
                let id = sources.add(name, bad.text());
                diagnostics.push(bad.diagnostic(id));
                documents.push(Vec::new());
            }
        }
    }
    Ok((documents, diagnostics))
}
