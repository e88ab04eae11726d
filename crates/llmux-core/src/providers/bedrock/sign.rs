//! SigV4 for Bedrock, by the aws-sigv4 crate. The model id is already percent-encoded in the
//! URL (`:` -> `%3A`); the crate encodes the path once more for the canonical request
//! (`%253A`), as every AWS service but S3 expects.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::error::{Error, ErrorKind, Result};
use crate::providers::AwsCredentials;

/// The headers that sign a POST of `body` to `url` (authorization, x-amz-date, and
/// x-amz-security-token with temporary credentials).
pub fn sigv4_headers(
    url: &str,
    body: &[u8],
    content_type: &str,
    creds: &AwsCredentials,
    region: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>> {
    let fail = |e: &dyn std::fmt::Display| Error::new(ErrorKind::Auth, format!("SigV4 signing failed: {e}")).with_provider("bedrock");
    let identity: Identity =
        Credentials::new(creds.access_key_id.clone(), creds.secret_access_key.clone(), creds.session_token.clone(), None, "llmux").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("bedrock")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| fail(&e))?
        .into();
    let request =
        SignableRequest::new("POST", url, [("content-type", content_type)].into_iter(), SignableBody::Bytes(body)).map_err(|e| fail(&e))?;
    let (instructions, _signature) = sign(request, &params).map_err(|e| fail(&e))?.into_parts();
    Ok(instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_with_session_token_and_double_encodes_the_path() {
        let creds = AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("TOKEN".into()),
        };
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse";
        let sign_now = || sigv4_headers(url, b"{}", "application/json", &creds, "us-east-1", t).unwrap();
        let h = sign_now();
        let get = |n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(get("x-amz-date").as_deref(), Some("20231114T221320Z"));
        assert_eq!(get("x-amz-security-token").as_deref(), Some("TOKEN"));
        let auth = get("authorization").unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/bedrock/aws4_request, SignedHeaders="),
            "{auth}"
        );
        assert!(auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"), "{auth}");
        // Deterministic for the same input.
        let again = sign_now();
        assert_eq!(h, again);
    }
}
