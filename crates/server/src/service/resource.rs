//! What every stored resource shares: metadata, records, and the generic Create/Get/List/
//! Update/Delete that each kind's module drives through [`Kept`].

use super::api::Api;
use super::documents::{bad_field, validate_metadata};
use super::pages::{Page, Rows, collect, page_request};
use super::{Caller, not_found};
use crate::crypto::sealing_identity;
use crate::pb;
use crate::store::{Counted, Precondition, Quota, Record, Write, workspace_is_active};
use cordium_spec::Kind;
use cordium_spec::shapes::check_name;
use prost::Message;
use std::sync::Arc;
use tonic::Status;

pub(crate) type Result<T> = std::result::Result<T, Status>;

/// Messages that carry `Metadata`.
pub(crate) trait Resource: Message + Default + Clone + 'static {
    /// The message's metadata.
    fn meta(&mut self) -> &mut Option<pb::Metadata>;

    /// Whether the resource counts as an active workspace (the store's `active` column).
    fn active(&self) -> bool {
        false
    }

    /// The Space a write request names (`status.space`; empty for kinds not in a Space).
    fn requested_space(&self) -> String {
        String::new()
    }
}

macro_rules! resource {
    ($($t:ty),*) => {$(
        impl Resource for $t {
            fn meta(&mut self) -> &mut Option<pb::Metadata> {
                &mut self.metadata
            }
        }
    )*};
    (in a Space: $($t:ty),*) => {$(
        impl Resource for $t {
            fn meta(&mut self) -> &mut Option<pb::Metadata> {
                &mut self.metadata
            }

            fn requested_space(&self) -> String {
                self.status.as_ref().map(|s| s.space.clone()).unwrap_or_default()
            }
        }
    )*};
}
resource!(pb::Space, pb::UserSecret, pb::UserConfig, pb::ClusterConfig);
resource!(in a Space: pb::Template, pb::Secret, pb::GitProvider);

impl Resource for pb::Workspace {
    fn meta(&mut self) -> &mut Option<pb::Metadata> {
        &mut self.metadata
    }

    fn active(&self) -> bool {
        workspace_is_active(self)
    }
}

/// The time now, as metadata and status timestamps carry it.
pub(crate) fn now() -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now())
}

fn new_uid() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Status::internal(format!("no randomness: {e}")))?;
    Ok(crate::crypto::hex(&bytes))
}

/// Metadata of a new resource: what the caller may set, plus identity and times.
pub(crate) fn fresh_metadata(requested: Option<pb::Metadata>, name: &str) -> Result<pb::Metadata> {
    let m = requested.unwrap_or_default();
    Ok(pb::Metadata {
        name: name.to_owned(),
        uid: new_uid()?,
        display_name: m.display_name,
        description: m.description,
        labels: m.labels,
        annotations: m.annotations,
        created_at: Some(now()),
        updated_at: Some(now()),
        resource_version: 0,
    })
}

/// Metadata of an updated resource: identity and creation kept from `stored`.
pub(crate) fn updated_metadata(
    stored: Option<pb::Metadata>,
    requested: Option<pb::Metadata>,
) -> pb::Metadata {
    let s = stored.unwrap_or_default();
    let r = requested.unwrap_or_default();
    pb::Metadata {
        name: s.name,
        uid: s.uid,
        display_name: r.display_name,
        description: r.description,
        labels: r.labels,
        annotations: r.annotations,
        created_at: s.created_at,
        updated_at: Some(now()),
        resource_version: 0,
    }
}

pub(crate) use super::decoded::decode;

/// What an update request expects of the stored version (`metadata.resourceVersion`): a
/// version is 1 or more, and 0 (unset) asks for none.
pub(crate) fn requested_precondition<M: Resource>(m: &mut M) -> Result<Precondition> {
    let version = m.meta().as_ref().map_or(0, |m| m.resource_version);
    if version < 0 {
        return Err(bad_field(
            "metadata.resourceVersion",
            "a version is 1 or more (0 asks for none); send the one you read",
        ));
    }
    Ok(Precondition::from_resource_version(version))
}

