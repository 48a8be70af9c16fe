//! The rules of the spec's parts (limits, environment, tasks, runtime, mounts, repositories,
//! images, applications, vars), shared by every kind whose spec holds them.

use super::Field;
use super::support::*;
use crate::convert::Cx;
use crate::diagnostic::{Diagnostic, codes};
use crate::located::Located;
use crate::resources::*;
use crate::source::Location;

pub(super) fn limit(l: &Located<Limit>, cx: &mut Cx<'_>) {
    let dims = [
        (
            "cpu.millicores",
            l.cpu.as_ref().and_then(|c| c.millicores.as_ref()),
            1_000_000,
        ),
        (
            "memory.megabytes",
            l.memory.as_ref().and_then(|m| m.megabytes.as_ref()),
            10_000_000,
        ),
        (
            "storage.megabytes",
            l.storage.as_ref().and_then(|m| m.megabytes.as_ref()),
            10_000_000,
        ),
    ];
    for (name, value, max) in dims {
        if let Some(v) = value.filter(|v| v.value > max) {
            cx.at(name, |cx| {
                cx.report(
                    Diagnostic::error(
                        codes::LIMIT,
                        format!("{} is above the maximum of {max}", v.value),
                    )
                    .at(v.loc)
                    .with_help(format!("use a value from 0 (not set) to {max}")),
                );
            });
        }
    }
}

