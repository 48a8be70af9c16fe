//! [`KubernetesRuntime`]: the I/O half, applying the [objects](mod@crate::objects) with server-side
//! apply and reading back what the cluster did.

use crate::Error;
use crate::exec::{exec_command, exit_code};
use crate::objects::{
    self, CONTAINER, INSTALLATION_LABEL, Names, ObjectsInput, WORKSPACE_LABEL, owner, pull_secret,
    snapshot_name, volume_snapshot,
};
use crate::options::KubernetesOptions;
use crate::snapshot::VolumeSnapshot;
use crate::status::container_state;
use cordium_provisioner::runtime::{
    ContainerSpec, ContainerState, ExecOutput, ExecSpec, Login, OutputStream, PortStream,
    ProcessStream, Runtime, RuntimeError, StreamSpec, WorkspaceKey, read_captured,
};
use cordium_provisioner::{VolumeOnStop, VolumeSource};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, AttachParams, DeleteParams, ListParams, LogParams, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// From how many workspaces [`Runtime::states`] lists the Pods rather than reading each.
pub const LIST_FROM: usize = 8;

/// Runs workspaces on a Kubernetes cluster. See the [crate docs](crate).
#[derive(Clone)]
pub struct KubernetesRuntime {
    client: Client,
    options: KubernetesOptions,
}

impl Debug for KubernetesRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesRuntime")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// What an object is called in messages: `Pod/cdm-k3x9`.
fn describe<K: Resource<DynamicType = ()>>(name: &str) -> String {
    format!("{}/{name}", K::kind(&()))
}

fn engine(operation: impl Into<String>, error: &kube::Error) -> RuntimeError {
    RuntimeError::Engine {
        operation: operation.into(),
        detail: error.to_string(),
    }
}

fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}

impl KubernetesRuntime {
    /// A runtime talking to the cluster through `client`.
    pub fn new(client: Client, options: KubernetesOptions) -> Self {
        Self { client, options }
    }

    /// A runtime for the cluster of the local kubeconfig (`KUBECONFIG`, `~/.kube/config`) or,
    /// inside a Pod, of its service account.
    pub async fn from_kubeconfig(options: KubernetesOptions) -> Result<Self, Error> {
        Ok(Self::new(Client::try_default().await?, options))
    }

    /// The options.
    pub fn options(&self) -> &KubernetesOptions {
        &self.options
    }

