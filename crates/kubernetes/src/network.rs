//! The workspace's network policy as a NetworkPolicy (pure; part of the
//! [objects](crate::objects)): no connection in, and the compiled egress rules out.
//!
//! **In**: the policy lists `Ingress` with no rule, so no Pod or address may connect to the
//! workspace. Cordium reaches its applications and sessions through the portforward and exec
//! subresources, which the kubelet serves inside the Pod's network namespace and no
//! NetworkPolicy filters; everything else would reach them without Cordium's credential.
//!
//! **Out**: a NetworkPolicy only allows, so the compiled policy ([`Egress`]) is written as allows with
//! exceptions: every ALLOW destination is an `ipBlock` whose `except` lists the DENY
//! destinations inside it (a destination a DENY rule covers whole is left out), and
//! `ALLOW_PUBLIC` is `0.0.0.0/0` and `::/0` except the non-public networks and every DENY
//! destination. A DENY rule with ports removes its destinations only from ALLOW rules whose
//! ports meet its own; from `ALLOW_PUBLIC` (every port) it removes them whole, which denies
//! more than podman does (there, the other ports stay open): NetworkPolicy has no per-port
//! exceptions. DNS to the cluster's DNS Pods (`k8s-app: kube-dns` in `kube-system`) is always
//! allowed, as the resolvers are on podman. The policy selects the workspace's Pod by its
//! [`WORKSPACE_LABEL`](crate::objects::WORKSPACE_LABEL) and is applied before the Pod, so the
//! Pod never runs unconfined (where the cluster's network plugin enforces NetworkPolicies).

use cordium_provisioner::plan::{
    Cidr, Egress, EgressAction, EgressDefault, EgressRule, non_public, parse_cidr,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet};

/// The NetworkPolicy for the Pod labelled `WORKSPACE_LABEL=object_name`: nothing in,
/// `egress` out.
pub(crate) fn network_policy(
    metadata: ObjectMeta,
    pod_labels: BTreeMap<String, String>,
    egress: &Egress,
) -> NetworkPolicy {
    let denies: Vec<&EgressRule> = egress.with_action(EgressAction::Deny).collect();
    let mut rules = vec![dns()];
    for allow in egress.with_action(EgressAction::Allow) {
        let meeting: Vec<&EgressRule> = denies
            .iter()
            .copied()
            .filter(|deny| ports_meet(&allow.ports, &deny.ports))
            .collect();
        let to: Vec<NetworkPolicyPeer> = allow
            .cidrs
            .iter()
            .filter_map(|cidr| block(cidr, meeting.iter().flat_map(|d| &d.cidrs)))
            .collect();
        if !to.is_empty() {
            rules.push(NetworkPolicyEgressRule {
                to: Some(to),
                ports: ports(&allow.ports),
            });
        }
    }
    if egress.default == EgressDefault::AllowPublic {
        let mut excepted = non_public();
        excepted.extend(denies.iter().flat_map(|d| d.cidrs.iter().copied()));
        let to: Vec<NetworkPolicyPeer> = ["0.0.0.0/0", "::/0"]
            .iter()
            .filter_map(|all| parse_cidr(all).ok())
            .filter_map(|all| block(&all, excepted.iter()))
            .collect();
        if !to.is_empty() {
            rules.push(NetworkPolicyEgressRule {
                to: Some(to),
                ports: None,
            });
        }
    }
    NetworkPolicy {
        metadata,
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(pod_labels),
                match_expressions: None,
            }),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            egress: Some(rules),
            // Listed with no rule: nothing may connect in.
            ingress: Some(Vec::new()),
        }),
    }
}