/// The three dimensions of a limit with their places, for comparisons.
pub fn limit_dims(l: &Limit) -> [(&'static str, Option<&Located<u32>>); 3] {
    [
        (
            "cpu.millicores",
            l.cpu.as_ref().and_then(|c| c.millicores.as_ref()),
        ),
        (
            "memory.megabytes",
            l.memory.as_ref().and_then(|m| m.megabytes.as_ref()),
        ),
        (
            "storage.megabytes",
            l.storage.as_ref().and_then(|m| m.megabytes.as_ref()),
        ),
    ]
}

/// Reports each dimension where `lower` (a default) exceeds `upper` (a maximum).
pub(super) fn not_above(
    cx: &mut Cx<'_>,
    lower_name: &str,
    lower: &Field<Limit>,
    upper_name: &str,
    upper: &Field<Limit>,
) {
    let (Some(lower), Some(upper)) = (lower, upper) else {
        return;
    };
    for ((dim, l), (_, u)) in limit_dims(lower).into_iter().zip(limit_dims(upper)) {
        let (Some(l), Some(u)) = (l, u) else { continue };
        if u.value != 0 && l.value > u.value {
            cx.at(&format!("{lower_name}.{dim}"), |cx| {
                cx.report(
                    Diagnostic::error(
                        codes::LIMIT,
                        format!(
                            "{lower_name} {dim} is {} but {upper_name} {dim} is {}",
                            l.value, u.value
                        ),
                    )
                    .at(l.loc)
                    .with_related(u.loc, format!("{upper_name} set here"))
                    .with_help(format!("lower {lower_name} or raise {upper_name}")),
                );
            });
        }
    }
}

pub(super) fn env_vars(cx: &mut Cx<'_>, list: &Field<Vec<EnvVar>>) {
    each(cx, "envVars", list, 128, |e, parent, cx| {
        ascii_key(cx, &e.key, "key", parent, 64);
        env_source(cx, &e.value, &e.from_secret, "fromSecret", parent);
    });
    if let Some(list) = list {
        let keys = entries(cx, "envVars", list)
            .into_iter()
            .map(|(i, _, e)| (i, e.key.as_ref().map(|k| (k.value.as_str(), k.loc))));
        unique(cx, "envVars", keys, "key", "environment variable");
    }
}

pub(super) fn env_source(
    cx: &mut Cx<'_>,
    value: &Field<String>,
    secret: &Field<String>,
    secret_name: &str,
    parent: Location,
) {
    match (value, secret) {
        (None, None) if cx.explained("value") || cx.explained(secret_name) => {}
        (None, None) => cx.report(
            Diagnostic::error(codes::ENV_VALUE, "the environment variable has no value")
                .at(parent)
                .with_help(format!("add `value: ...` or `{secret_name}: <name>`")),
        ),
        (Some(v), Some(s)) => cx.at(secret_name, |cx| {
            cx.report(
                Diagnostic::error(
                    codes::ONE_OF,
                    format!("`value` and `{secret_name}` are alternatives; set only one"),
                )
                .at(s.loc)
                .with_related(v.loc, "the other choice"),
            )
        }),
        (Some(_), None) => max_len(cx, value, "value", 0, MAX_VALUE_BYTES),
        (None, Some(_)) => max_len(cx, secret, secret_name, 1, 256),
    }
}

pub(super) fn tasks(cx: &mut Cx<'_>, list: &Field<Vec<Task>>) {
    each(cx, "tasks", list, 128, |t, here, cx| {
        if require(cx, &t.run, "run", here, "add the shell command to run") {
            max_len(cx, &t.run, "run", 1, MAX_RUN_BYTES);
        }
        if t.task_type.is_none() && !cx.explained("type") {
            cx.at("type", |cx| {
                cx.report(
                    Diagnostic::error(codes::TASK_TYPE, "the task has no `type`")
                        .at(here)
                        .with_help("add `type: ON_CREATE`, `type: POST_START` or `type: PRE_STOP`"),
                )
            });
        }
        max_len(cx, &t.working_dir, "workingDir", 0, MAX_PATH_BYTES);
        each(cx, "envVars", &t.env_vars, 128, |e, parent, cx| {
            ascii_key(cx, &e.key, "key", parent, 64);
            if require(cx, &e.value, "value", parent, "add `value: ...`") {
                max_len(cx, &e.value, "value", 0, MAX_VALUE_BYTES);
            }
        });
    });
}

pub(super) fn capabilities(cx: &mut Cx<'_>, caps: &Field<Capabilities>) {
    nested(cx, "capabilities", caps, |c, cx| {
        for (name, list) in [("add", &c.add), ("drop", &c.drop)] {
            each(cx, name, list, 100, |_, _, _| {});
        }
    });
}

pub(super) fn runtime(r: &Located<Runtime>, cx: &mut Cx<'_>) {
    env_vars(cx, &r.env_vars);
    tasks(cx, &r.tasks);
    max_len(cx, &r.cmd, "cmd", 0, MAX_VALUE_BYTES);
    max_len(cx, &r.entrypoint, "entrypoint", 0, MAX_VALUE_BYTES);
    capabilities(cx, &r.capabilities);
    nested(cx, "devcontainers", &r.devcontainers, |d, cx| {
        each(cx, "features", &d.features, 100, |f, parent, cx| {
            if require(
                cx,
                &f.reference,
                "reference",
                parent,
                "add the feature reference",
            ) {
                max_len(cx, &f.reference, "reference", 1, 256);
            }
            each(cx, "options", &f.options, 32, |o, parent, cx| {
                for (name, field) in [("key", &o.key), ("value", &o.value)] {
                    if require(cx, field, name, parent, "options need a key and a value") {
                        max_len(cx, field, name, 1, 256);
                    }
                }
            });
        });
        if let Some(features) = &d.features {
            let keys = entries(cx, "features", features)
                .into_iter()
                .map(|(i, _, f)| (i, f.reference.as_ref().map(|r| (r.value.as_str(), r.loc))));
            unique(cx, "features", keys, "reference", "feature");
        }
    });
    nested(cx, "octelium", &r.octelium, |o, cx| {
        each(cx, "serveServices", &o.serve_services, 128, |_, _, _| {});
    });
    nested(cx, "network", &r.network, |n, cx| {
        nested(cx, "egress", &n.egress, |e, cx| {
            each(cx, "rules", &e.rules, 128, |rule, parent, cx| {
                if rule.cidrs.as_ref().is_none_or(|c| c.is_empty()) && !cx.explained("cidrs") {
                    cx.at("cidrs", |cx| {
                        cx.report(
                            Diagnostic::error(
                                codes::REQUIRED,
                                "an egress rule needs at least one CIDR",
                            )
                            .at(parent)
                            .with_help("add `cidrs: [10.0.0.0/8]`"),
                        )
                    });
                }
                require(
                    cx,
                    &rule.action,
                    "action",
                    parent,
                    "add `action: ALLOW` or `action: DENY`",
                );
                each(cx, "cidrs", &rule.cidrs, 128, |cidr, at, cx| {
                    if let Err(e) = crate::shapes::parse_cidr(cidr) {
                        let d = Diagnostic::error(e.code, e.message).at(at);
                        cx.report(match e.help {
                            Some(help) => d.with_help(help),
                            None => d,
                        });
                    }
                });
                each(cx, "ports", &rule.ports, 128, |port, at, cx| {
                    if !(1..=65535).contains(port) {
                        cx.report(
                            Diagnostic::error(
                                codes::PORT,
                                format!("port {port} is outside 1..65535"),
                            )
                            .at(at),
                        );
                    }
                });
            });
        });
    });
    volume_mounts(cx, &r.volume_mounts);
}

pub(super) fn volume_mounts(cx: &mut Cx<'_>, mounts: &Field<Vec<VolumeMount>>) {
    each(cx, "volumeMounts", mounts, 16, |m, parent, cx| {
        let has_ref = m
            .volume_ref
            .as_ref()
            .is_some_and(|r| r.name.is_some() || r.uid.is_some());
        if !has_ref && !cx.explained("volumeRef") {
            cx.at("volumeRef", |cx| {
                cx.report(
                    Diagnostic::error(codes::REQUIRED, "the mount names no Volume")
                        .at(m.volume_ref.as_ref().map_or(parent, |r| r.loc))
                        .with_help("add `volumeRef: {name: <volume>}`"),
                )
            });
        }
        require(
            cx,
            &m.mount_path,
            "mountPath",
            parent,
            "add an absolute `mountPath`",
        );
    });
    let Some(mounts) = mounts else { return };
    let entries: Vec<_> = entries(cx, "volumeMounts", mounts)
        .into_iter()
        .filter_map(|(i, _, m)| m.mount_path.as_ref().map(|p| (i, p, m)))
        .collect();
    for (n, (i, path, mount)) in entries.iter().enumerate() {
        for (_, other_path, other) in &entries[..n] {
            let (a, b) = (path.as_str(), other_path.as_str());
            let nested = a == b
                || a.strip_prefix(b).is_some_and(|r| r.starts_with('/'))
                || b.strip_prefix(a).is_some_and(|r| r.starts_with('/'));
            if nested {
                cx.at(&format!("volumeMounts[{i}].mountPath"), |cx| {
                    cx.report(
                        Diagnostic::error(
                            codes::MOUNT_CONFLICT,
                            format!("`{a}` overlaps the mount at `{b}`"),
                        )
                        .at(path.loc)
                        .with_related(other_path.loc, "the other mount")
                        .with_help("mount volumes at separate, non-nested paths"),
                    );
                });
            }
            let volume = |m: &'_ VolumeMount| {
                m.volume_ref
                    .as_ref()
                    .and_then(|r| r.uid.clone().or_else(|| r.name.clone()))
            };
            if let (Some(v), Some(w)) = (volume(mount), volume(other))
                && v.value == w.value
            {
                cx.at(&format!("volumeMounts[{i}].volumeRef"), |cx| {
                    cx.report(
                        Diagnostic::error(
                            codes::MOUNT_CONFLICT,
                            format!("volume `{}` is mounted twice", v.value),
                        )
                        .at(v.loc)
                        .with_related(w.loc, "first mounted here"),
                    );
                });
            }
        }
    }
}