    /// The Pods of the runtime's namespace (for the stream module).
    pub(crate) fn pods(&self) -> Api<Pod> {
        self.api()
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.options.namespace)
    }

    /// Server-side applies `object` with the field manager, forcing ownership of its
    /// fields; a conflict (HTTP 409) is retried [`KubernetesOptions::conflict_retries`] times.
    async fn apply<K>(&self, object: &K) -> Result<K, RuntimeError>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Serialize
            + DeserializeOwned
            + Clone
            + Debug,
    {
        let name = object.meta().name.clone().unwrap_or_default();
        let params = PatchParams::apply(&self.options.field_manager).force();
        let mut attempt = 0;
        loop {
            match self
                .api::<K>()
                .patch(&name, &params, &Patch::Apply(object))
                .await
            {
                Ok(applied) => return Ok(applied),
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    if attempt >= self.options.conflict_retries {
                        return Err(RuntimeError::Conflict {
                            object: describe::<K>(&name),
                            detail: status.message,
                        });
                    }
                    attempt += 1;
                    tracing::debug!(object = describe::<K>(&name), attempt, "conflict, retrying");
                    tokio::time::sleep(self.options.poll_interval).await;
                }
                Err(e) => return Err(engine(format!("apply {}", describe::<K>(&name)), &e)),
            }
        }
    }

    /// Deletes `name` (in the background); whether it existed.
    async fn delete_if_present<K>(&self, name: &str) -> Result<bool, RuntimeError>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + DeserializeOwned
            + Clone
            + Debug,
    {
        match self
            .api::<K>()
            .delete(name, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_status(&e, 404) => Ok(false),
            Err(e) => Err(engine(format!("delete {}", describe::<K>(name)), &e)),
        }
    }

    /// Reads `name`; `None` when it does not exist.
    async fn read<K>(&self, name: &str) -> Result<Option<K>, RuntimeError>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + DeserializeOwned
            + Clone
            + Debug,
    {
        self.api::<K>()
            .get_opt(name)
            .await
            .map_err(|e| engine(format!("read {}", describe::<K>(name)), &e))
    }

    /// Removes the Service earlier versions made of a workspace's applications (none is made
    /// now). Best effort: a cluster whose Role no longer lets Cordium delete Services (403)
    /// must not fail every start over an object that is not there.
    async fn remove_former_service(&self, names: &Names) {
        if let Err(e) = self.delete_if_present::<Service>(&names.service).await {
            tracing::warn!(service = %names.service, "removing a former Service: {e}");
        }
    }

    /// Deletes `name` and waits until it is gone.
    async fn delete_and_wait<K>(&self, name: &str, timeout: Duration) -> Result<(), RuntimeError>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + DeserializeOwned
            + Clone
            + Debug,
    {
        if !self.delete_if_present::<K>(name).await? {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        while self.read::<K>(name).await?.is_some() {
            if tokio::time::Instant::now() >= deadline {
                return Err(RuntimeError::Engine {
                    operation: format!("delete {}", describe::<K>(name)),
                    detail: format!("still present after {}s", timeout.as_secs()),
                });
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
        Ok(())
    }

    /// Applies the owner ConfigMap; its `metadata.uid`.
    async fn apply_owner(&self, key: &WorkspaceKey) -> Result<String, RuntimeError> {
        let applied = self.apply(&owner(key, &self.options)).await?;
        applied.uid().ok_or_else(|| RuntimeError::Engine {
            operation: format!("apply {}", describe::<ConfigMap>(&applied.name_any())),
            detail: "the API server returned no uid".to_owned(),
        })
    }

    /// Polls the Pod until its container runs, turning failures into the seed's errors.
    async fn wait_running(&self, names: &Names, image: &str) -> Result<(), RuntimeError> {
        let deadline = tokio::time::Instant::now() + self.options.start_timeout;
        loop {
            let pod = self.read::<Pod>(&names.pod).await?;
            match container_state(pod.as_ref()) {
                ContainerState::Running => return Ok(()),
                ContainerState::ImagePullFailed(detail) => {
                    return Err(RuntimeError::ImagePull {
                        image: image.to_owned(),
                        detail,
                    });
                }
                ContainerState::Failed(detail) => {
                    return Err(RuntimeError::RunContainer { detail });
                }
                ContainerState::Absent => {
                    return Err(RuntimeError::RunContainer {
                        detail: format!("Pod {} disappeared while starting", names.pod),
                    });
                }
                ContainerState::Pending => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(RuntimeError::RunContainer {
                    detail: format!(
                        "Pod {} is not running after {}s",
                        names.pod,
                        self.options.start_timeout.as_secs()
                    ),
                });
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    /// Snapshots the workspace's volume as `snapshot` and waits until it is ready to use.
    async fn snapshot_volume(
        &self,
        key: &WorkspaceKey,
        snapshot: &str,
    ) -> Result<(), RuntimeError> {
        let object = volume_snapshot(key, snapshot, &self.options);
        let name = snapshot_name(snapshot);
        self.apply(&object).await?;
        let deadline = tokio::time::Instant::now() + self.options.stop_timeout;
        loop {
            let status = self
                .read::<VolumeSnapshot>(&name)
                .await?
                .and_then(|s| s.status);
            if let Some(status) = status {
                if status.ready_to_use == Some(true) {
                    return Ok(());
                }
                if let Some(message) = status.error.and_then(|e| e.message) {
                    return Err(RuntimeError::Engine {
                        operation: format!("snapshot {}", describe::<VolumeSnapshot>(&name)),
                        detail: message,
                    });
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(RuntimeError::Engine {
                    operation: format!("snapshot {}", describe::<VolumeSnapshot>(&name)),
                    detail: format!(
                        "not ready to use after {}s",
                        self.options.stop_timeout.as_secs()
                    ),
                });
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }
}

#[async_trait::async_trait]
impl Runtime for KubernetesRuntime {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn default_image(&self) -> &str {
        &self.options.default_image
    }

    async fn pull_image(
        &self,
        key: &WorkspaceKey,
        image: &str,
        login: Option<&Login>,
    ) -> Result<(), RuntimeError> {
        // The kubelet pulls when the Pod starts; a login is recorded for it.
        let Some(login) = login else {
            return Ok(());
        };
        let uid = self.apply_owner(key).await?;
        self.apply(&pull_secret(key, image, login, &self.options, &uid))
            .await?;
        Ok(())
    }

    async fn build_image(
        &self,
        _key: &WorkspaceKey,
        _dockerfile: &str,
    ) -> Result<String, RuntimeError> {
        Err(RuntimeError::ImageBuild {
            detail: "the Kubernetes runtime does not build images: build and push the image \
                     elsewhere, then name it in `image`"
                .to_owned(),
        })
    }

    async fn start(&self, spec: &ContainerSpec) -> Result<(), RuntimeError> {
        let names = Names::of(&spec.key);
        let uid = self.apply_owner(&spec.key).await?;
        // A Pod's spec is immutable: a Pod left from an earlier run is replaced.
        self.delete_and_wait::<Pod>(&names.pod, self.options.stop_timeout)
            .await?;
        if spec.volume != VolumeSource::Reused {
            self.delete_and_wait::<PersistentVolumeClaim>(&names.volume, self.options.stop_timeout)
                .await?;
        }
        let objects = objects::objects(&ObjectsInput {
            spec,
            options: &self.options,
            owner_uid: &uid,
        });
        match &objects.secret {
            Some(secret) => drop(self.apply(secret).await?),
            None => drop(self.delete_if_present::<Secret>(&names.secret).await?),
        }
        self.apply(&objects.volume).await?;
        self.apply(&objects.network_policy).await?;
        self.apply(&objects.pod).await?;
        self.remove_former_service(&names).await;
        self.wait_running(&names, &spec.image).await
    }

    async fn state(&self, key: &WorkspaceKey) -> Result<ContainerState, RuntimeError> {
        let pod = self.read::<Pod>(&Names::of(key).pod).await?;
        Ok(container_state(pod.as_ref()))
    }

    /// Up to [`LIST_FROM`] keys, a read each; more, one list of the workspace Pods (this
    /// installation's, when it has one), a page of 500 at a time: a Pod the list does not hold
    /// is absent. Only the states are kept, so memory does not grow with the cluster.
    async fn states(&self, keys: &[WorkspaceKey]) -> Vec<Result<ContainerState, RuntimeError>> {
        if keys.len() < LIST_FROM {
            return cordium_provisioner::runtime::states_one_by_one(self, keys).await;
        }
        let wanted: HashMap<String, usize> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| (Names::of(key).pod, i))
            .collect();
        let mut states = vec![ContainerState::Absent; keys.len()];
        let mut selector = WORKSPACE_LABEL.to_owned();
        if let Some(installation) = &self.options.installation {
            selector.push_str(&format!(",{INSTALLATION_LABEL}={installation}"));
        }
        let mut params = ListParams::default().labels(&selector).limit(500);
        loop {
            let page = match self.api::<Pod>().list(&params).await {
                Ok(page) => page,
                Err(e) => {
                    let failed = engine("list the workspace Pods", &e);
                    return keys.iter().map(|_| Err(failed.clone())).collect();
                }
            };
            for pod in &page.items {
                if let Some(&i) = wanted.get(&pod.name_any()) {
                    states[i] = container_state(Some(pod));
                }
            }
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => return states.into_iter().map(Ok).collect(),
            }
        }
    }

    async fn exec(&self, key: &WorkspaceKey, exec: &ExecSpec) -> Result<ExecOutput, RuntimeError> {
        let names = Names::of(key);
        if self.state(key).await? != ContainerState::Running {
            return Err(RuntimeError::NotRunning { name: names.pod });
        }
        let command = exec_command(exec);
        let params = AttachParams {
            container: Some(CONTAINER.to_owned()),
            stdin: true,
            stdout: true,
            stderr: true,
            ..AttachParams::default()
        };
        let failed = |e: &dyn std::fmt::Display| RuntimeError::Engine {
            operation: format!("exec in Pod {}", names.pod),
            detail: e.to_string(),
        };
        let mut process = self
            .api::<Pod>()
            .exec(&names.pod, command.command.clone(), &params)
            .await
            .map_err(|e| failed(&e))?;
        let status = process.take_status();
        let (stdin, stdout, stderr) = (process.stdin(), process.stdout(), process.stderr());
        // Written, closed and read concurrently, so no pipe's buffer can block another. Past
        // the capture limit, the exec is dropped (its websocket closed).
        let write_in = async {
            if let Some(mut stdin) = stdin {
                stdin.write_all(&command.stdin).await?;
                stdin.shutdown().await?;
            }
            Ok::<_, std::io::Error>(())
        };
        let read = |pipe: Option<_>, stream| async move {
            match pipe {
                Some(pipe) => read_captured(pipe, stream).await,
                None => Ok(Vec::new()),
            }
        };
        let (written, out, err) =
            tokio::join!(write_in, read(stdout, "stdout"), read(stderr, "stderr"));
        let (out, err) = (out?, err?);
        written.map_err(|e| failed(&e))?;
        let status = match status {
            Some(status) => status.await,
            None => None,
        };
        process.join().await.map_err(|e| failed(&e))?;
        let status = status.ok_or_else(|| failed(&"the exec ended without a status"))?;
        let exit_code = exit_code(&status).ok_or_else(|| {
            failed(&format!(
                "{} ({})",
                status.message.as_deref().unwrap_or("the exec failed"),
                status.reason.as_deref().unwrap_or_default()
            ))
        })?;
        Ok(ExecOutput {
            exit_code,
            stdout: out,
            stderr: err,
        })
    }

    async fn stop(
        &self,
        key: &WorkspaceKey,
        volume: VolumeOnStop,
        snapshot: Option<&str>,
    ) -> Result<(), RuntimeError> {
        let names = Names::of(key);
        self.delete_and_wait::<Pod>(&names.pod, self.options.stop_timeout)
            .await?;
        // Secret values leave the cluster with the Pod (as podman removes its secret); the
        // next start writes them again, and pulls again with the login.
        self.delete_if_present::<Secret>(&names.secret).await?;
        self.delete_if_present::<Secret>(&names.pull_secret).await?;
        match volume {
            VolumeOnStop::Keep => {}
            VolumeOnStop::Delete => {
                self.delete_if_present::<PersistentVolumeClaim>(&names.volume)
                    .await?;
            }
            VolumeOnStop::Snapshot => {
                let snapshot = snapshot.ok_or_else(|| RuntimeError::Engine {
                    operation: "snapshot the workspace volume".to_owned(),
                    detail: "no snapshot name given".to_owned(),
                })?;
                self.snapshot_volume(key, snapshot).await?;
            }
        }
        Ok(())
    }

    /// Read from the owner ConfigMaps labelled with the installation (every other object of
    /// a workspace is owned by one, so the garbage collector removes what outlives it), a
    /// page of 500 at a time.
    async fn held(&self) -> Result<Vec<WorkspaceKey>, RuntimeError> {
        let Some(installation) = &self.options.installation else {
            return Ok(Vec::new());
        };
        let mut params = ListParams::default()
            .labels(&format!("{INSTALLATION_LABEL}={installation}"))
            .limit(500);
        let mut held = Vec::new();
        loop {
            let page = self
                .api::<ConfigMap>()
                .list(&params)
                .await
                .map_err(|e| engine("list the workspace owners", &e))?;
            held.extend(page.items.iter().filter_map(|owner| {
                let data = owner.data.as_ref()?;
                Some(WorkspaceKey::new(
                    data.get("space")?.as_str(),
                    data.get("workspace")?.as_str(),
                ))
            }));
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => return Ok(held),
            }
        }
    }

    async fn delete(&self, key: &WorkspaceKey) -> Result<(), RuntimeError> {
        let names = Names::of(key);
        // Deleting the owner garbage-collects the rest; deleting each explicitly as well
        // makes the removal immediate and survives objects whose owner reference was lost.
        self.delete_if_present::<ConfigMap>(&names.owner).await?;
        self.delete_if_present::<Pod>(&names.pod).await?;
        self.remove_former_service(&names).await;
        self.delete_if_present::<NetworkPolicy>(&names.pod).await?;
        self.delete_if_present::<Secret>(&names.secret).await?;
        self.delete_if_present::<Secret>(&names.pull_secret).await?;
        self.delete_if_present::<PersistentVolumeClaim>(&names.volume)
            .await?;
        Ok(())
    }

    async fn snapshot_exists(&self, snapshot: &str) -> Result<bool, RuntimeError> {
        Ok(self
            .read::<VolumeSnapshot>(&snapshot_name(snapshot))
            .await?
            .is_some())
    }

    async fn delete_snapshot(&self, snapshot: &str) -> Result<(), RuntimeError> {
        self.delete_if_present::<VolumeSnapshot>(&snapshot_name(snapshot))
            .await?;
        Ok(())
    }

    async fn logs(&self, key: &WorkspaceKey, follow: bool) -> Result<OutputStream, RuntimeError> {
        let names = Names::of(key);
        let params = LogParams {
            container: Some(CONTAINER.to_owned()),
            follow,
            ..LogParams::default()
        };
        let reader = match self.api::<Pod>().log_stream(&names.pod, &params).await {
            Ok(reader) => reader,
            Err(e) if is_status(&e, 404) => {
                return Err(RuntimeError::NotRunning { name: names.pod });
            }
            Err(e) => return Err(engine(format!("read the log of Pod {}", names.pod), &e)),
        };
        let pod = names.pod;
        let stream = futures::stream::unfold(Some(Box::pin(reader)), move |reader| {
            let pod = pod.clone();
            async move {
                let mut reader = reader?;
                let mut buffer = vec![0; 8192];
                match futures::AsyncReadExt::read(&mut reader, &mut buffer).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buffer.truncate(n);
                        Some((Ok(buffer), Some(reader)))
                    }
                    Err(e) => Some((
                        Err(RuntimeError::Engine {
                            operation: format!("read the log of Pod {pod}"),
                            detail: e.to_string(),
                        }),
                        None,
                    )),
                }
            }
        });
        Ok(Box::pin(stream))
    }

    async fn stream(
        &self,
        key: &WorkspaceKey,
        spec: &StreamSpec,
    ) -> Result<ProcessStream, RuntimeError> {
        crate::stream::stream(self, key, spec).await
    }

    async fn connect(&self, key: &WorkspaceKey, port: u16) -> Result<PortStream, RuntimeError> {
        crate::stream::connect(self, key, port).await
    }
}
