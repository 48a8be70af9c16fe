//! The applications part of `cordium get workspace`: each application's name, port, and how
//! to reach it from this machine, as YAML comments after the document (so the printed
//! document can still be fed back to `cordium update`). The applications are the compiled
//! workspace's (`spec.applications` of every layer), read with CompileWorkspace.

use super::connect::call;
use crate::args::ServerArgs;
use crate::output::Output;
use cordium_api as pb;
use serde_json::Value as Json;

/// One application: name and port.
#[derive(Debug, PartialEq, Eq)]
struct Application {
    name: String,
    port: u64,
}

/// The applications of an EffectiveWorkspace (JSON).
fn applications(effective: &Json) -> Vec<Application> {
    effective["spec"]["applications"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    Some(Application {
                        name: a["name"].as_str()?.to_owned(),
                        port: a["port"].as_u64()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The comment lines for workspace `name`'s `applications`.
fn lines(name: &str, applications: &[Application]) -> String {
    if applications.is_empty() {
        return String::new();
    }
    let mut text = String::from("# applications (forward one, then open http://127.0.0.1:PORT):\n");
    for a in applications {
        text.push_str(&format!(
            "#   {}  port {}  reach: cordium port-forward {name} {}:{}\n",
            a.name, a.port, a.port, a.name
        ));
    }
    text
}

/// Prints workspace `name`'s applications; prints nothing when it has none or does not
/// compile (the document above says why).
pub(super) async fn print(server: &ServerArgs, name: &str, out: &mut Output) {
    let request = pb::CompileWorkspaceRequest {
        target: Some(pb::compile_workspace_request::Target::Name(name.to_owned())),
        ..pb::CompileWorkspaceRequest::default()
    };
    let Ok(compiled) = call(server, async |api| api.compile_workspace(request).await).await else {
        return;
    };
    let effective = compiled
        .effective
        .as_deref()
        .map(cordium_api::json::struct_to_json)
        .unwrap_or_default();
    out.out(&lines(name, &applications(&effective)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applications_are_listed_with_how_to_reach_them() {
        let effective = serde_json::json!({"spec": {"applications": [
            {"name": "web", "port": 3000, "isDefault": true},
            {"name": "api", "port": 8080}
        ]}});
        let text = lines("x7k", &applications(&effective));
        assert_eq!(
            text,
            "# applications (forward one, then open http://127.0.0.1:PORT):\n\
             #   web  port 3000  reach: cordium port-forward x7k 3000:web\n\
             #   api  port 8080  reach: cordium port-forward x7k 8080:api\n"
        );
        assert_eq!(lines("x7k", &applications(&serde_json::json!({}))), "");
    }
}
