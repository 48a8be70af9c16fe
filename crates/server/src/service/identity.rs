//! Sign-in calls that are not resources: the workload token exchange.

use super::api::Api;
use super::resource::Result;
use crate::pb;
use tonic::Status;

/// The longest platform token accepted (real ones are 1 to 2 KiB).
pub(crate) const MAX_WORKLOAD_TOKEN_BYTES: usize = 16 * 1024;

impl Api {
    /// ExchangeWorkloadToken: the platform token is verified against the workload rules
    /// ([`crate::auth::Authenticator::exchange_workload`]) and a short-lived API token is
    /// returned; bad input names the field, a token no rule covers is PermissionDenied.
    pub(crate) async fn exchange_workload_token(
        &self,
        request: pb::ExchangeWorkloadTokenRequest,
    ) -> Result<pb::ExchangeWorkloadTokenResponse> {
        let token = request.token.trim();
        if token.is_empty() || token.len() > MAX_WORKLOAD_TOKEN_BYTES {
            return Err(Status::invalid_argument(format!(
                "token: must be a platform's OIDC token (a JWT of 1 to {MAX_WORKLOAD_TOKEN_BYTES} bytes)"
            )));
        }
        let given = self.auth.exchange_workload(token).await?;
        Ok(pb::ExchangeWorkloadTokenResponse {
            token: given.token,
            user: given.user,
            expire_time: Some(prost_types::Timestamp {
                seconds: i64::try_from(given.expires_at).unwrap_or(i64::MAX),
                nanos: 0,
            }),
        })
    }
}