/// The `metadata.name` a request names.
pub(crate) fn requested_name<M: Resource>(m: &mut M) -> String {
    m.meta()
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default()
}

/// Where a resource is kept: its store key and the Space it lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    /// The store's scope column (the Space, the owner, or empty).
    pub scope: String,
    /// The Space the resource lives in (empty for Spaces and user-scoped kinds).
    pub space: String,
    /// The name.
    pub name: String,
}

impl Place {
    /// A resource keyed by name alone (Spaces, Workspaces, the ClusterConfig).
    pub(crate) fn global(name: &str, space: &str) -> Self {
        Self {
            scope: String::new(),
            space: space.to_owned(),
            name: name.to_owned(),
        }
    }

    /// A resource in `space`, keyed by it.
    pub(crate) fn in_space(space: &str, name: &str) -> Self {
        Self {
            scope: space.to_owned(),
            space: space.to_owned(),
            name: name.to_owned(),
        }
    }

    /// A user's own resource, keyed by the user.
    pub(crate) fn owned_by(owner: &str, name: &str) -> Self {
        Self {
            scope: owner.to_owned(),
            space: String::new(),
            name: name.to_owned(),
        }
    }
}

/// The record of a new resource of `kind` at `at`, owned by `owner`.
pub(crate) fn new_record<M: Resource>(kind: Kind, at: &Place, owner: &str, body: &M) -> Record {
    Record {
        kind,
        scope: at.scope.clone(),
        name: at.name.clone(),
        owner: owner.into(),
        space: at.space.clone(),
        body: body.encode_to_vec(),
        version: 0,
        active: body.active(),
    }
}

/// `record` with `resource` as its new body (same key, owner and Space), ready to write.
pub(crate) fn rewritten<M: Resource>(record: Record, resource: &M) -> Record {
    Record {
        body: resource.encode_to_vec(),
        active: resource.active(),
        ..record
    }
}

/// `m` carrying `version` in its metadata.
pub(crate) fn with_version<M: Resource>(mut m: M, version: i64) -> M {
    if let Some(meta) = m.meta() {
        meta.resource_version = version;
    }
    m
}

/// `InvalidArgument` unless `name` is a valid resource name.
pub(crate) fn require_name(kind: Kind, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(bad_field(
            "metadata.name",
            format!("a {} needs a name", kind.as_str()),
        ));
    }
    check_name(name).map_err(|e| {
        bad_field(
            "metadata.name",
            format!("{} ({})", e.message, e.help.unwrap_or_default()),
        )
    })
}

/// How many resources of one kind (Spaces, Templates, Secrets, UserSecrets, GitProviders) a
/// user may own: each write is bounded in size, and so, with this, is what one user stores.
/// Workspaces have their own quotas (`maxPerUser`, `maxActivePerUser`).
pub(crate) const MAX_OWNED_PER_KIND: i64 = 1000;

/// The quota of [`MAX_OWNED_PER_KIND`], counted in the create's transaction.
pub(crate) fn owned_quota() -> Quota {
    Quota {
        counted: Counted::Owned,
        max: MAX_OWNED_PER_KIND,
    }
}

/// The longest secret value: it reaches a workspace as one environment variable, and Linux
/// passes at most 128 KiB in one.
pub(crate) const MAX_SECRET_BYTES: usize = 64 << 10;

/// The value a Secret or UserSecret request carries, if any: 1 byte to [`MAX_SECRET_BYTES`].
pub(crate) fn secret_bytes(data: Option<pb::SecretData>) -> Result<Option<Vec<u8>>> {
    let Some(value) = data.and_then(|d| d.value) else {
        return Ok(None);
    };
    let bytes = match value {
        pb::secret_data::Value::Text(t) => t.into_bytes(),
        pb::secret_data::Value::Bytes(b) => b,
    };
    if bytes.is_empty() || bytes.len() > MAX_SECRET_BYTES {
        return Err(bad_field(
            "data",
            format!(
                "a secret value is 1 byte to {} KiB; this one is {} bytes",
                MAX_SECRET_BYTES >> 10,
                bytes.len()
            ),
        ));
    }
    Ok(Some(bytes))
}

