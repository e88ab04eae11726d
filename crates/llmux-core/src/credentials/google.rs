//! Google credentials for Vertex AI, found as google-auth-library finds application default
//! credentials: a service-account key (`vertex_credentials`, `GOOGLE_APPLICATION_CREDENTIALS`),
//! an `authorized_user` file (`gcloud auth application-default login`), then the metadata
//! server of the machine (GCE, Cloud Run, GKE).
//!
//! A service account signs a JWT (RS256, `iss` its email, `scope` cloud-platform, `aud` the
//! token URI, one hour) and trades it for an access token at its `token_uri`
//! (https://developers.google.com/identity/protocols/oauth2/service-account; the grant
//! `urn:ietf:params:oauth:grant-type:jwt-bearer`). Signing is ring's RSASSA-PKCS1-v1_5/SHA-256,
//! the crate rustls already brings.

use std::time::Duration;

use base64::Engine;
use serde::Deserialize;

use super::{auth_error, check_endpoint, form, oauth_post, oauth_token, read_answer, send_error, Credential};
use crate::engine::Secrets;
use crate::error::Result;

/// The scope google-auth asks Vertex AI tokens for (googleapis/js-genai `_node_auth.ts`).
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";

/// Where a Google access token comes from.
#[derive(Clone, PartialEq)]
pub enum Source {
    /// A key file's JSON (service_account or authorized_user), given inline or read from a path.
    Json(std::sync::Arc<str>),
    /// The metadata server's token for the machine's service account.
    Metadata { host: String },
}

impl std::fmt::Debug for Source {
    // A key file holds a private key: only which identity it is shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Json(_) => write!(f, "google::Source::Json({})", self.key()),
            Source::Metadata { host } => write!(f, "google::Source::Metadata({host})"),
        }
    }
}

impl Source {
    pub(super) fn key(&self) -> String {
        match self {
            // Keyed by who, not by the secret: the JSON's identity fields.
            Source::Json(j) => {
                let v: serde_json::Value = serde_json::from_str(j).unwrap_or_default();
                let who = v.get("client_email").or_else(|| v.get("client_id")).and_then(|x| x.as_str()).unwrap_or("?");
                format!("json:{who}:{}", super::fingerprint(j.as_bytes()))
            }
            Source::Metadata { host } => format!("metadata:{host}"),
        }
    }
}

/// The source to use, in google-auth's order; `explicit` is the call's `vertex_credentials`
/// (a key's JSON, or a path to one).
pub fn source(secrets: &dyn Secrets, explicit: Option<&str>) -> Result<Source> {
    if let Some(e) = explicit.map(str::trim).filter(|e| !e.is_empty()) {
        return if e.starts_with('{') { Ok(Source::Json(e.into())) } else { read_file(e) };
    }
    if let Some(path) = secrets.secret("GOOGLE_APPLICATION_CREDENTIALS").filter(|p| !p.trim().is_empty()) {
        return read_file(path.trim());
    }
    let config_dir =
        secrets.secret("CLOUDSDK_CONFIG").or_else(|| secrets.secret("HOME").map(|h| format!("{}/.config/gcloud", h.trim_end_matches('/'))));
    if let Some(dir) = config_dir {
        let well_known = format!("{dir}/application_default_credentials.json");
        if std::path::Path::new(&well_known).is_file() {
            return read_file(&well_known);
        }
    }
    let host = secrets
        .secret("GCE_METADATA_HOST")
        .or_else(|| secrets.secret("GCE_METADATA_ROOT"))
        .unwrap_or_else(|| DEFAULT_METADATA_HOST.to_owned());
    Ok(Source::Metadata { host })
}

