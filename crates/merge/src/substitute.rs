//! Variable substitution, the last step: `${{ vars.NAME }}` in exactly the eligible fields.

use cordium_spec::path::{Pattern, walk_strings_mut};
use cordium_spec::shapes::{MAX_GIT_REF_BYTES, MAX_URL_BYTES};
use cordium_spec::validate::{MAX_PATH_BYTES, MAX_RUN_BYTES, MAX_VALUE_BYTES};
use cordium_spec::{Diagnostic, FieldPath, Location, Node};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

/// A field where `${{ vars.NAME }}` is substituted, and the most bytes its value may hold
/// after substitution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eligible {
    /// The field's path relative to `spec`, `[]` for any index.
    pub path: &'static str,
    /// The most bytes the substituted value may hold: the limit validation sets on what is
    /// written there (`cmd`, an env value, a task's `run`), or its shape's (a URL, a git ref).
    /// Checked before the value is built, so that a few references to a long variable cannot
    /// ask for gigabytes.
    pub max_len: usize,
}

/// The fields (relative to `spec`; `[]` for any index) where `${{ vars.NAME }}` is substituted.
/// `${{` anywhere else is kept as written.
pub const ELIGIBLE: &[Eligible] = &[
    eligible("image.registry.url", MAX_URL_BYTES),
    eligible("image.dockerfile.url", MAX_URL_BYTES),
    eligible("image.git.url", MAX_URL_BYTES),
    eligible("image.git.checkout", MAX_GIT_REF_BYTES),
    eligible("image.git.dockerfile", MAX_PATH_BYTES),
    eligible("image.git.context", MAX_PATH_BYTES),
    eligible("repository.url", MAX_URL_BYTES),
    eligible("repository.cloneOptions.branch", MAX_GIT_REF_BYTES),
    eligible("repository.cloneOptions.checkout", MAX_GIT_REF_BYTES),
    eligible("additionalRepositories[].repository.url", MAX_URL_BYTES),
    eligible(
        "additionalRepositories[].repository.cloneOptions.branch",
        MAX_GIT_REF_BYTES,
    ),
    eligible(
        "additionalRepositories[].repository.cloneOptions.checkout",
        MAX_GIT_REF_BYTES,
    ),
    eligible("runtime.cmd", MAX_VALUE_BYTES),
    eligible("runtime.entrypoint", MAX_VALUE_BYTES),
    eligible("runtime.envVars[].value", MAX_VALUE_BYTES),
    eligible("runtime.tasks[].run", MAX_RUN_BYTES),
    eligible("runtime.tasks[].workingDir", MAX_PATH_BYTES),
    eligible("runtime.tasks[].envVars[].value", MAX_VALUE_BYTES),
    eligible("dotfiles.url", MAX_URL_BYTES),
    eligible("dotfiles.branch", MAX_GIT_REF_BYTES),
];

const fn eligible(path: &'static str, max_len: usize) -> Eligible {
    Eligible { path, max_len }
}

/// [`ELIGIBLE`] with each path parsed once.
static ELIGIBLE_PARSED: LazyLock<Vec<(Pattern<'static>, usize)>> = LazyLock::new(|| {
    ELIGIBLE
        .iter()
        .map(|field| (Pattern::new(field.path), field.max_len))
        .collect()
});

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
        if !cordium_spec::shapes::is_templated(text) {
            return;
        }
        if let Some(&(_, max_len)) = ELIGIBLE_PARSED
            .iter()
            .find(|(field, _)| path.matches_pattern(field))
        {
            path_text.clear();
            path.write_to(&mut path_text);
            if let Some(new) = substitution.substitute_one(text, loc, &path_text, max_len) {
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
    fn substitute_one(
        &mut self,
        text: &str,
        loc: Location,
        path: &str,
        max_len: usize,
    ) -> Option<String> {
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
        if let Err(e) = template.check_len(self.vars, max_len) {
            self.outcome.diagnostics.push(vars_error(&e, loc, path));
            self.outcome.failed.insert(crate::tree::key(&loc));
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