/// Who may reach a kind's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Kept in a Space (the request's `space`): reached by the Space's owner and members.
    Space,
    /// Kept per user: reached only by the caller, as their own.
    Owner,
}

/// A resource as a request builds it: the message to store and its sealed value, if any.
pub(crate) struct Built<M> {
    /// The message to store (and answer with).
    pub resource: M,
    /// The sealed secret value to store beside it.
    pub sealed: Option<Vec<u8>>,
}

impl<M> Built<M> {
    /// A resource with no sealed value.
    pub(crate) fn plain(resource: M) -> Self {
        Self {
            resource,
            sealed: None,
        }
    }
}

/// What a kind's rules see of a write: the service, the caller and where the resource is kept.
pub(crate) struct Context<'a> {
    /// The service (its store and sealing key).
    pub api: &'a Api,
    /// Who is writing.
    pub caller: &'a Caller,
    /// Where the resource is kept.
    pub at: &'a Place,
}

impl Context<'_> {
    /// `value` sealed as this resource's secret value.
    pub(crate) fn seal(&self, kind: Kind, value: &[u8]) -> Result<Vec<u8>> {
        let identity = sealing_identity(kind, &self.at.scope, &self.at.name);
        Ok(self.api.secrets.seal(value, &identity)?)
    }

    /// The new value an update carries, sealed (`None`: the stored value is kept).
    pub(crate) fn reseal(&self, kind: Kind, value: Option<Vec<u8>>) -> Result<Option<Vec<u8>>> {
        value.map(|v| self.seal(kind, &v)).transpose()
    }
}

/// Messages of `metadata`, `spec` and a server-kept `status`.
pub(crate) trait Respec {
    /// `stored` updated by `request`: its metadata and spec taken, the status kept.
    fn respec(stored: Self, request: Self) -> Self;
}

macro_rules! respec {
    ($($t:ty),*) => {$(
        impl Respec for $t {
            fn respec(stored: Self, request: Self) -> Self {
                Self {
                    metadata: Some(updated_metadata(stored.metadata, request.metadata)),
                    spec: request.spec,
                    status: stored.status,
                }
            }
        }
    )*};
}
respec!(pb::Space, pb::Template, pb::Workspace, pb::GitProvider);

/// A kind served by the generic Update: where an update reaches it, how the updated resource
/// is built (sealing its value where it has one), and whether watchers hear of it.
#[tonic::async_trait]
pub(crate) trait Updated: Resource + Send + Sync + 'static {
    /// The kind.
    const KIND: Kind;
    /// Whether its writes record watch events (workspaces).
    const EVENTS: bool = false;

    /// The resource an update request makes of `stored`.
    async fn build_updated(cx: &Context<'_>, stored: Self, request: Self) -> Result<Built<Self>>;

    /// Refuses an update by `caller` of the resource stored as `record` that the kind's rules
    /// forbid beyond reaching it.
    async fn check_update(_api: &Api, _caller: &Caller, _record: &Record) -> Result<()> {
        Ok(())
    }
}

/// Where an update reaches a kind: by its scope for [`Kept`] kinds, by its own rule for Spaces
/// (their owner) and Workspaces (anyone who may see their Space).
#[tonic::async_trait]
pub(crate) trait Reach: Sized {
    /// The stored resource an update of `name` (in `space`) reaches for `caller`, and where it
    /// is kept; NotFound for one they may not see.
    async fn reach(api: &Api, caller: &Caller, space: &str, name: &str) -> Result<Reached<Self>>;
}

/// What an update reached: where the resource is kept, its record and its stored message.
pub(crate) type Reached<K> = (Place, Record, K);

