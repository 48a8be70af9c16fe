//! The environment of the container's processes: the secret environment file every process
//! sources (values never on a command line), the names it accepts, the main command's script,
//! and the plain variables of one `podman` invocation.

use super::{LOG_RELAY, PRELUDE};
use crate::runtime::{ContainerSpec, KEEP_ALIVE, ResolvedEnv, ResolvedValue, RuntimeError};
use tokio::process::Command;

/// The secret environment file: one line per secret variable, each set only when the
/// process does not already have it (so an execution's own variables win).
pub fn secret_env_file(env: &ResolvedEnv) -> String {
    // Never empty: podman refuses an empty secret.
    let mut file = String::from("# cordium: the secret environment\n");
    for (key, value) in env {
        if let ResolvedValue::Secret(secret) = value {
            file.push_str(&format!(
                "[ -n \"${{{key}+x}}\" ] || {key}={}\n",
                crate::lifecycle::shell_quote(secret.expose())
            ));
        }
    }
    file
}

/// Whether `name` is a POSIX shell variable name: only those can be set from the secret file.
pub(super) fn is_shell_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Prefixes of variables the `podman` process itself (Go, containers/common, storage, image,
/// runc, the dynamic loader, glibc's allocator, character sets and resolver) reads from its
/// environment. A task's or an exec's secret
/// variables travel in podman's own environment (`--env KEY`), so one of these names would
/// reconfigure podman on the host instead of reaching the container.
const HOST_READ_PREFIXES: &[&str] = &[
    "_",
    "BUILDAH_",
    "CONTAINER",
    "DBUS_",
    "GCONV_",
    "GLIBC_",
    "LD_",
    "MALLOC_",
    "OCICRYPT_",
    "PODMAN_",
    "SSL_CERT_",
    "STORAGE_",
    "SYSTEMD_",
    "XDG_",
];
/// Whole names the `podman` process reads (see [`HOST_READ_PREFIXES`]).
const HOST_READ_NAMES: &[&str] = &[
    "ALL_PROXY",
    "DOCKER_CERT_PATH",
    "DOCKER_CONFIG",
    "GODEBUG",
    "GOGC",
    "GOMAXPROCS",
    "GOMEMLIMIT",
    "GOTRACEBACK",
    "HOME",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "LOCPATH",
    "NLSPATH",
    "REGISTRIES_CONFIG_PATH",
    "REGISTRY_AUTH_FILE",
    "RES_OPTIONS",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "LISTEN_FDS",
    "LISTEN_PID",
    "NOTIFY_SOCKET",
    "NO_PROXY",
    "PATH",
    "SHELL",
    "TMPDIR",
    "TZ",
    "TZDIR",
    "USER",
    "ZONEINFO",
    "all_proxy",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];

/// Whether the `podman` process on the host would read a variable named `name`.
fn read_by_podman(name: &str) -> bool {
    HOST_READ_NAMES.contains(&name) || HOST_READ_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Refuses variable names podman or the shell would misread: `=` or NUL in any name, and
/// secret variables whose names are not shell names (they are set by sourcing a file). With
/// `secrets_inline` (an execution's own variables, which pass through the `podman` process's
/// environment), also secret variables that podman would read itself.
pub(super) fn check_env(env: &ResolvedEnv, secrets_inline: bool) -> Result<(), RuntimeError> {
    for (key, value) in env {
        let secret = matches!(value, ResolvedValue::Secret(_));
        if secret && secrets_inline && read_by_podman(key) {
            // An execution's own variables (ExecWorkspace, ExecStream, SSH): the caller's.
            return Err(RuntimeError::Refused {
                detail: format!(
                    "the environment variable `{key}` cannot be passed to a command: podman \
                     reads that name from its own environment on the host; set it in the \
                     command instead (`sh -c '{key}=... exec program'`)"
                ),
            });
        }
        let text = match value {
            ResolvedValue::Literal(text) => text.as_str(),
            ResolvedValue::Secret(secret) => secret.expose(),
        };
        if text.contains('\0') {
            // No process environment carries a NUL: the exec failed to spawn, and each task
            // "could not run" with only a warning in the server's log.
            return Err(RuntimeError::RunContainer {
                detail: format!(
                    "the environment variable `{key}` holds a NUL byte, which no process \
                     environment can carry; store its value without one"
                ),
            });
        }
        if key.contains(['=', '\0']) || (secret && !is_shell_name(key)) {
            return Err(RuntimeError::RunContainer {
                detail: format!(
                    "the environment variable `{key}` cannot be set{}: use letters, digits and `_`, \
                     not starting with a digit",
                    if secret { " from a secret" } else { "" }
                ),
            });
        }
    }
    Ok(())
}

/// `sh -c` script of the container's main process.
pub(super) fn main_script(spec: &ContainerSpec) -> String {
    match spec.main_command() {
        Some(command) => format!(
            "{LOG_RELAY}; {PRELUDE}; exec /bin/sh -c {}",
            crate::lifecycle::shell_quote(&command)
        ),
        None => format!("{LOG_RELAY}; {PRELUDE}; {KEEP_ALIVE}"),
    }
}

/// Adds `env` to a podman command: literals as `--env K=V`; secrets as `--env K`, the value
/// passed through podman's own environment so it is on no command line.
pub(super) fn add_env(command: &mut Command, env: &ResolvedEnv, secrets_inline: bool) {
    for (key, value) in env {
        match value {
            ResolvedValue::Literal(v) => {
                command.arg("--env").arg(format!("{key}={v}"));
            }
            ResolvedValue::Secret(s) if secrets_inline => {
                command.arg("--env").arg(key);
                command.env(key, s.expose());
            }
            ResolvedValue::Secret(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::SecretValue;

    #[test]
    fn secret_variables_need_shell_names() {
        let secret = |k: &str| vec![(k.to_owned(), ResolvedValue::Secret(SecretValue::new("v")))];
        let literal = |k: &str| vec![(k.to_owned(), ResolvedValue::Literal("v".to_owned()))];
        assert!(check_env(&secret("API_KEY_2"), true).is_ok());
        assert!(check_env(&secret("DB PASSWORD"), true).is_err());
        assert!(check_env(&secret("X}\"; touch /pwned; : \"${Y"), true).is_err());
        assert!(check_env(&secret("2FA"), true).is_err());
        assert!(check_env(&literal("DB PASSWORD"), true).is_ok());
        assert!(check_env(&literal("A=B"), true).is_err());
    }

    #[test]
    fn a_value_holding_nul_is_refused_naming_its_variable_not_its_value() {
        for value in [
            ResolvedValue::Secret(SecretValue::new("NULSEC-ab\0cd")),
            ResolvedValue::Literal("ab\0cd".to_owned()),
        ] {
            let refused = check_env(&vec![("TOKEN".to_owned(), value)], false);
            let Err(RuntimeError::RunContainer { detail }) = refused else {
                panic!("{refused:?}");
            };
            assert!(
                detail.contains("`TOKEN` holds a NUL byte") && !detail.contains("NULSEC"),
                "{detail}"
            );
        }
    }

    #[test]
    fn secret_variables_podman_reads_itself_are_refused() {
        let secret = |k: &str| vec![(k.to_owned(), ResolvedValue::Secret(SecretValue::new("v")))];
        for name in [
            "CONTAINERS_CONF",
            "CONTAINER_HOST",
            "LD_PRELOAD",
            "PATH",
            "XDG_RUNTIME_DIR",
            "_LIBCONTAINER_INITPIPE",
            "GODEBUG",
            "https_proxy",
            "GCONV_PATH",
            "GLIBC_TUNABLES",
            "HOSTALIASES",
            "MALLOC_ARENA_MAX",
        ] {
            // The caller's to change (INVALID_ARGUMENT over the API), not a failure to retry.
            assert!(
                matches!(
                    check_env(&secret(name), true),
                    Err(RuntimeError::Refused { .. })
                ),
                "{name}"
            );
        }
        for name in [
            "API_KEY",
            "DATABASE_URL",
            "GITHUB_TOKEN",
            "GOOGLE_API_KEY",
            "DOCKER_PASSWORD",
            "REGISTRY_PASSWORD",
            "PATHS",
        ] {
            assert!(check_env(&secret(name), true).is_ok(), "{name}");
            assert!(check_env(&secret(name), false).is_ok(), "{name}");
        }
        // Literals go on podman's command line as `--env K=V`, into the container only.
        let literal = vec![("PATH".to_owned(), ResolvedValue::Literal("/bin".to_owned()))];
        assert!(check_env(&literal, true).is_ok());
        // The container's own secret file is sourced inside it: any shell name will do.
        assert!(check_env(&secret("XDG_CONFIG_HOME"), false).is_ok());
    }

    #[test]
    fn the_secret_file_quotes_values_and_yields_to_set_variables() {
        let env = vec![
            ("PLAIN".to_owned(), ResolvedValue::Literal("x".to_owned())),
            (
                "TOKEN".to_owned(),
                ResolvedValue::Secret(SecretValue::new("it's $HOME")),
            ),
        ];
        assert_eq!(
            secret_env_file(&env),
            "# cordium: the secret environment\n[ -n \"${TOKEN+x}\" ] || TOKEN='it'\\''s $HOME'\n"
        );
    }
}
