//! `cordium schema`: the JSON Schemas.

use crate::args::SchemaArgs;
use crate::exit::{OK, USAGE};
use crate::output::Output;
use cordium_spec::Kind;
use cordium_spec::schema;

/// Prints (or writes) the schemas.
pub(crate) fn run(args: &SchemaArgs, out: &mut Output) -> i32 {
    if let Some(dir) = &args.write {
        for (name, text) in schema::all_files() {
            if let Err(e) =
                std::fs::create_dir_all(dir).and_then(|()| std::fs::write(dir.join(&name), text))
            {
                out.err(&format!(
                    "error: cannot write {}: {e}\n",
                    dir.join(&name).display()
                ));
                return USAGE;
            }
        }
        return OK;
    }
    let value = match &args.kind {
        None => schema::any_kind(),
        Some(k) => match Kind::ALL
            .iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(k))
        {
            Some(kind) => schema::for_kind(*kind),
            None => {
                out.err(&format!(
                    "error: unknown kind `{k}`; expected one of {}\n",
                    Kind::NAMES.join(", ")
                ));
                return USAGE;
            }
        },
    };
    out.out(&(serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"));
    OK
}
