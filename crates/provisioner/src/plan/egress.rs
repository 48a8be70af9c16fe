//! The compiled egress policy (`runtime.network.egress`): what a workspace's processes may
//! connect to, as every backend enforces it.
//!
//! The contract: rules are concatenated across layers; a destination a DENY rule matches is
//! denied even when an ALLOW rule matches it too (DENY wins); traffic no rule matches follows
//! the default, `ALLOW_PUBLIC` when unset. `ALLOW_PUBLIC` means the public internet: every
//! destination but the [`NON_PUBLIC`] networks (private, loopback, link-local, shared,
//! documentation and reserved ranges, so also the host's own addresses on the container
//! network and cloud metadata services) and every address of the host's interfaces (the
//! podman backend's hook reads them at each start), which only an ALLOW rule opens. Always allowed, under either default
//! and unless a DENY rule names them: the workspace's own loopback, replies on connections
//! made to the workspace, and DNS (port 53) to the resolvers the container is given, so
//! names keep resolving.

use cordium_spec::shapes::{Cidr, parse_cidr};

/// The networks `ALLOW_PUBLIC` does not reach unless a rule allows them.
pub const NON_PUBLIC: [&str; 20] = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

/// What a rule does with the traffic it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum EgressAction {
    /// Allowed (unless a DENY rule matches too).
    Allow,
    /// Denied.
    Deny,
}

/// What traffic no rule matches does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub enum EgressDefault {
    /// Public destinations are allowed, [`NON_PUBLIC`] ones denied (also when unset).
    #[default]
    AllowPublic,
    /// Denied.
    Deny,
}

/// One compiled rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct EgressRule {
    /// Destinations (never empty after compiling).
    pub cidrs: Vec<Cidr>,
    /// Allow or deny.
    pub action: EgressAction,
    /// Destination ports, TCP and UDP; empty: every port and protocol.
    pub ports: Vec<u16>,
}

impl EgressRule {
    /// A rule of `cidrs` (written as a spec writes them), e.g. for tests and tools; the
    /// first that does not parse is the error.
    pub fn parse(
        cidrs: &[&str],
        action: EgressAction,
        ports: &[u16],
    ) -> Result<Self, cordium_spec::shapes::ShapeError> {
        Ok(Self {
            cidrs: cidrs
                .iter()
                .map(|c| parse_cidr(c))
                .collect::<Result<_, _>>()?,
            action,
            ports: ports.to_vec(),
        })
    }
}

/// The compiled egress policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Egress {
    /// Rules in compiled order (the order does not matter: DENY wins).
    pub rules: Vec<EgressRule>,
    /// What the rest does.
    pub default: EgressDefault,
}

impl Egress {
    /// The rules with `action`.
    pub fn with_action(&self, action: EgressAction) -> impl Iterator<Item = &EgressRule> {
        self.rules.iter().filter(move |r| r.action == action)
    }
}

/// The [`NON_PUBLIC`] networks, parsed.
pub fn non_public() -> Vec<Cidr> {
    NON_PUBLIC
        .iter()
        .filter_map(|c| parse_cidr(c).ok())
        .collect()
}

/// The policy of a compiled `network` field. Entries the compiler would have refused (a bad
/// CIDR or port, a rule without an action) cannot reach here; they are skipped, never
/// widened into an allow.
pub(super) fn compile(network: Option<&cordium_spec::Network>) -> Egress {
    let Some(egress) = network.and_then(|n| n.egress.as_deref()) else {
        return Egress::default();
    };
    let rules = egress
        .rules
        .as_deref()
        .into_iter()
        .flatten()
        .filter_map(|rule| {
            let action = match rule.action.as_deref()? {
                cordium_spec::RuleAction::Allow => EgressAction::Allow,
                cordium_spec::RuleAction::Deny => EgressAction::Deny,
            };
            let cidrs: Vec<Cidr> = rule
                .cidrs
                .as_deref()
                .into_iter()
                .flatten()
                .filter_map(|c| parse_cidr(c).ok())
                .collect();
            let ports = rule
                .ports
                .as_deref()
                .into_iter()
                .flatten()
                .filter_map(|p| u16::try_from(*p).ok().filter(|p| *p > 0))
                .collect();
            (!cidrs.is_empty()).then_some(EgressRule {
                cidrs,
                action,
                ports,
            })
        })
        .collect();
    let default = match egress.default_action.as_deref() {
        Some(cordium_spec::DefaultAction::Deny) => EgressDefault::Deny,
        Some(cordium_spec::DefaultAction::AllowPublic | cordium_spec::DefaultAction::Unset)
        | None => EgressDefault::AllowPublic,
    };
    Egress { rules, default }
}
