//! Variable substitution, the last step: `${{ vars.NAME }}` in exactly the eligible fields.

use cordium_spec::path::{Pattern, walk_strings_mut};
use cordium_spec::{Diagnostic, FieldPath, Location, Node};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

/// The fields (relative to `spec`; `[]` for any index) where `${{ vars.NAME }}` is substituted.
/// `${{` anywhere else is kept as written.
pub const ELIGIBLE: &[&str] = &[
    "image.registry.url",
    "image.dockerfile.url",
    "image.git.url",
    "image.git.checkout",
    "image.git.dockerfile",
    "image.git.context",
    "repository.url",
    "repository.cloneOptions.branch",
    "repository.cloneOptions.checkout",
    "additionalRepositories[].repository.url",
    "additionalRepositories[].repository.cloneOptions.branch",
    "additionalRepositories[].repository.cloneOptions.checkout",
    "runtime.cmd",
    "runtime.entrypoint",
    "runtime.envVars[].value",
    "runtime.tasks[].run",
    "runtime.tasks[].workingDir",
    "runtime.tasks[].envVars[].value",
    "dotfiles.url",
    "dotfiles.branch",
];

/// [`ELIGIBLE`] with each path parsed once.
static ELIGIBLE_PARSED: LazyLock<Vec<Pattern<'static>>> =
    LazyLock::new(|| ELIGIBLE.iter().map(|path| Pattern::new(path)).collect());

/// A `${{ vars.NAME }}` reference found in an eligible field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VarReference {
    /// The variable name.
    pub name: String,
    /// The field path, e.g. `spec.repository.cloneOptions.branch`.
    pub path: String,
    /// Where the string holding it was written.
    #[serde(skip)]
    pub location: Location,
}

/// What substitution did and found.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Lenient-mode substitutions of undefined variables, at the reference.
    pub(crate) warnings: Vec<Diagnostic>,
    pub(crate) references: Vec<VarReference>,
    /// For each substituted node: the variables it used. Ordered maps of locations, here and
    /// in the fold: a few comparisons per insert cost less than hashing the key, and need no
    /// random state.
    pub(crate) substituted: BTreeMap<crate::tree::LocKey, Vec<String>>,
    /// Nodes whose substitution failed (already reported; their shape is not checked).
    pub(crate) failed: BTreeSet<crate::tree::LocKey>,
}

/// Substitutes `vars` into the eligible fields of the spec tree (in place), or, with
/// `apply == false`, only lists the references.
pub(crate) fn substitute(
    spec: &mut Node,
    vars: &BTreeMap<String, String>,
    lenient: bool,
    apply: bool,
) -> Outcome {
    let mut substitution = Substitution {
        vars,
        lenient,
        apply,
        outcome: Outcome::default(),
    };
    // One buffer for every path's text: it grows once, not once per reference.
    let mut path_text = String::new();
    walk_strings_mut(spec, &FieldPath::root("spec"), &mut |text, loc, path| {
        if cordium_spec::shapes::is_templated(text)
            && ELIGIBLE_PARSED
                .iter()
                .any(|field| path.matches_pattern(field))
        {
            path_text.clear();
            path.write_to(&mut path_text);
            if let Some(new) = substitution.substitute_one(text, loc, &path_text) {
                *text = new;
            }
        }
    });
    substitution.outcome
}

/// One substitution run: the variables, the mode, and what it found so far.
struct Substitution<'v> {
    vars: &'v BTreeMap<String, String>,
    lenient: bool,
    apply: bool,
    outcome: Outcome,
}

impl Substitution<'_> {
    fn substitute_one(&mut self, text: &str, loc: Location, path: &str) -> Option<String> {
        let template = match cordium_vars::parse(text) {
            Ok(t) => t,
            Err(e) => {
                self.outcome.diagnostics.push(vars_error(&e, loc, path));
                self.outcome.failed.insert(crate::tree::key(&loc));
                return None;
            }
        };
        let names: Vec<String> = template.references().map(|r| r.name.to_owned()).collect();
        for name in &names {
            self.outcome.references.push(VarReference {
                name: name.clone(),
                path: path.to_owned(),
                location: loc,
            });
        }
        if !self.apply {
            return None;
        }
        let result = if self.lenient {
            let (value, warnings) = cordium_vars::substitute_lenient(&template, self.vars);
            for w in warnings {
                self.outcome.warnings.push(
                    Diagnostic::warning(
                        crate::codes::LENIENT_VAR,
                        format!(
                            "undefined variable `{}` at {} became an empty string",
                            w.name, path
                        ),
                    )
                    .at(loc)
                    .at_path(path)
                    .with_span(loc.span_within(w.span.clone()))
                    .with_help("define it, or drop --allow-undefined-vars to make this an error"),
                );
            }
            value.into_owned()
        } else {
            match cordium_vars::substitute(&template, self.vars) {
                Ok(value) => value.into_owned(),
                Err(e) => {
                    self.outcome.diagnostics.push(vars_error(&e, loc, path));
                    self.outcome.failed.insert(crate::tree::key(&loc));
                    return None;
                }
            }
        };
        self.outcome
            .substituted
            .insert(crate::tree::key(&loc), names);
        Some(result)
    }
}

/// A variable error at the string written at `loc`, field `path`.
fn vars_error(e: &cordium_vars::Error, loc: Location, path: &str) -> Diagnostic {
    let undefined = matches!(e.kind, cordium_vars::ErrorKind::UndefinedVariable { .. });
    let mut d = Diagnostic::error(e.code(), e.to_string())
        .at(loc)
        .at_path(path)
        .with_span(loc.span_within(e.span.clone()));
    if let Some(help) = e.help() {
        d = d.with_help(help);
    } else if undefined {
        d = d.with_help(
            "define it in `spec.vars` of the Template or Workspace, or pass `--var NAME=VALUE`",
        );
    }
    d
}