/// `cidr` as an ipBlock without the `denied` networks inside it; `None` when one of them
/// covers it whole.
fn block<'a>(cidr: &Cidr, denied: impl Iterator<Item = &'a Cidr>) -> Option<NetworkPolicyPeer> {
    let mut except = BTreeSet::new();
    for deny in denied {
        if deny.contains(cidr) {
            return None;
        }
        if cidr.contains(deny) {
            except.insert(deny.to_string());
        }
    }
    Some(NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.to_string(),
            except: (!except.is_empty()).then(|| except.into_iter().collect()),
        }),
        ..NetworkPolicyPeer::default()
    })
}

/// Whether traffic to ports `a` and to ports `b` can be the same (empty: every port).
fn ports_meet(a: &[u16], b: &[u16]) -> bool {
    a.is_empty() || b.is_empty() || a.iter().any(|p| b.contains(p))
}

/// Each port over TCP and over UDP; `None` (every port) when there are none.
fn ports(list: &[u16]) -> Option<Vec<NetworkPolicyPort>> {
    (!list.is_empty()).then(|| {
        list.iter()
            .flat_map(|port| {
                ["TCP", "UDP"].map(|protocol| NetworkPolicyPort {
                    port: Some(IntOrString::Int(i32::from(*port))),
                    protocol: Some(protocol.to_owned()),
                    end_port: None,
                })
            })
            .collect()
    })
}

/// DNS to the cluster's DNS Pods.
fn dns() -> NetworkPolicyEgressRule {
    let selector = |key: &str, value: &str| LabelSelector {
        match_labels: Some(BTreeMap::from([(key.to_owned(), value.to_owned())])),
        match_expressions: None,
    };
    NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(selector("kubernetes.io/metadata.name", "kube-system")),
            pod_selector: Some(selector("k8s-app", "kube-dns")),
            ip_block: None,
        }]),
        ports: ports(&[53]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(cidrs: &[&str], action: EgressAction, ports: &[u16]) -> EgressRule {
        EgressRule::parse(cidrs, action, ports).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn blocks(egress: &Egress) -> Vec<(String, Vec<String>)> {
        let policy = network_policy(ObjectMeta::default(), BTreeMap::new(), egress);
        let rules = policy.spec.and_then(|s| s.egress).unwrap_or_default();
        rules
            .iter()
            .flat_map(|r| r.to.iter().flatten())
            .filter_map(|peer| peer.ip_block.clone())
            .map(|b| (b.cidr, b.except.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn deny_rules_become_exceptions_or_remove_what_they_cover() {
        let egress = Egress {
            rules: vec![
                rule(&["10.0.0.0/8", "10.1.2.0/24"], EgressAction::Allow, &[443]),
                rule(&["10.1.0.0/16"], EgressAction::Deny, &[]),
                rule(&["10.2.0.0/16"], EgressAction::Deny, &[22]),
            ],
            default: EgressDefault::Deny,
        };
        assert_eq!(
            blocks(&egress),
            [("10.0.0.0/8".to_owned(), vec!["10.1.0.0/16".to_owned()])],
            "the port-22 DENY does not meet the port-443 ALLOW; 10.1.2.0/24 is denied whole"
        );
    }

    #[test]
    fn allow_public_excepts_non_public_networks_and_denies() {
        let egress = Egress {
            rules: vec![rule(&["203.0.113.0/24"], EgressAction::Deny, &[80])],
            default: EgressDefault::AllowPublic,
        };
        let all = blocks(&egress);
        let v4 = &all.iter().find(|(c, _)| c == "0.0.0.0/0").expect("v4").1;
        assert!(v4.contains(&"10.0.0.0/8".to_owned()) && v4.contains(&"203.0.113.0/24".to_owned()));
        let v6 = &all.iter().find(|(c, _)| c == "::/0").expect("v6").1;
        assert!(v6.contains(&"fc00::/7".to_owned()) && !v6.iter().any(|c| c.contains('.')));
        let everything = Egress {
            rules: vec![rule(&["0.0.0.0/0", "::/0"], EgressAction::Deny, &[])],
            default: EgressDefault::AllowPublic,
        };
        assert!(blocks(&everything).is_empty(), "a DENY of everything wins");
    }
}
