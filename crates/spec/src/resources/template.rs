//! The Template kind: a reusable Workspace configuration within a Space.

use super::common::*;
use super::workspace::{AdditionalRepository, Image, Runtime};

crate::wire_struct! {
    /// What a Template gives its Workspaces.
    pub struct TemplateSpec {
        /// The image.
        image: Image = "image",
        /// Container behaviour.
        runtime: Runtime = "runtime",
        /// The primary repository.
        repository: Repository = "repository",
        /// Secondary repositories.
        additional_repositories: Vec<AdditionalRepository> = "additionalRepositories",
        /// Default compute for its Workspaces.
        limit: Limit = "limit",
        /// Default variables.
        vars: Vec<Var> = "vars",
        /// The name of a GitProvider in the same Space, whose token is injected.
        git_provider: String = "gitProvider",
    }
}

crate::wire_struct! {
    /// A Template.
    pub struct Template {
        /// `cordium/v1`.
        api_version: String = "apiVersion",
        /// `Template`.
        kind: String = "kind",
        /// Name and description.
        metadata: Metadata = "metadata",
        /// The spec.
        spec: TemplateSpec = "spec",
    }
}
