//! The Space kind: the namespace whose runtime settings cascade to every Workspace in it.

use super::common::*;

crate::wire_struct! {
    /// Defaults and caps for the Workspaces of a Space.
    pub struct SpaceLimit {
        /// Used per dimension when neither Workspace nor Template sets it.
        default_limit: Limit = "defaultLimit",
        /// Hard caps per dimension; must not be below `defaultLimit`.
        max_limit: Limit = "maxLimit",
    }
}

crate::wire_struct! {
    /// Runtime settings every Workspace of the Space gets.
    pub struct SpaceRuntime {
        /// Environment variables (lower precedence than Template and Workspace).
        env_vars: Vec<EnvVar> = "envVars",
        /// Tasks, run after the Template's, repository file's and Workspace's.
        tasks: Vec<Task> = "tasks",
        /// Capabilities, unioned with the other layers'.
        capabilities: Capabilities = "capabilities",
    }
}

crate::wire_struct! {
    /// Access settings.
    pub struct SpaceAuthorization {
        /// Disable SSH into the Space's Workspaces.
        disable_ssh: bool = "disableSSH",
    }
}

crate::wire_struct! {
    /// What a Space sets.
    pub struct SpaceSpec {
        /// Default and maximum limits.
        limit: SpaceLimit = "limit",
        /// Cascading runtime settings.
        runtime: SpaceRuntime = "runtime",
        /// Access settings.
        authorization: SpaceAuthorization = "authorization",
    }
}

crate::wire_struct! {
    /// A Space. A name of the form `<name>.cordium` makes it an ORGANIZATION Space; any other
    /// name is a USER Space.
    pub struct Space {
        /// `cordium/v1`.
        api_version: String = "apiVersion",
        /// `Space`.
        kind: String = "kind",
        /// Name and description.
        metadata: Metadata = "metadata",
        /// The spec.
        spec: SpaceSpec = "spec",
    }
}