pub(super) fn repository(r: &Located<Repository>, cx: &mut Cx<'_>) {
    nested(cx, "authentication", &r.authentication, |a, cx| {
        let RepositoryAuth::Http(h) = &a.value;
        cx.at("http", |cx| {
            http_auth(
                cx,
                &h.username,
                h.password.as_ref().map(|p| (p.loc, &p.from_secret)),
                "fromSecret",
                a.loc,
            )
        });
    });
}

pub(super) fn http_auth(
    cx: &mut Cx<'_>,
    username: &Field<String>,
    password: Option<(Location, &Field<String>)>,
    secret_field: &str,
    parent: Location,
) {
    if require(cx, username, "username", parent, "add the user name") {
        max_len(cx, username, "username", 1, 150);
    }
    match password {
        None if cx.explained("password") => {}
        None => cx.at("password", |cx| {
            cx.report(
                Diagnostic::error(codes::REQUIRED, "`password` is required")
                    .at(parent)
                    .with_help(format!("add `password: {{{secret_field}: <name>}}`")),
            )
        }),
        Some((loc, secret)) => cx.at("password", |cx| {
            if require(
                cx,
                secret,
                secret_field,
                loc,
                "name the secret holding the password",
            ) {
                max_len(cx, secret, secret_field, 1, 256);
            }
        }),
    }
}

