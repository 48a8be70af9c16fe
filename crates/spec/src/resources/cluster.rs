//! The ClusterConfig kind: the administrator's defaults and caps for the whole cluster.

use super::common::*;
use super::workspace::Image;

crate::wire_struct! {
    /// A list of conditions.
    pub struct ConditionList {
        /// The conditions.
        of: Vec<Condition> = "of",
    }
}

crate::wire_struct! {
    /// An inline OPA policy.
    pub struct OpaPolicy {
        /// The Rego source.
        inline: String = "inline",
    }
}

crate::wire_oneof! {
    /// A condition on the request, for ownership and storage rules.
    pub enum Condition {
        /// Always matches when true.
        MatchAny(bool) = "matchAny",
        /// A CEL expression that must be true.
        Match(String) = "match",
        /// Every condition matches.
        All(ConditionList) = "all",
        /// At least one condition matches.
        Any(ConditionList) = "any",
        /// A CEL expression that must be false.
        Not(String) = "not",
        /// No condition matches.
        None(ConditionList) = "none",
        /// An OPA policy.
        Opa(OpaPolicy) = "opa",
    }
}

crate::wire_enum! {
    /// What a matching ownership rule does.
    pub enum Effect {
        /// Not set.
        Unknown = "UNKNOWN",
        /// Allow creating the Space.
        Allow = "ALLOW",
        /// Deny creating the Space (deny rules are checked first).
        Deny = "DENY",
    }
}

crate::wire_struct! {
    /// A rule deciding who may own Spaces.
    pub struct OwnershipRule {
        /// Allow or deny.
        effect: Effect = "effect",
        /// When the rule applies.
        condition: Condition = "condition",
    }
}

crate::wire_struct! {
    /// Who may own Spaces.
    pub struct SpaceOwnership {
        /// Rules; no matching rule denies.
        rules: Vec<OwnershipRule> = "rules",
    }
}

crate::wire_struct! {
    /// Space settings of the cluster.
    pub struct ClusterSpace {
        /// Who may own Spaces.
        ownership: SpaceOwnership = "ownership",
    }
}

crate::wire_struct! {
    /// Picks a storage class by condition (first match).
    pub struct StorageClassRule {
        /// When the rule applies.
        condition: Condition = "condition",
        /// The Kubernetes storage class.
        storage_class: String = "storageClass",
    }
}

crate::wire_struct! {
    /// Storage class rules.
    pub struct StorageClassRules {
        /// The rules.
        rules: Vec<StorageClassRule> = "rules",
    }
}

crate::wire_struct! {
    /// Picks a volume snapshot class by condition (first match).
    pub struct SnapshotClassRule {
        /// When the rule applies.
        condition: Condition = "condition",
        /// The Kubernetes volume snapshot class.
        volume_snapshot_class: String = "volumeSnapshotClass",
    }
}

crate::wire_struct! {
    /// Snapshot class rules.
    pub struct SnapshotClassRules {
        /// The rules.
        rules: Vec<SnapshotClassRule> = "rules",
    }
}

crate::wire_struct! {
    /// Workspace storage settings.
    pub struct WorkspaceStorage {
        /// Storage classes.
        storage_class: StorageClassRules = "storageClass",
        /// Volume snapshot classes.
        volume_snapshot_class: SnapshotClassRules = "volumeSnapshotClass",
    }
}

crate::wire_struct! {
    /// Workspace quotas, default limits and caps.
    pub struct WorkspaceLimits {
        /// Workspaces per user (default 1000).
        max_per_user: u32 = "maxPerUser",
        /// Active (not STOPPED) Workspaces per user (default 128).
        max_active_per_user: u32 = "maxActivePerUser",
        /// Limits of pre-build Workspaces.
        build_limit: Limit = "buildLimit",
        /// Default limits in ORGANIZATION Spaces.
        default_organization_space_limit: Limit = "defaultOrganizationSpaceLimit",
        /// Default limits in USER Spaces.
        default_user_space_limit: Limit = "defaultUserSpaceLimit",
        /// Caps for every Workspace.
        max_limit: Limit = "maxLimit",
        /// Snapshots per user.
        max_snapshots_per_user: u32 = "maxSnapshotsPerUser",
    }
}

