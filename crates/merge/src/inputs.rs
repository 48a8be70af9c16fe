//! What the compiler takes: at most one document per layer, exactly one Workspace, and the
//! options of the run.

use crate::codes;
use cordium_spec::{Diagnostic, Diagnostics, Document, Kind, SourceMap};
use std::collections::BTreeSet;

/// The options of one compilation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Variables given for this run (`--var NAME=VALUE`), highest precedence, in order.
    pub run_vars: Vec<(String, String)>,
    /// The names of the Space's Secrets, when known: references to others are errors.
    pub secrets: Option<BTreeSet<String>>,
    /// The names of the user's UserSecrets, when known: references to others are errors.
    pub user_secrets: Option<BTreeSet<String>>,
    /// Compile for a pre-build: the Cluster `buildLimit` takes the Workspace's place.
    pub build: bool,
    /// Substitute undefined variables with "" and warn, as upstream did.
    pub allow_undefined_vars: bool,
    /// Record the provenance of every leaf (for `cordium explain` and the API).
    pub provenance: bool,
}

/// The layers of one compilation, each already parsed and validated by the spec crate.
#[derive(Debug, Clone)]
pub struct Inputs<'s> {
    /// The files the documents came from, for the places named in notes.
    pub sources: &'s SourceMap,
    /// The Workspace (required).
    pub workspace: Document,
    /// The Workspace document found in the repository, if any.
    pub repository_file: Option<Document>,
    /// The Template.
    pub template: Option<Document>,
    /// The Space.
    pub space: Option<Document>,
    /// The UserConfig.
    pub user_config: Option<Document>,
    /// The ClusterConfig.
    pub cluster: Option<Document>,
    /// Run options.
    pub options: Options,
}

impl<'s> Inputs<'s> {
    /// Picks each layer by `kind` from `documents` (at most one of each, exactly one
    /// Workspace); `repository_file`, when given, is the repository-file layer. The order of
    /// `documents` does not matter. Secret, UserSecret and GitProvider documents are not layers
    /// and are refused: their values never enter the compiler.
    pub fn from_documents(
        sources: &'s SourceMap,
        documents: Vec<Document>,
        repository_file: Option<Document>,
        options: Options,
    ) -> Result<Self, Diagnostics> {
        let mut slots: [Option<Document>; 5] = Default::default();
        let mut problems = Vec::new();
        for doc in documents {
            let slot = match doc.kind {
                Kind::Workspace => 0,
                Kind::Template => 1,
                Kind::Space => 2,
                Kind::UserConfig => 3,
                Kind::ClusterConfig => 4,
                Kind::Secret | Kind::UserSecret | Kind::GitProvider => {
                    problems.push(
                        Diagnostic::error(
                            codes::NOT_A_LAYER,
                            format!("a {} is not a configuration layer", doc.kind.as_str()),
                        )
                        .at(doc.root.loc)
                        .with_help("pass the names of existing secrets with `--secrets` / `--user-secrets`; secret values never enter the compiler"),
                    );
                    continue;
                }
            };
            match &slots[slot] {
                Some(first) => problems.push(
                    Diagnostic::error(
                        codes::DUPLICATE_LAYER,
                        format!("more than one {} was given", doc.kind.as_str()),
                    )
                    .at(doc.root.loc)
                    .with_related(first.root.loc, "the first one")
                    .with_help("give at most one document of each kind"),
                ),
                None => slots[slot] = Some(doc),
            }
        }
        if let Some(repo) = &repository_file
            && repo.kind != Kind::Workspace
        {
            problems.push(
                Diagnostic::error(
                    codes::NOT_A_LAYER,
                    "the repository file must be a Workspace document",
                )
                .at(repo.root.loc),
            );
        }
        let [workspace, template, space, user_config, cluster] = slots;
        let Some(workspace) = workspace else {
            problems.push(
                Diagnostic::error(codes::NO_WORKSPACE, "no Workspace was given").with_help(
                    "add a document with `kind: Workspace` (or a kind-less document with `spec:`)",
                ),
            );
            return Err(Diagnostics(problems));
        };
        if !problems.is_empty() {
            return Err(Diagnostics(problems));
        }
        Ok(Self {
            sources,
            workspace,
            repository_file,
            template,
            space,
            user_config,
            cluster,
            options,
        })
    }
}