fn read_file(path: &str) -> Result<Source> {
    let meta = std::fs::metadata(path).map_err(|e| auth_error(format!("Google credentials file {path:?}: {e}")))?;
    if meta.len() > 64 * 1024 {
        return Err(auth_error(format!("Google credentials file {path:?} is larger than a key file")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| auth_error(format!("Google credentials file {path:?}: {e}")))?;
    Ok(Source::Json(text.into()))
}

#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    client_email: Option<String>,
    #[serde(default)]
    private_key: Option<String>,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

pub(super) async fn fetch(source: &Source, http: &reqwest::Client) -> Result<(Credential, Option<Duration>)> {
    match source {
        Source::Metadata { host } => metadata_token(host, http).await,
        Source::Json(json) => {
            let key: KeyFile =
                serde_json::from_str(json).map_err(|e| auth_error(format!("the Google credentials are not a key file: {e}")))?;
            match key.kind.as_str() {
                "service_account" => service_account_token(&key, http).await,
                "authorized_user" => refresh_token(&key, http).await,
                other => Err(auth_error(format!(
                    "Google credentials of type {other:?} are not supported (service_account, authorized_user, or the metadata server)"
                ))),
            }
        }
    }
}

async fn service_account_token(key: &KeyFile, http: &reqwest::Client) -> Result<(Credential, Option<Duration>)> {
    let email = key.client_email.as_deref().ok_or_else(|| auth_error("the service account key has no client_email"))?;
    let pem = key.private_key.as_deref().ok_or_else(|| auth_error("the service account key has no private_key"))?;
    let token_uri = key.token_uri.as_deref().unwrap_or(DEFAULT_TOKEN_URI);
    check_endpoint(token_uri, "the key's token_uri")?;
    let now = super::unix_now();
    let assertion = sign_jwt(email, key.private_key_id.as_deref(), pem, token_uri, now)?;
    let grant = [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion.as_str())];
    oauth_post(http, token_uri, &grant, "Google's token endpoint").await
}

async fn refresh_token(key: &KeyFile, http: &reqwest::Client) -> Result<(Credential, Option<Duration>)> {
    let (Some(id), Some(secret), Some(refresh)) = (&key.client_id, &key.client_secret, &key.refresh_token) else {
        return Err(auth_error("the authorized_user credentials need client_id, client_secret and refresh_token"));
    };
    // google-auth-library always refreshes user credentials at Google's own endpoint; a
    // token_uri in the file (tests, emulators) is honoured under the same https rule.
    let uri = key.token_uri.as_deref().unwrap_or(DEFAULT_TOKEN_URI);
    check_endpoint(uri, "the token_uri")?;
    let grant = [("grant_type", "refresh_token"), ("client_id", id), ("client_secret", secret), ("refresh_token", refresh)];
    oauth_post(http, uri, &grant, "Google's token endpoint").await
}

async fn metadata_token(host: &str, http: &reqwest::Client) -> Result<(Credential, Option<Duration>)> {
    let base = if host.starts_with("http://") || host.starts_with("https://") { host.to_owned() } else { format!("http://{host}") };
    let url = format!(
        "{}/computeMetadata/v1/instance/service-accounts/default/token?scopes={}",
        base.trim_end_matches('/'),
        form(&[("", SCOPE)]).trim_start_matches('=')
    );
    let what = "the metadata server (no Google credentials were set: vertex_credentials, GOOGLE_APPLICATION_CREDENTIALS or gcloud's application default file)";
    let resp =
        http.get(&url).header("metadata-flavor", "Google").timeout(Duration::from_secs(3)).send().await.map_err(|e| send_error(e, what))?;
    // The answer must say it is the metadata server (google-auth checks the same header).
    if resp.headers().get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
        return Err(auth_error(format!("{what} answered without Metadata-Flavor: Google")));
    }
    oauth_token(&read_answer(resp, what).await?, what)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The signed assertion: header `{alg: RS256, typ: JWT, kid}`, claims
/// `{iss, scope, aud, iat, exp = iat + 3600}` (google-auth-library-python
/// `service_account._make_authorization_grant_assertion`).
pub fn sign_jwt(email: &str, key_id: Option<&str>, pem: &str, aud: &str, now: u64) -> Result<String> {
    let der = pkcs8_der(pem)?;
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der)
        .map_err(|e| auth_error(format!("the service account's private_key is not an RSA PKCS#8 key: {e}")))?;
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = key_id {
        header["kid"] = kid.into();
    }
    let claims = serde_json::json!({"iss": email, "scope": SCOPE, "aud": aud, "iat": now, "exp": now + 3600});
    let signing_input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), signing_input.as_bytes(), &mut sig)
        .map_err(|_| auth_error("signing the service account's assertion failed"))?;
    Ok(format!("{signing_input}.{}", b64url(&sig)))
}

/// The DER inside a `-----BEGIN PRIVATE KEY-----` block.
fn pkcs8_der(pem: &str) -> Result<Vec<u8>> {
    let begin = "-----BEGIN PRIVATE KEY-----";
    let end = "-----END PRIVATE KEY-----";
    let start = pem.find(begin).ok_or_else(|| auth_error("the service account's private_key is not a PKCS#8 PEM block"))? + begin.len();
    let stop = pem[start..].find(end).ok_or_else(|| auth_error("the service account's private_key PEM block is not closed"))? + start;
    let b64: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| auth_error("the service account's private_key is not valid base64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoSecrets;
    impl Secrets for NoSecrets {
        fn secret(&self, _: &str) -> Option<String> {
            None
        }
    }

    #[test]
    fn order_is_explicit_then_file_then_metadata() {
        assert_eq!(
            source(&NoSecrets, Some(r#"{"type":"service_account"}"#)).unwrap(),
            Source::Json(r#"{"type":"service_account"}"#.into())
        );
        assert_eq!(source(&NoSecrets, None).unwrap(), Source::Metadata { host: DEFAULT_METADATA_HOST.into() });
        assert!(source(&NoSecrets, Some("/nonexistent/key.json")).unwrap_err().message.contains("/nonexistent/key.json"));
    }

    #[test]
    fn a_bad_key_is_a_clear_error_not_a_panic() {
        for pem in [
            "",
            "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        ] {
            let e = sign_jwt("a@b", None, pem, DEFAULT_TOKEN_URI, 0).unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::Auth);
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let s = Source::Json(r#"{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----SECRET"}"#.into());
        let shown = format!("{s:?}");
        assert!(!shown.contains("SECRET") && shown.contains("a@b"), "{shown}");
    }
}