#[tonic::async_trait]
impl<K: Kept> Reach for K {
    async fn reach(api: &Api, caller: &Caller, space: &str, name: &str) -> Result<Reached<K>> {
        let at = api.place::<K>(caller, space, name).await?;
        let (record, stored) = api.stored::<K>(&at).await?;
        Ok((at, record, stored))
    }
}

/// A kind served by the generic Create/Get/List/Update/Delete as well: its scope rule, how a
/// request becomes a new resource, and what must hold before a delete. Each kind's module
/// implements it; [`Api`] drives it.
#[tonic::async_trait]
pub(crate) trait Kept: Updated {
    /// Who may reach it.
    const SCOPE: Scope;

    /// Checks a create request before its Space is looked up.
    fn check_create(&self) -> Result<()> {
        Ok(())
    }

    /// Checks a create request once its place is known: by default, its name.
    fn check_new(at: &Place, _request: &Self) -> Result<()> {
        require_name(Self::KIND, &at.name)
    }

    /// The resource a create request makes.
    async fn build_new(cx: &Context<'_>, request: Self) -> Result<Built<Self>>;

    /// Refuses a delete by `caller` at `at` that the kind's rules forbid.
    async fn check_delete(_api: &Api, _caller: &Caller, _at: &Place) -> Result<()> {
        Ok(())
    }

    /// Tidies what the resource `deleted` leaves behind, once its delete has committed; a
    /// failure is logged, since the resource itself is gone.
    async fn after_delete(_api: &Api, _deleted: &Record) {}
}

impl Api {
    /// Whether `caller` may change or delete a resource of a Space that others' workspaces
    /// use (a Template runs its tasks in them, a GitProvider's endpoints receive their git
    /// tokens): its author (`record.owner`), the Space's owner, or an administrator; other
    /// members get PermissionDenied, so no member reaches another's secrets through them.
    pub(crate) async fn may_change_shared(&self, caller: &Caller, record: &Record) -> Result<()> {
        if record.owner == caller.name || caller.admin || self.owns_space_of(caller, record).await?
        {
            return Ok(());
        }
        Err(Status::permission_denied(format!(
            "only the author of {} `{}` or the owner of Space `{}` may change it: the \
             workspaces made from it run with their owners' secrets",
            record.kind.as_str(),
            record.name,
            record.space
        )))
    }

    /// Whether `caller` owns the Space `record` is kept in (NotFound when they cannot reach
    /// it).
    pub(crate) async fn owns_space_of(&self, caller: &Caller, record: &Record) -> Result<bool> {
        let (space, _) = self.accessible_space(caller, &record.space).await?;
        Ok(space.owner == caller.name)
    }

    /// Where `name` of kind `K` is kept for `caller`, checking that they may reach `space`.
    async fn place<K: Kept>(&self, caller: &Caller, space: &str, name: &str) -> Result<Place> {
        Ok(match K::SCOPE {
            Scope::Space => {
                self.accessible_space(caller, space).await?;
                Place::in_space(space, name)
            }
            Scope::Owner => Place::owned_by(&caller.name, name),
        })
    }

    /// The stored resource at `at`, or NotFound.
    pub(crate) async fn stored<K: Updated>(&self, at: &Place) -> Result<(Record, K)> {
        let (record, shared) = self.stored_shared::<K>(at).await?;
        Ok((record, (*shared).clone()))
    }

    /// The stored resource at `at`, shared with every call reading the same version
    /// ([`super::decoded`]), or NotFound: for reading it without answering it.
    pub(crate) async fn stored_shared<K: Updated>(&self, at: &Place) -> Result<(Record, Arc<K>)> {
        let record = self
            .store
            .get(K::KIND, &at.scope, &at.name)
            .await?
            .ok_or_else(|| not_found(K::KIND, &at.name))?;
        let resource = self.decoded.message::<K>(&record)?;
        Ok((record, resource))
    }

