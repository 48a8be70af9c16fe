//! The API's messages as the page's JSON: wire names in camelCase, states as their enum names,
//! specs as the document's JSON, failures explained as `cordium run` explains them
//! ([`cordium_api::explain`]). Secret values are never part of any of it: the messages carry
//! none (the API empties them) and these functions read only metadata and status.

use crate::pb;
use cordium_api::json::struct_to_json;
use serde_json::{Value as Json, json};

fn time(t: Option<&prost_types::Timestamp>) -> Json {
    t.map_or(Json::Null, |t| {
        json!(t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000))
    })
}

/// Name, display name, description, labels, times and version.
pub(crate) fn metadata(m: Option<&pb::Metadata>) -> Json {
    let Some(m) = m else { return json!({}) };
    json!({
        "name": m.name,
        "displayName": m.display_name,
        "description": m.description,
        "labels": m.labels,
        "createdAt": time(m.created_at.as_ref()),
        "updatedAt": time(m.updated_at.as_ref()),
        "resourceVersion": m.resource_version,
    })
}

fn spec(s: Option<&prost_types::Struct>) -> Json {
    s.map_or(json!({}), struct_to_json)
}

/// A structured failure with its explanation.
fn failure(f: Option<&pb::Failure>) -> Json {
    let Some(f) = f else { return Json::Null };
    json!({
        "headline": cordium_api::explain::headline(f),
        "message": f.message,
        "advice": cordium_api::explain::advice(f),
    })
}

/// A workspace state's name (`RUNNING`).
pub(crate) fn state_name(state: i32) -> &'static str {
    pb::WorkspaceState::try_from(state)
        .unwrap_or(pb::WorkspaceState::StateUnknown)
        .as_str_name()
}

/// A Workspace.
pub(crate) fn workspace(w: &pb::Workspace) -> Json {
    let status = w.status.clone().unwrap_or_default();
    json!({
        "metadata": metadata(w.metadata.as_ref()),
        "spec": spec(w.spec.as_deref()),
        "status": {
            "state": state_name(status.state),
            "owner": status.owner,
            "space": status.space,
            "template": status.template,
            "failure": failure(status.failure.as_ref()),
            "successfulRuns": status.successful_runs,
            "isBuild": status.is_build,
            "stateChangedAt": time(status.state_changed_at.as_ref()),
            "lastActivityAt": time(status.last_activity_at.as_ref()),
        },
    })
}

/// A resource with a spec: metadata, spec and `status`.
fn with_spec(m: Option<&pb::Metadata>, s: Option<&prost_types::Struct>, status: Json) -> Json {
    json!({ "metadata": metadata(m), "spec": spec(s), "status": status })
}

/// A Space.
pub(crate) fn space(s: &pb::Space) -> Json {
    let status = s.status.clone().unwrap_or_default();
    let kind = pb::SpaceType::try_from(status.r#type).unwrap_or(pb::SpaceType::Unset);
    let status =
        json!({ "owner": status.owner, "type": kind.as_str_name(), "members": status.members });
    with_spec(s.metadata.as_ref(), s.spec.as_deref(), status)
}

/// A Template.
pub(crate) fn template(t: &pb::Template) -> Json {
    let status = t.status.clone().unwrap_or_default();
    let status = json!({
        "space": status.space,
        "owner": status.owner,
        "currentRunningBuildId": status.current_running_build_id,
        "currentReadyBuildId": status.current_ready_build_id,
    });
    with_spec(t.metadata.as_ref(), t.spec.as_deref(), status)
}

/// A Secret: name and place only.
pub(crate) fn secret(s: &pb::Secret) -> Json {
    let status = s.status.clone().unwrap_or_default();
    json!({
        "metadata": metadata(s.metadata.as_ref()),
        "status": { "space": status.space, "owner": status.owner },
    })
}

/// A UserSecret: name, type and (for SSH_KEY) the public key only.
pub(crate) fn user_secret(s: &pb::UserSecret) -> Json {
    let status = s.status.clone().unwrap_or_default();
    json!({
        "metadata": metadata(s.metadata.as_ref()),
        "type": pb::UserSecretType::try_from(s.r#type).unwrap_or(pb::UserSecretType::Default).as_str_name(),
        "status": { "owner": status.owner, "sshPublicKey": status.ssh_public_key },
    })
}

/// An SSH public key.
pub(crate) fn ssh_key(k: &pb::SshKey) -> Json {
    json!({
        "id": k.id,
        "publicKey": k.public_key,
        "fingerprint": k.fingerprint,
        "algorithm": k.algorithm,
        "comment": k.comment,
        "createdAt": time(k.created_at.as_ref()),
    })
}

/// A compiled workspace: the EffectiveWorkspace, its notes, and where every leaf came from.
pub(crate) fn effective(c: &pb::CompileWorkspaceResponse) -> Json {
    let provenance: Vec<Json> = c
        .provenance
        .iter()
        .map(|p| {
            json!({
                "path": p.path,
                "value": p.value,
                "layer": p.layer,
                "document": p.document,
                "line": p.line,
                "column": p.column,
                "replaced": p.replaced,
                "cappedBy": p.capped_by,
            })
        })
        .collect();
    json!({
        "effective": spec(c.effective.as_deref()),
        "notes": c.notes,
        "provenance": provenance,
    })
}

/// A watch event: `{type, workspace, id}`.
pub(crate) fn event(e: &pb::WorkspaceEvent) -> Json {
    use pb::workspace_event::Event;
    let (kind, ws) = match &e.event {
        Some(Event::Created(w)) => ("CREATED", Some(w)),
        Some(Event::Updated(u)) => ("UPDATED", u.new.as_ref()),
        Some(Event::Deleted(w)) => ("DELETED", Some(w)),
        None => ("UNKNOWN", None),
    };
    json!({ "type": kind, "id": e.id, "workspace": ws.map(workspace) })
}
