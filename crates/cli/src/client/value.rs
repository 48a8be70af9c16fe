//! A secret's value: from `--value-from-file`, `--value-stdin` or the document's `data`,
//! byte for byte, at most 1 MiB; never from the command line.

use super::document::Input;
use super::error::ClientError;
use crate::args::WriteArgs;
use cordium_api as pb;
use cordium_spec::Kind;
use std::io::Read as _;

/// The value given by `--value-from-file` or `--value-stdin`, byte for byte.
pub(crate) fn flag_value(args: &WriteArgs) -> Result<Option<Vec<u8>>, ClientError> {
    const LIMIT: u64 = 1024 * 1024;
    let mut bytes = Vec::new();
    if let Some(path) = &args.value_from_file {
        let fail =
            |e: std::io::Error| ClientError::Usage(format!("cannot read {}: {e}", path.display()));
        std::fs::File::open(path)
            .and_then(|f| f.take(LIMIT + 1).read_to_end(&mut bytes))
            .map_err(fail)?;
    } else if args.value_stdin {
        std::io::stdin()
            .take(LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ClientError::Usage(format!("cannot read standard input: {e}")))?;
    } else {
        return Ok(None);
    }
    if bytes.len() as u64 > LIMIT {
        return Err(ClientError::Input(
            "the secret value is larger than 1 MiB".into(),
        ));
    }
    Ok(Some(bytes))
}

/// The secret value: from the document's `data` or from a flag, not both.
pub(crate) fn secret_value(
    input: &mut Input,
    flag: Option<Vec<u8>>,
) -> Result<Option<pb::SecretData>, ClientError> {
    use pb::secret_data::Value;
    match (input.data.take(), flag) {
        (Some(_), Some(_)) => Err(ClientError::Usage(format!(
            "the value is given twice: in {} (`data`) and by a --value flag; keep one",
            input.file
        ))),
        (Some(data), None) => Ok(Some(data)),
        (None, Some(bytes)) => Ok(Some(pb::SecretData {
            value: Some(match String::from_utf8(bytes) {
                Ok(text) => Value::Text(text),
                Err(e) => Value::Bytes(e.into_bytes()),
            }),
        })),
        (None, None) => Ok(None),
    }
}

/// A Secret or UserSecret created without a value.
pub(crate) fn no_value(kind: Kind) -> ClientError {
    let kind = kind.as_str();
    ClientError::Usage(format!(
        "a {kind} needs a value: --value-from-file FILE, --value-stdin, or `data: {{value: ...}}` in the document"
    ))
}