    /// Create: the scope checked, the resource built and sealed, written once.
    pub(crate) async fn create_kept<K: Kept>(&self, caller: &Caller, mut request: K) -> Result<K> {
        let name = requested_name(&mut request);
        validate_metadata(K::KIND, request.meta().as_ref())?;
        request.check_create()?;
        let at = self
            .place::<K>(caller, &request.requested_space(), &name)
            .await?;
        K::check_new(&at, &request)?;
        let cx = Context {
            api: self,
            caller,
            at: &at,
        };
        let built = K::build_new(&cx, request).await?;
        let record = new_record(K::KIND, &at, &caller.name, &built.resource);
        let write = Write::new(&record)
            .sealed(built.sealed.as_deref())
            .within(owned_quota());
        self.store.create(write).await?;
        let noun = K::KIND.as_str().to_lowercase();
        tracing::info!(user = %caller.name, scope = %at.scope, name = %at.name, "{noun} created");
        Ok(with_version(built.resource, 1))
    }

    /// Get: NotFound for what the caller may not reach.
    pub(crate) async fn get_kept<K: Kept>(&self, caller: &Caller, r: pb::Ref) -> Result<K> {
        let at = self.place::<K>(caller, &r.space, &r.name).await?;
        Ok(self.stored::<K>(&at).await?.1)
    }

    /// List: in one Space (checked) or every Space the caller reaches; or the caller's own.
    /// A page at a time, each read by an indexed query over the caller's rows only.
    pub(crate) async fn list_kept<K: Kept>(
        &self,
        caller: &Caller,
        request: pb::ListRequest,
    ) -> Result<Page<K>> {
        let page = page_request(K::KIND, &request)?;
        let kind = K::KIND;
        let rows = match K::SCOPE {
            Scope::Space if request.space.is_empty() => Rows::InSpacesOf {
                kind,
                user: &caller.name,
            },
            Scope::Space => {
                self.accessible_space(caller, &request.space).await?;
                Rows::InScope {
                    kind,
                    scope: &request.space,
                }
            }
            Scope::Owner => Rows::InScope {
                kind,
                scope: &caller.name,
            },
        };
        collect(&self.store, rows, page, |r| decode(r).map(Some)).await
    }

    /// Update: only at the version the request names (if it names one).
    pub(crate) async fn update_kept<K: Updated + Reach>(
        &self,
        caller: &Caller,
        mut request: K,
    ) -> Result<K> {
        let name = requested_name(&mut request);
        validate_metadata(K::KIND, request.meta().as_ref())?;
        let (at, record, stored) =
            K::reach(self, caller, &request.requested_space(), &name).await?;
        K::check_update(self, caller, &record).await?;
        let precondition = requested_precondition(&mut request)?;
        let cx = Context {
            api: self,
            caller,
            at: &at,
        };
        let built = K::build_updated(&cx, stored, request).await?;
        let record = rewritten(record, &built.resource);
        let write = Write::new(&record)
            .expecting(precondition)
            .sealed(built.sealed.as_deref())
            .event(K::EVENTS);
        self.write_update(write, built.resource).await
    }

    /// Delete, with the resource's sealed value.
    pub(crate) async fn delete_kept<K: Kept>(
        &self,
        caller: &Caller,
        r: pb::Ref,
    ) -> Result<pb::DeleteResponse> {
        let at = self.place::<K>(caller, &r.space, &r.name).await?;
        K::check_delete(self, caller, &at).await?;
        let deleted = self
            .store
            .delete(K::KIND, &at.scope, &at.name, false)
            .await?;
        K::after_delete(self, &deleted).await;
        Ok(pb::DeleteResponse {})
    }

    /// Writes `write` (whose body is `resource`) and returns `resource` at its new version.
    pub(crate) async fn write_update<M: Resource>(
        &self,
        write: Write<'_>,
        resource: M,
    ) -> Result<M> {
        let version = self.store.update(write).await?;
        Ok(with_version(resource, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A uid is 16 random bytes in lowercase hex.
    #[test]
    fn uids_are_random_lowercase_hex() {
        let (a, b) = (new_uid().expect("uid"), new_uid().expect("uid"));
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
            "{a}"
        );
        assert_ne!(a, b);
    }
}
