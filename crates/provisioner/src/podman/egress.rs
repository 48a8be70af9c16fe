//! Egress rules on podman: nftables in the container's own network namespace.
//!
//! Every workspace container carries the annotation `cordium.egress`, naming its ruleset
//! file (`<state>/egress/N.nft`, written from the compiled [`Egress`] at each create and
//! each start of a kept container). An OCI `prestart` hook the backend installs
//! (`<state>/hooks`, named by `hooks_dir` in its `containers.conf`) runs as host root after
//! runc made the container's namespaces and before the container's first process runs, on
//! every start (a kept container gets a new network namespace each time): it loads the
//! ruleset with `nsenter --net=/proc/PID/ns/net nft -f -`, adding the nameservers of the
//! `resolv.conf` podman made for the container so DNS keeps working. A hook that fails
//! fails the start: no workspace process ever runs without its rules. The rules die with
//! the namespace; nothing is left on the host.
//!
//! The container's processes cannot undo them without `CAP_NET_ADMIN`, nor pass them without
//! `CAP_NET_RAW` (packet sockets skip the `inet` hooks), and no workspace is granted either:
//! a start refuses them ([`crate::check_grantable`]).

use super::{Podman, engine};
use crate::plan::{Egress, EgressAction, EgressDefault, EgressRule, non_public};
use crate::runtime::{RuntimeError, WorkspaceKey};
use cordium_spec::shapes::Cidr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The annotation naming a container's ruleset file.
const ANNOTATION: &str = "cordium.egress";

/// The hook: reads the OCI state on stdin (at most 64 KiB), finds the container's init
/// process, its ruleset and its `resolv.conf`, and loads the rules into its network
/// namespace in one nftables transaction, with the resolvers in `dns4`/`dns6` and every
/// address of the host's interfaces in `host4`/`host6` (the host as containers reach it,
/// `host.containers.internal`, may hold an address no fixed list knows to be its own).
const HOOK_SCRIPT: &str = r#"set -eu
command -v nft >/dev/null || { echo "cordium: egress rules need nft (the nftables package) on the host" >&2; exit 1; }
command -v ip >/dev/null || { echo "cordium: egress rules need ip (the iproute2 package) on the host" >&2; exit 1; }
state=$(head -c 65536)
pid=$(printf '%s' "$state" | sed -n 's/.*"pid":\([0-9][0-9]*\).*/\1/p')
bundle=$(printf '%s' "$state" | sed -n 's/.*"bundle":"\([^"]*\)".*/\1/p')
rules=$(printf '%s' "$state" | sed -n 's/.*"cordium\.egress":"\([^"]*\)".*/\1/p')
if [ -z "$pid" ] || [ -z "$rules" ]; then echo "cordium: no process or egress rules in the container's state" >&2; exit 1; fi
resolv=$(grep -o '"source":"[^"]*/resolv\.conf"' "$bundle/config.json" 2>/dev/null | head -n 1 | sed 's/^"source":"//; s/"$//') || true
{
  cat "$rules"
  if [ -n "$resolv" ] && [ -r "$resolv" ]; then
    for ns in $(sed -n 's/^nameserver[[:space:]]*\([0-9A-Fa-f.:]*\).*/\1/p' "$resolv"); do
      case "$ns" in
        *:*) echo "add element inet cordium dns6 { $ns }" ;;
        *) echo "add element inet cordium dns4 { $ns }" ;;
      esac
    done
  fi
  ip -o addr show | while read -r _ _ family address _; do
    case "$family" in
      inet) echo "add element inet cordium host4 { ${address%%/*} }" ;;
      inet6) echo "add element inet cordium host6 { ${address%%/*} }" ;;
    esac
  done
} | nsenter --net="/proc/$pid/ns/net" nft -f -
"#;

/// Writes the hook and its description under `state_dir`; returns the hooks directory for
/// `containers.conf`.
pub(super) fn install_hook(state_dir: &Path) -> Result<PathBuf, RuntimeError> {
    let io = |e: std::io::Error| engine("writing the egress hook", e.to_string());
    let hooks = state_dir.join("hooks");
    std::fs::create_dir_all(&hooks).map_err(io)?;
    std::fs::create_dir_all(state_dir.join("egress")).map_err(io)?;
    let script = state_dir.join("egress-hook.sh");
    std::fs::write(&script, HOOK_SCRIPT).map_err(io)?;
    // A JSON string is written like a TOML basic one (quotes and backslashes escaped).
    let description = format!(
        "{{\"version\": \"1.0.0\", \"hook\": {{\"path\": \"/bin/sh\", \"args\": [\"sh\", {}]}}, \
         \"when\": {{\"annotations\": {{\"^cordium\\\\.egress$\": \".+\"}}}}, \"stages\": [\"prestart\"]}}\n",
        super::toml_string(&script.to_string_lossy())
    );
    std::fs::write(hooks.join("cordium-egress.json"), description).map_err(io)?;
    Ok(hooks)
}

impl Podman {
    fn egress_file(&self, key: &WorkspaceKey) -> PathBuf {
        self.options
            .state_dir
            .join("egress")
            .join(format!("{}.nft", key.object_name()))
    }

