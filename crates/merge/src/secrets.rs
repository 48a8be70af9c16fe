//! Secret references: every `fromSecret` and `fromUserSecret` of the merged tree must name a
//! secret that exists, when the names of the existing ones are known.

use crate::codes;
use crate::inputs::Options;
use crate::provenance::LayerIndex;
use cordium_spec::path::{Step, walk};
use cordium_spec::{Diagnostic, FieldPath, Location, Node};
use std::collections::BTreeSet;

/// Reports every `fromSecret` and `fromUserSecret` naming a secret that does not exist, when
/// the names of the existing ones are known.
pub(crate) fn check_secret_references(
    spec: &Node,
    options: &Options,
    index: &LayerIndex,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if options.secrets.is_none() && options.user_secrets.is_none() {
        // Nothing is known to check against.
        return;
    }
    walk(spec, &FieldPath::root("spec"), (), &mut |node, path, ()| {
        let (known, what) = match path.last() {
            Some(Step::Field("fromSecret")) => (&options.secrets, "Secret"),
            Some(Step::Field("fromUserSecret")) => (&options.user_secrets, "UserSecret"),
            _ => return Some(()),
        };
        if let (Some(known), Some(name)) = (known, node.as_str())
            && !known.contains(name)
        {
            diagnostics
                .push(missing_secret(name, known, what, node.loc, index).at_path(path.to_string()));
        }
        Some(())
    });
}

/// The error for a reference to the `what` (Secret or UserSecret) `name`, which is not among
/// `known`.
fn missing_secret(
    name: &str,
    known: &BTreeSet<String>,
    what: &str,
    loc: Location,
    index: &LayerIndex,
) -> Diagnostic {
    let layer = index.origin(&loc).layer.label();
    let d = Diagnostic::error(
        codes::MISSING_SECRET,
        format!("{what} `{name}` does not exist (referenced in the {layer})"),
    )
    .at(loc);
    match cordium_spec::convert::closest(name, known.iter().map(String::as_str)) {
        Some(best) => d.with_help(format!("did you mean `{best}`?")),
        None if known.is_empty() => d.with_help(format!("no {what}s exist; create `{name}` first")),
        None => d.with_help(format!(
            "create the {what} `{name}`, or use one of: {}",
            known.iter().cloned().collect::<Vec<_>>().join(", ")
        )),
    }
}