pub(super) fn image(i: &Located<Image>, cx: &mut Cx<'_>) {
    match &i.value {
        Image::Registry(r) => cx.at("registry", |cx| {
            require(
                cx,
                &r.url,
                "url",
                i.loc,
                "add the image reference, e.g. `url: python:3.11-slim`",
            );
            nested(cx, "authentication", &r.authentication, |a, cx| {
                http_auth(
                    cx,
                    &a.username,
                    a.password.as_ref().map(|p| (p.loc, &p.from_secret)),
                    "fromSecret",
                    a.loc,
                );
            });
        }),
        Image::Dockerfile(DockerfileImage::Inline(text)) => {
            let at = written_at(cx, "dockerfile.inline").unwrap_or(i.loc);
            max_len_of(cx, Some((text, at)), "dockerfile.inline", 1, 5000);
            if text.len() <= 5000
                && let Err((_, e)) = crate::dockerfile::check(text)
            {
                cx.at("dockerfile.inline", |cx| cx.report(e.into_diagnostic(at)));
            }
        }
        Image::Dockerfile(DockerfileImage::Url(_)) => {}
        Image::Git(g) => cx.at("git", |cx| {
            require(
                cx,
                &g.url,
                "url",
                i.loc,
                "add the URL of the repository to build from",
            );
            max_len(cx, &g.dockerfile, "dockerfile", 0, MAX_PATH_BYTES);
            max_len(cx, &g.context, "context", 0, MAX_PATH_BYTES);
        }),
        Image::Repository(RepositoryImage::Dockerfile(d)) => cx.at("repository.dockerfile", |cx| {
            max_len(cx, &d.path, "path", 0, 256);
            max_len(cx, &d.context, "context", 0, 256);
        }),
        Image::Repository(RepositoryImage::Devcontainer(_)) => {}
    }
}

pub(super) fn additional_repositories(cx: &mut Cx<'_>, list: &Field<Vec<AdditionalRepository>>) {
    each(cx, "additionalRepositories", list, 32, |a, parent, cx| {
        require(cx, &a.name, "name", parent, "add a unique name");
        if require(
            cx,
            &a.repository,
            "repository",
            parent,
            "add `repository: {url: https://...}`",
        ) {
            nested(cx, "repository", &a.repository, |r, cx| {
                require(cx, &r.url, "url", r.loc, "add the https URL to clone");
                repository(r, cx);
            });
        }
        max_len(cx, &a.clone_path, "clonePath", 0, 256);
    });
    if let Some(list) = list {
        let keys = entries(cx, "additionalRepositories", list)
            .into_iter()
            .map(|(i, _, a)| (i, a.name.as_ref().map(|n| (n.as_str(), n.loc))));
        unique(
            cx,
            "additionalRepositories",
            keys,
            "name",
            "additional repository",
        );
    }
}

pub(super) fn applications(cx: &mut Cx<'_>, list: &Field<Vec<Application>>) {
    each(cx, "applications", list, 128, |a, parent, cx| {
        require(cx, &a.name, "name", parent, "add a unique name");
        match &a.port {
            Some(p) if (1..=65535).contains(&p.value) => {}
            Some(p) => cx.at("port", |cx| {
                cx.report(
                    Diagnostic::error(codes::PORT, format!("port {} is outside 1..65535", p.value))
                        .at(p.loc),
                )
            }),
            None if cx.explained("port") => {}
            None => cx.at("port", |cx| {
                cx.report(
                    Diagnostic::error(codes::PORT, "the application has no `port`")
                        .at(parent)
                        .with_help("add `port: 8080`"),
                )
            }),
        }
        max_len(cx, &a.display_name, "displayName", 0, 128);
    });
    let Some(list) = list else { return };
    let written = entries(cx, "applications", list);
    unique(
        cx,
        "applications",
        written
            .iter()
            .map(|(i, _, a)| (*i, a.name.as_ref().map(|n| (n.as_str(), n.loc)))),
        "name",
        "application",
    );
    let defaults: Vec<_> = written
        .iter()
        .filter_map(|(i, _, a)| {
            a.is_default
                .as_ref()
                .filter(|d| d.value)
                .map(|d| (*i, d.loc))
        })
        .collect();
    if let [(_, first), rest @ ..] = defaults.as_slice() {
        for (i, loc) in rest {
            cx.at(&format!("applications[{i}].isDefault"), |cx| {
                cx.report(
                    Diagnostic::error(
                        codes::DEFAULT_APPLICATION,
                        "more than one application is the default",
                    )
                    .at(*loc)
                    .with_related(*first, "the first default")
                    .with_help("keep `isDefault: true` on one application only"),
                );
            });
        }
    }
}

