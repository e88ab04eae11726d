//! Microsoft Entra ID tokens for Azure OpenAI. A token given as such (`azure_ad_token`,
//! `AZURE_AD_TOKEN`, `AZURE_OPENAI_AD_TOKEN`, or the JS `azureADTokenProvider`) is used as is by
//! `resolve`; a service principal (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`,
//! as LiteLLM and azure-identity read them) is traded here for one by the client-credentials
//! grant (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
//! Either goes out as `Authorization: Bearer`, never as `api-key`.

use std::time::Duration;

use super::{auth_error, check_endpoint, oauth_post, Credential};
use crate::engine::Secrets;
use crate::error::Result;

/// The scope of Azure OpenAI tokens (openai-node `docs/azure.md`; LiteLLM's `AZURE_SCOPE` default).
pub const DEFAULT_SCOPE: &str = "https://cognitiveservices.azure.com/.default";
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

#[derive(Clone, PartialEq)]
pub struct Source {
    pub authority: String,
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
    pub scope: String,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("azure::Source").field("tenant", &self.tenant).field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

impl Source {
    pub(super) fn key(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.authority,
            self.tenant,
            self.client_id,
            self.scope,
            super::fingerprint(self.client_secret.as_bytes())
        )
    }
}

/// A service principal named by the environment, if one is.
pub fn source(secrets: &dyn Secrets) -> Option<Source> {
    let set = |k: &str| secrets.secret(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    Some(Source {
        tenant: set("AZURE_TENANT_ID")?,
        client_id: set("AZURE_CLIENT_ID")?,
        client_secret: set("AZURE_CLIENT_SECRET")?,
        authority: set("AZURE_AUTHORITY_HOST").unwrap_or_else(|| DEFAULT_AUTHORITY.to_owned()),
        scope: set("AZURE_SCOPE").unwrap_or_else(|| DEFAULT_SCOPE.to_owned()),
    })
}

/// A token given outright, in LiteLLM's and openai-python's names.
pub fn static_token(secrets: &dyn Secrets) -> Option<String> {
    ["AZURE_AD_TOKEN", "AZURE_OPENAI_AD_TOKEN"].iter().find_map(|k| secrets.secret(k)).filter(|t| !t.trim().is_empty())
}

pub(super) async fn fetch(s: &Source, http: &reqwest::Client) -> Result<(Credential, Option<Duration>)> {
    if s.tenant.is_empty() || !s.tenant.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.')) {
        return Err(auth_error(format!("AZURE_TENANT_ID {:?} is not a tenant id or domain", s.tenant)));
    }
    let url = format!("{}/{}/oauth2/v2.0/token", s.authority.trim_end_matches('/'), s.tenant);
    check_endpoint(&url, "the Entra ID authority")?;
    let grant = [
        ("client_id", s.client_id.as_str()),
        ("scope", &s.scope),
        ("client_secret", &s.client_secret),
        ("grant_type", "client_credentials"),
    ];
    oauth_post(http, &url, &grant, "Entra ID").await
}
