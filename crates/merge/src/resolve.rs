//! The last step of [`crate::compile()`]: the merged tree to the resolved [`EffectiveSpec`].
//!
//! The tree is first converted to [`MergedSpec`], a wire type with every field optional (so
//! shapes, git refs and URLs are checked on the substituted values, with the spec crate's
//! diagnostics); then every value the compiler guarantees is moved out of its `Option` (the
//! converted values are moved, not copied, into the [`EffectiveSpec`]). The
//! layers were validated one by one and the merge keeps their shapes, so a value missing here
//! is a compiler bug: it is reported as a `spec::required` error at the field, never a panic,
//! and never left for the provisioner to find.

use crate::effective::{
    AdditionalRepository, Application, Capabilities, ClonedRepository, Dotfiles, EffectiveRuntime,
    EffectiveSpec, EnvSource, EnvVar, GitImage, Image, Limits, Login, RegistryImage, Repository,
    SecretRef, Task, TaskEnvVar, Var,
};
use cordium_spec::resources as wire;
use cordium_spec::{Cx, Diagnostic, FromNode, Located, Location, Node, codes};

cordium_spec::wire_struct! {
    /// An environment variable of the merged tree: from any layer, so any source.
    pub struct MergedEnvVar {
        /// The variable name.
        key: String = "key",
        /// A literal value, substituted.
        value: String = "value",
        /// A Secret of the Space, by name.
        from_secret: String = "fromSecret",
        /// A UserSecret of the user, by name.
        from_user_secret: String = "fromUserSecret",
    }
}

cordium_spec::wire_struct! {
    /// `runtime` of the merged tree.
    pub struct MergedRuntime {
        /// Environment variables.
        env_vars: Vec<MergedEnvVar> = "envVars",
        /// Tasks.
        tasks: Vec<wire::Task> = "tasks",
        /// The command.
        cmd: String = "cmd",
        /// The entrypoint.
        entrypoint: String = "entrypoint",
        /// No init process.
        disable_init: bool = "disableInit",
        /// Stop when foreground tasks are done.
        auto_stop: bool = "autoStop",
        /// Root filesystem options.
        filesystem: wire::Filesystem = "filesystem",
        /// Capabilities.
        capabilities: wire::Capabilities = "capabilities",
        /// Network policy.
        network: wire::Network = "network",
        /// Inactivity timeout.
        timeout: wire::Timeout = "timeout",
        /// Devcontainer features.
        devcontainers: wire::Devcontainers = "devcontainers",
        /// Volume mounts.
        volume_mounts: Vec<wire::VolumeMount> = "volumeMounts",
        /// `octelium connect` flags.
        octelium: wire::Octelium = "octelium",
    }
}

cordium_spec::wire_struct! {
    /// The merged tree's spec, converted but not yet resolved; its field order is the
    /// output's.
    pub struct MergedSpec {
        /// The image.
        image: wire::Image = "image",
        /// The primary repository.
        repository: wire::Repository = "repository",
        /// Secondary repositories.
        additional_repositories: Vec<wire::AdditionalRepository> = "additionalRepositories",
        /// Exposed ports.
        applications: Vec<wire::Application> = "applications",
        /// Whether storage is deleted on stop.
        is_ephemeral: bool = "isEphemeral",
        /// Compute.
        limit: wire::Limit = "limit",
        /// Container behaviour.
        runtime: MergedRuntime = "runtime",
        /// Dotfiles.
        dotfiles: wire::Dotfiles = "dotfiles",
        /// The GitProvider.
        git_provider: String = "gitProvider",
        /// The variables.
        vars: Vec<wire::Var> = "vars",
    }
}

impl FromNode for EffectiveSpec {
    /// Converts the merged tree; `None` with diagnostics when a shape check fails (or, a
    /// compiler bug, a guaranteed value is missing).
    fn from_node(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        resolve_merged(node.loc, cx, |inner| MergedSpec::from_node(node, inner))
    }