/// The longest env value, `cmd` and `entrypoint`, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024;
/// The longest task `run` (and inline Dockerfile), in bytes.
pub const MAX_RUN_BYTES: usize = 5000;
/// The longest path field (`workingDir`, a git image's `dockerfile` and `context`), in bytes.
pub const MAX_PATH_BYTES: usize = 256;

/// The most variables a layer, or a run, defines.
pub const MAX_VARS: usize = 1000;

/// The longest value of a variable, in bytes: the longest field a variable can be substituted
/// into (a task's `run`), so a longer value could never be used.
pub const MAX_VAR_VALUE_BYTES: usize = MAX_RUN_BYTES;

/// Why a run's variables (`--var NAME=VALUE`, StartWorkspace's and CompileWorkspace's `vars`)
/// cannot be used: which one, which of its fields, and what is wrong. They come from a
/// command line or a request, not a file, so there is no place to point at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("vars[{index}].{field}: {problem}")]
pub struct RunVarError {
    /// The variable's index in the run's list.
    pub index: usize,
    /// `name` or `value`.
    pub field: &'static str,
    /// What is wrong, and how to fix it.
    pub problem: String,
}

/// Checks a run's variables by the rules of `spec.vars`: at most [`MAX_VARS`], names that can
/// be referenced, values of at most [`MAX_VAR_VALUE_BYTES`]. A name given twice is allowed (the
/// last one wins, as on a command line). Names are not quoted back: one may be megabytes.
///
/// # Errors
///
/// The first variable that breaks a rule.
pub fn check_run_vars<'v>(
    vars: impl IntoIterator<Item = (&'v str, &'v str)>,
) -> Result<(), RunVarError> {
    for (index, (name, value)) in vars.into_iter().enumerate() {
        let problem = |field, problem: String| RunVarError {
            index,
            field,
            problem,
        };
        if index >= MAX_VARS {
            return Err(problem(
                "name",
                format!("a run sets at most {MAX_VARS} variables"),
            ));
        }
        if !is_variable_name(name) {
            return Err(problem("name", VARIABLE_NAME_RULE.to_owned()));
        }
        if value.len() > MAX_VAR_VALUE_BYTES {
            return Err(problem(
                "value",
                format!(
                    "the value is {} bytes; at most {MAX_VAR_VALUE_BYTES} are allowed",
                    value.len()
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn vars(cx: &mut Cx<'_>, list: &Field<Vec<Var>>) {
    each(cx, "vars", list, MAX_VARS, |v, parent, cx| {
        if require(cx, &v.name, "name", parent, "add the variable name")
            && let Some(name) = v.name.as_ref().filter(|n| !is_identifier(n))
        {
            cx.at("name", |cx| {
                cx.report(
                    Diagnostic::error(
                        codes::NAME,
                        format!(
                            "`{}` cannot be referenced as `${{{{ vars.NAME }}}}`",
                            name.value
                        ),
                    )
                    .at(name.loc)
                    .with_help("use letters, digits and `_`, not starting with a digit"),
                )
            });
        }
        if require(cx, &v.value, "value", parent, "add `value: ...`") {
            max_len(cx, &v.value, "value", 0, MAX_VAR_VALUE_BYTES);
        }
    });
    if let Some(list) = list {
        let keys = entries(cx, "vars", list)
            .into_iter()
            .map(|(i, _, v)| (i, v.name.as_ref().map(|n| (n.value.as_str(), n.loc))));
        unique(cx, "vars", keys, "name", "variable");
    }
}

/// What [`is_variable_name`] asks, as an error says it.
pub const VARIABLE_NAME_RULE: &str =
    "a variable name is at most 256 letters, digits and `_`, not starting with a digit";

/// Whether `name` can name a variable given from outside a file (a run's variable, an
/// execution's environment): an identifier of at most 256 bytes.
pub fn is_variable_name(name: &str) -> bool {
    name.len() <= 256 && is_identifier(name)
}

/// Whether `name` is `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