    /// Writes `key`'s ruleset from `egress` (the hook loads it at the container's next
    /// start) and returns the `podman create` arguments that point the hook at it.
    pub(super) async fn write_egress(
        &self,
        key: &WorkspaceKey,
        egress: &Egress,
    ) -> Result<[String; 2], RuntimeError> {
        let path = self.egress_file(key);
        let tmp = path.with_extension("partial");
        let io = |e: std::io::Error| engine("writing the egress rules", e.to_string());
        tokio::fs::write(&tmp, ruleset(egress)).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)?;
        Ok([
            "--annotation".to_owned(),
            format!("{ANNOTATION}={}", path.display()),
        ])
    }

    /// Removes `key`'s ruleset (absent is fine).
    pub(super) async fn forget_egress(&self, key: &WorkspaceKey) {
        let _ = tokio::fs::remove_file(self.egress_file(key)).await;
    }
}

/// The nftables ruleset of `egress`, for the container's own network namespace: loopback,
/// replies and neighbour discovery first, then DENY rules, DNS to the container's resolvers
/// (the hook adds them to `dns4` and `dns6`), ALLOW rules, and the default.
pub fn ruleset(egress: &Egress) -> String {
    let policy = match egress.default {
        EgressDefault::AllowPublic => "accept",
        EgressDefault::Deny => "drop",
    };
    let mut text = format!(
        "table inet cordium {{\n  set dns4 {{ type ipv4_addr; }}\n  set dns6 {{ type ipv6_addr; }}\n  \
         set host4 {{ type ipv4_addr; }}\n  set host6 {{ type ipv6_addr; }}\n  \
         chain output {{\n    type filter hook output priority 0; policy {policy};\n    \
         oif \"lo\" accept\n    ct state established,related accept\n    \
         icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit }} accept\n"
    );
    for rule in egress.with_action(EgressAction::Deny) {
        rule_lines(&mut text, rule, "drop");
    }
    text.push_str(
        "    ip daddr @dns4 meta l4proto { tcp, udp } th dport 53 accept\n    \
         ip6 daddr @dns6 meta l4proto { tcp, udp } th dport 53 accept\n",
    );
    for rule in egress.with_action(EgressAction::Allow) {
        rule_lines(&mut text, rule, "accept");
    }
    if egress.default == EgressDefault::AllowPublic {
        text.push_str("    ip daddr @host4 drop\n    ip6 daddr @host6 drop\n");
        for cidr in non_public() {
            let _ = writeln!(text, "    {} daddr {cidr} drop", family(&cidr));
        }
    }
    text.push_str("  }\n}\n");
    text
}

/// One line per destination of `rule`, ending in `verdict`.
fn rule_lines(text: &mut String, rule: &EgressRule, verdict: &str) {
    let ports = if rule.ports.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = rule.ports.iter().map(u16::to_string).collect();
        format!(
            " meta l4proto {{ tcp, udp }} th dport {{ {} }}",
            list.join(", ")
        )
    };
    for cidr in &rule.cidrs {
        let _ = writeln!(text, "    {} daddr {cidr}{ports} {verdict}", family(cidr));
    }
}

/// The nftables address family keyword of `cidr`.
fn family(cidr: &Cidr) -> &'static str {
    if cidr.addr.is_ipv4() { "ip" } else { "ip6" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(cidrs: &[&str], action: EgressAction, ports: &[u16]) -> EgressRule {
        EgressRule::parse(cidrs, action, ports).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn deny_rules_come_before_dns_and_allow_rules() {
        let egress = Egress {
            rules: vec![
                rule(&["10.1.0.0/16"], EgressAction::Allow, &[443]),
                rule(&["10.1.2.0/24", "2001:db8::/32"], EgressAction::Deny, &[]),
            ],
            default: EgressDefault::Deny,
        };
        let text = ruleset(&egress);
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle}: {text}"))
        };
        assert!(text.contains("policy drop;"));
        assert!(at("ip daddr 10.1.2.0/24 drop") < at("@dns4"));
        assert!(at("ip6 daddr 2001:db8::/32 drop") < at("@dns4"));
        assert!(
            at("@dns4")
                < at("ip daddr 10.1.0.0/16 meta l4proto { tcp, udp } th dport { 443 } accept")
        );
        assert!(
            !text.contains("10.0.0.0/8"),
            "DENY has no public exceptions"
        );
    }

    #[test]
    fn allow_public_denies_the_non_public_networks_after_the_rules() {
        let egress = Egress {
            rules: vec![rule(&["10.88.0.1"], EgressAction::Allow, &[])],
            default: EgressDefault::AllowPublic,
        };
        let text = ruleset(&egress);
        assert!(text.contains("policy accept;"));
        let allow = text.find("ip daddr 10.88.0.1/32 accept");
        let private = text.find("ip daddr 10.0.0.0/8 drop");
        assert!(
            allow.is_some() && private.is_some() && allow < private,
            "{text}"
        );
        assert!(text.contains("ip daddr 169.254.0.0/16 drop"));
        assert!(text.contains("ip6 daddr fc00::/7 drop"));
        assert!(
            text.contains("ip daddr 192.0.2.0/24 drop"),
            "documentation ranges"
        );
        // The host's own addresses, whatever they are (the hook fills the sets).
        let host = text.find("ip daddr @host4 drop");
        assert!(
            allow < host && text.contains("ip6 daddr @host6 drop"),
            "{text}"
        );
        assert!(text.contains("set host4 { type ipv4_addr; }"));
    }
}