    /// The same, moving the tree's strings into the result (how `compile` converts).
    fn from_owned(node: Node, cx: &mut Cx<'_>) -> Option<Self> {
        resolve_merged(node.loc, cx, |inner| MergedSpec::from_owned(node, inner))
    }
}

/// The merged tree written at `loc`, converted by `convert` in a context of its own (at the
/// same path), then resolved when it converted cleanly.
fn resolve_merged(
    loc: Location,
    cx: &mut Cx<'_>,
    convert: impl FnOnce(&mut Cx<'_>) -> Option<MergedSpec>,
) -> Option<EffectiveSpec> {
    let mut diagnostics = Vec::new();
    let merged = {
        let mut inner = Cx::new(&mut diagnostics);
        inner.defer_templated = cx.defer_templated;
        inner.at(cx.path(), convert)
    };
    let clean = diagnostics.iter().all(|d| !d.is_error());
    for d in diagnostics {
        cx.report(d);
    }
    let merged = merged.filter(|_| clean)?;
    Resolver { cx, loc }.spec(merged)
}

/// Takes guaranteed values out of their `Option`s, reporting (at the current path) any that
/// is missing.
struct Resolver<'c, 'd> {
    cx: &'c mut Cx<'d>,
    /// Where the value being resolved was written (for a missing field's diagnostic).
    loc: Location,
}

/// The value of an optional field, without its place.
fn plain<T>(field: Option<Located<T>>) -> Option<T> {
    field.map(|l| l.value)
}

/// The text of an optional text-like field (a string or a checked shape).
fn text<T: Into<String>>(field: Option<Located<T>>) -> Option<String> {
    field.map(|l| l.value.into())
}

impl Resolver<'_, '_> {
    /// Reports that `field` is missing under the current path.
    fn missing(&mut self, field: &str) {
        let loc = self.loc;
        self.cx.at(field, |cx| {
            cx.report(
                Diagnostic::error(
                    codes::REQUIRED,
                    format!("`{field}` is required in a compiled workspace"),
                )
                .at(loc),
            )
        });
    }

    /// A required field's value.
    fn need<T>(&mut self, value: Option<T>, field: &str) -> Option<T> {
        if value.is_none() {
            self.missing(field);
        }
        value
    }

    /// Resolves `value` (written at its place) under `segment` of the path.
    fn within<T, R>(
        &mut self,
        segment: &str,
        value: Located<T>,
        f: impl FnOnce(&mut Resolver<'_, '_>, T) -> Option<R>,
    ) -> Option<R> {
        let loc = value.loc;
        self.cx
            .at(segment, |cx| f(&mut Resolver { cx, loc }, value.value))
    }

    /// Resolves an optional field: `Some(None)` when absent, `None` when it fails.
    fn optional<T, R>(
        &mut self,
        segment: &str,
        field: Option<Located<T>>,
        f: impl FnOnce(&mut Resolver<'_, '_>, T) -> Option<R>,
    ) -> Option<Option<R>> {
        match field {
            Some(value) => self.within(segment, value, f).map(Some),
            None => Some(None),
        }
    }

    /// Resolves every item of a list field; `Some(None)` when the list is absent.
    fn list<T, R>(
        &mut self,
        segment: &str,
        field: Option<Located<Vec<T>>>,
        mut f: impl FnMut(&mut Resolver<'_, '_>, T) -> Option<R>,
    ) -> Option<Option<Vec<R>>> {
        self.optional(segment, field, |r, items| {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.into_iter().enumerate() {
                let loc = r.loc;
                match r.cx.at_index(i, |cx| f(&mut Resolver { cx, loc }, item)) {
                    Some(v) => out.push(v),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        })
    }

    /// Resolves a list the compiler always writes.
    fn required_list<T, R>(
        &mut self,
        segment: &str,
        field: Option<Located<Vec<T>>>,
        f: impl FnMut(&mut Resolver<'_, '_>, T) -> Option<R>,
    ) -> Option<Vec<R>> {
        let list = self.list(segment, field, f)?;
        self.need(list, segment)
    }

    fn spec(&mut self, s: MergedSpec) -> Option<EffectiveSpec> {
        let image = self.optional("image", s.image, |r, x| r.image(x));
        let repository = self.optional("repository", s.repository, |r, x| r.repository(x));
        let additional_repositories = self.list(
            "additionalRepositories",
            s.additional_repositories,
            |r, x| r.additional_repository(x),
        );
        let applications = self.list("applications", s.applications, |r, x| r.application(x));
        let is_ephemeral = self.need(plain(s.is_ephemeral), "isEphemeral");
        let limit = match s.limit {
            Some(limit) => self.within("limit", limit, |r, x| r.limits(x)),
            None => self.need(None, "limit"),
        };
        let runtime = match s.runtime {
            Some(runtime) => self.within("runtime", runtime, |r, x| r.runtime(x)),
            None => self.need(None, "runtime"),
        };
        let dotfiles = self.optional("dotfiles", s.dotfiles, |r, x| r.dotfiles(x));
        let vars = self.required_list("vars", s.vars, |r, v| {
            Some(Var {
                name: r.need(text(v.name), "name")?,
                value: r.need(text(v.value), "value")?,
            })
        });
        Some(EffectiveSpec {
            image: image?,
            repository: repository?,
            additional_repositories: additional_repositories?,
            applications: applications?,
            is_ephemeral: is_ephemeral?,
            limit: limit?,
            runtime: runtime?,
            dotfiles: dotfiles?,
            git_provider: text(s.git_provider),
            vars: vars?,
        })
    }

    fn login(&mut self, username: Option<String>, password: Option<SecretRef>) -> Option<Login> {
        let username = self.need(username, "username");
        let password = self.need(password, "password");
        Some(Login {
            username: username?,
            password: password?,
        })
    }

    /// A login whose password is a Secret of the Space.
    fn secret_login(
        &mut self,
        username: Option<Located<String>>,
        password: Option<Located<wire::SecretRef>>,
    ) -> Option<Login> {
        let password = password
            .and_then(|p| text(p.value.from_secret))
            .map(SecretRef::Secret);
        self.login(text(username), password)
    }

    fn image(&mut self, image: wire::Image) -> Option<Image> {
        Some(match image {
            wire::Image::Registry(registry) => self.cx.at("registry", |cx| {
                let mut r = Resolver { cx, loc: self.loc };
                let url = r.need(text(registry.url), "url");
                let authentication =
                    r.optional("authentication", registry.authentication, |r, a| {
                        r.secret_login(a.username, a.password)
                    });
                Some(Image::Registry(RegistryImage {
                    url: url?,
                    authentication: authentication?,
                }))
            })?,
            wire::Image::Dockerfile(dockerfile) => Image::Dockerfile(dockerfile),
            wire::Image::Git(git) => {
                let url = self.cx.at("git", |cx| {
                    Resolver { cx, loc: self.loc }.need(text(git.url), "url")
                });
                Image::Git(GitImage {
                    url: url?,
                    checkout: text(git.checkout),
                    dockerfile: text(git.dockerfile),
                    context: text(git.context),
                })
            }
            wire::Image::Repository(build) => Image::Repository(build),
        })
    }

    /// A repository's HTTP login (`authentication.http`).
    fn repository_login(
        &mut self,
        authentication: Option<Located<wire::RepositoryAuth>>,
    ) -> Option<Option<Login>> {
        self.optional("authentication", authentication, |r, auth| {
            let wire::RepositoryAuth::Http(http) = auth;
            r.cx.at("http", |cx| {
                Resolver { cx, loc: r.loc }.secret_login(http.username, http.password)
            })
        })
    }

    fn repository(&mut self, repository: wire::Repository) -> Option<Repository> {
        Some(Repository {
            url: text(repository.url),
            clone_options: plain(repository.clone_options),
            authentication: self.repository_login(repository.authentication)?,
        })
    }

    fn additional_repository(
        &mut self,
        extra: wire::AdditionalRepository,
    ) -> Option<AdditionalRepository> {
        let name = self.need(text(extra.name), "name");
        let repository = match extra.repository {
            Some(repository) => self.within("repository", repository, |r, repo| {
                let url = r.need(text(repo.url), "url");
                let authentication = r.repository_login(repo.authentication);
                Some(ClonedRepository {
                    url: url?,
                    clone_options: plain(repo.clone_options),
                    authentication: authentication?,
                })
            }),
            None => self.need(None, "repository"),
        };
        Some(AdditionalRepository {
            name: name?,
            clone_path: text(extra.clone_path),
            repository: repository?,
        })
    }

    fn application(&mut self, app: wire::Application) -> Option<Application> {
        let name = self.need(text(app.name), "name");
        let port = self.need(plain(app.port).and_then(|p| u16::try_from(p).ok()), "port");
        Some(Application {
            name: name?,
            display_name: text(app.display_name),
            port: port?,
            is_default: plain(app.is_default),
        })
    }

    fn limits(&mut self, limit: wire::Limit) -> Option<Limits> {
        let cpu = limit.cpu.and_then(|c| plain(c.value.millicores));
        let memory = limit.memory.and_then(|m| plain(m.value.megabytes));
        let storage = limit.storage.and_then(|m| plain(m.value.megabytes));
        let cpu = self.need(cpu, "cpu.millicores");
        let memory = self.need(memory, "memory.megabytes");
        let storage = self.need(storage, "storage.megabytes");
        Some(Limits {
            cpu_millicores: cpu?,
            memory_megabytes: memory?,
            storage_megabytes: storage?,
        })
    }

    fn env_var(&mut self, var: MergedEnvVar) -> Option<EnvVar> {
        let key = self.need(text(var.key), "key");
        let source = match (
            text(var.value),
            text(var.from_secret),
            text(var.from_user_secret),
        ) {
            (Some(v), None, None) => Some(EnvSource::Value(v)),
            (None, Some(s), None) => Some(EnvSource::FromSecret(s)),
            (None, None, Some(s)) => Some(EnvSource::FromUserSecret(s)),
            _ => {
                self.missing("value");
                None
            }
        };
        Some(EnvVar {
            key: key?,
            source: source?,
        })
    }

    fn task(&mut self, task: wire::Task) -> Option<Task> {
        let run = self.need(text(task.run), "run");
        let task_type = self.need(plain(task.task_type), "type");
        let env_vars = self.list("envVars", task.env_vars, |r, var| {
            let key = r.need(text(var.key), "key");
            let value = r.need(text(var.value), "value");
            Some(TaskEnvVar {
                key: key?,
                value: value?,
            })
        });
        Some(Task {
            name: text(task.name),
            run: run?,
            task_type: task_type?,
            env_vars: env_vars?,
            working_dir: text(task.working_dir),
            is_background: plain(task.is_background),
            on_failure: plain(task.on_failure),
            run_as_root: plain(task.run_as_root),
        })
    }

    fn runtime(&mut self, runtime: MergedRuntime) -> Option<EffectiveRuntime> {
        let env_vars = self.required_list("envVars", runtime.env_vars, |r, x| r.env_var(x));
        let tasks = self.required_list("tasks", runtime.tasks, |r, x| r.task(x));
        Some(EffectiveRuntime {
            env_vars: env_vars?,
            tasks: tasks?,
            cmd: text(runtime.cmd),
            entrypoint: text(runtime.entrypoint),
            disable_init: plain(runtime.disable_init),
            auto_stop: plain(runtime.auto_stop),
            filesystem: plain(runtime.filesystem),
            capabilities: runtime.capabilities.map(|c| Capabilities {
                add: plain(c.value.add),
                drop: plain(c.value.drop),
            }),
            network: plain(runtime.network),
            timeout: plain(runtime.timeout),
            devcontainers: plain(runtime.devcontainers),
            volume_mounts: plain(runtime.volume_mounts),
            octelium: plain(runtime.octelium),
        })
    }

    fn dotfiles(&mut self, dotfiles: wire::Dotfiles) -> Option<Dotfiles> {
        let url = self.need(text(dotfiles.url), "url");
        let authentication = self.optional("authentication", dotfiles.authentication, |r, auth| {
            let wire::DotfilesAuth::Http(http) = auth;
            r.cx.at("http", |cx| {
                let mut r = Resolver { cx, loc: r.loc };
                let password = http
                    .password
                    .and_then(|p| text(p.value.from_user_secret))
                    .map(SecretRef::UserSecret);
                r.login(text(http.username), password)
            })
        });
        Some(Dotfiles {
            url: url?,
            branch: text(dotfiles.branch),
            authentication: authentication?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use cordium_spec::SourceMap;

    /// Resolves a spec written as YAML (a merged tree, as `compile` would hand over), by
    /// value as `compile` does, after checking that by reference gives the same.
    fn resolve(yaml: &str) -> (Option<EffectiveSpec>, Vec<Diagnostic>) {
        let mut sources = SourceMap::new();
        let id = sources.add("merged.yaml", yaml);
        let root = cordium_spec::yaml::parse_documents(yaml, id)
            .unwrap()
            .into_iter()
            .next()
            .unwrap();
        let run = |owned: bool| {
            let mut diagnostics = Vec::new();
            let mut cx = Cx::new(&mut diagnostics);
            cx.defer_templated = false;
            let spec = cx.at("spec", |cx| {
                if owned {
                    EffectiveSpec::from_owned(root.clone(), cx)
                } else {
                    EffectiveSpec::from_node(&root, cx)
                }
            });
            (spec, diagnostics)
        };
        let by_value = run(true);
        assert_eq!(run(false), by_value, "by reference and by value differ");
        by_value
    }

    const SHAPE: &str = "isEphemeral: false\nlimit: {cpu: {millicores: 1}, memory: {megabytes: 2}, storage: {megabytes: 3}}\nvars: []\n";

    #[test]
    fn guaranteed_values_come_out_plain() {
        let (spec, diagnostics) = resolve(&format!(
            "{SHAPE}runtime:\n  envVars: [{{key: A, fromSecret: s}}]\n  tasks: [{{run: make, type: POST_START}}]\n"
        ));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let spec = spec.unwrap();
        assert_eq!(
            spec.limit,
            Limits {
                cpu_millicores: 1,
                memory_megabytes: 2,
                storage_megabytes: 3
            }
        );
        assert_eq!(
            spec.runtime.env_vars,
            [EnvVar {
                key: "A".into(),
                source: EnvSource::FromSecret("s".into())
            }]
        );
        assert_eq!(spec.runtime.tasks[0].run, "make");
    }

    /// States the layers' validation excludes are refused here, at the field, instead of
    /// reaching the provisioner.
    #[test]
    fn a_missing_guaranteed_value_is_an_error_at_its_field() {
        let (spec, diagnostics) = resolve(&format!(
            "{SHAPE}runtime:\n  envVars: [{{key: A, value: '1', fromSecret: s}}]\n  tasks: [{{type: POST_START}}, {{run: make}}]\n"
        ));
        assert_eq!(spec, None);
        let paths: Vec<&str> = diagnostics.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.runtime.envVars[0].value",
                "spec.runtime.tasks[0].run",
                "spec.runtime.tasks[1].type"
            ]
        );
        assert!(diagnostics.iter().all(|d| d.code == codes::REQUIRED));

        let (spec, diagnostics) = resolve("runtime: {envVars: [], tasks: []}\nvars: []\n");
        assert_eq!(spec, None);
        let paths: Vec<&str> = diagnostics.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["spec.isEphemeral", "spec.limit"]);
    }
}
