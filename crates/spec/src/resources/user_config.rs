//! The UserConfig kind: one per user, applied to every Workspace of that user.

use super::common::*;

crate::wire_struct! {
    /// What a user sets for all of their Workspaces.
    pub struct UserConfigSpec {
        /// A dotfiles repository cloned to `~/dotfiles` on fresh runs.
        dotfiles: Dotfiles = "dotfiles",
        /// Environment variables (the lowest configured precedence).
        env_vars: Vec<UserEnvVar> = "envVars",
        /// Tasks, run after every other layer's.
        tasks: Vec<Task> = "tasks",
        /// The preferred region.
        preferred_region: String = "preferredRegion",
    }
}

crate::wire_struct! {
    /// A UserConfig.
    pub struct UserConfig {
        /// `cordium/v1`.
        api_version: String = "apiVersion",
        /// `UserConfig`.
        kind: String = "kind",
        /// Name and description.
        metadata: Metadata = "metadata",
        /// The spec.
        spec: UserConfigSpec = "spec",
    }
}