crate::wire_oneof! {
    /// A duration in one unit.
    pub enum Duration {
        /// Seconds.
        Seconds(u32) = "seconds",
        /// Minutes.
        Minutes(u32) = "minutes",
        /// Hours.
        Hours(u32) = "hours",
        /// Days.
        Days(u32) = "days",
    }
}

crate::wire_struct! {
    /// Inactivity timeouts.
    pub struct WorkspaceTimeouts {
        /// The default.
        default_duration: Duration = "defaultDuration",
        /// In USER Spaces.
        user_space_duration: Duration = "userSpaceDuration",
        /// In ORGANIZATION Spaces.
        organization_space_duration: Duration = "organizationSpaceDuration",
        /// The longest a Workspace may stay active.
        max_active_duration: Duration = "maxActiveDuration",
        /// Honour `timeout.mode: DISABLED`.
        allow_no_timeout: bool = "allowNoTimeout",
    }
}

crate::wire_struct! {
    /// Runtime settings of every Workspace.
    pub struct ClusterRuntime {
        /// Capabilities.
        capabilities: Capabilities = "capabilities",
    }
}

crate::wire_struct! {
    /// Workspace settings of the cluster.
    pub struct ClusterWorkspace {
        /// Storage classes.
        storage: WorkspaceStorage = "storage",
        /// Quotas, defaults and caps.
        limit: WorkspaceLimits = "limit",
        /// Timeouts.
        timeout: WorkspaceTimeouts = "timeout",
        /// Runtime settings.
        runtime: ClusterRuntime = "runtime",
        /// The image of Workspaces whose layers set none.
        default_image: Image = "defaultImage",
    }
}

crate::wire_struct! {
    /// Volume quotas.
    pub struct VolumeLimits {
        /// Volumes per Space.
        max_per_space: u32 = "maxPerSpace",
        /// The largest Volume.
        max_size: Megabytes = "maxSize",
        /// The default Volume size.
        default_size: Megabytes = "defaultSize",
        /// Mounts per Workspace (at most 16 in any case).
        max_mounts_per_workspace: u32 = "maxMountsPerWorkspace",
    }
}

crate::wire_struct! {
    /// Volume storage settings.
    pub struct VolumeStorage {
        /// Storage classes.
        storage_class: StorageClassRules = "storageClass",
    }
}

crate::wire_struct! {
    /// Volume settings of the cluster.
    pub struct ClusterVolume {
        /// Storage classes.
        storage: VolumeStorage = "storage",
        /// Quotas.
        limit: VolumeLimits = "limit",
    }
}

crate::wire_struct! {
    /// The LLM of the agent.
    pub struct AgentLlm {
        /// The service.
        service: String = "service",
        /// The model.
        model: String = "model",
    }
}

crate::wire_struct! {
    /// The per-user agent Workspace.
    pub struct ClusterAgent {
        /// Disable agents.
        is_disabled: bool = "isDisabled",
        /// The LLM.
        llm: AgentLlm = "llm",
        /// The agent version.
        version: String = "version",
        /// The agent image.
        image: String = "image",
        /// The agent's limits.
        limit: Limit = "limit",
    }
}

crate::wire_struct! {
    /// What the cluster sets.
    pub struct ClusterConfigSpec {
        /// Space settings.
        space: ClusterSpace = "space",
        /// Workspace settings.
        workspace: ClusterWorkspace = "workspace",
        /// Volume settings.
        volume: ClusterVolume = "volume",
        /// Agent settings.
        agent: ClusterAgent = "agent",
    }
}

crate::wire_struct! {
    /// The ClusterConfig (one per cluster).
    pub struct ClusterConfig {
        /// `cordium/v1`.
        api_version: String = "apiVersion",
        /// `ClusterConfig`.
        kind: String = "kind",
        /// Name and description.
        metadata: Metadata = "metadata",
        /// The spec.
        spec: ClusterConfigSpec = "spec",
    }
}
