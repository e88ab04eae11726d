//! The AWS credential chain for Bedrock, in aws-sdk-rust's order (`aws-config`
//! `DefaultCredentialsChain`): environment keys (read by `resolve`, before this), the shared
//! profile files, web identity (EKS IRSA: a token file traded at STS), the container endpoint
//! (ECS task roles, EKS Pod Identity). Instance metadata (IMDS) is not consulted: Lambda, ECS and
//! EKS all provide one of the above.

use std::time::Duration;

use super::{auth_error, check_endpoint, form, parse_rfc3339, read_answer, send_error, until, Credential};
use crate::engine::Secrets;
use crate::error::Result;
use crate::providers::AwsCredentials;

/// ECS's link-local credentials host (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` is a path on it).
const ECS_HOST: &str = "http://169.254.170.2";

#[derive(Clone, PartialEq)]
pub enum Source {
    /// `~/.aws/credentials` and `~/.aws/config` (static keys of one profile).
    Profile { name: String, credentials_file: String, config_file: String },
    /// `AssumeRoleWithWebIdentity` with the token in `token_file`.
    WebIdentity { token_file: String, role_arn: String, session_name: String, sts: String },
    /// The container credentials endpoint.
    Container { uri: String, token: Option<String>, token_file: Option<String> },
}

impl std::fmt::Debug for Source {
    // The container token is a secret: only where it comes from shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "aws::Source({})", self.key())
    }
}

impl Source {
    pub(super) fn key(&self) -> String {
        match self {
            Source::Profile { name, credentials_file, config_file } => format!("profile:{name}:{credentials_file}:{config_file}"),
            Source::WebIdentity { token_file, role_arn, .. } => format!("web-identity:{role_arn}:{token_file}"),
            Source::Container { uri, .. } => format!("container:{uri}"),
        }
    }
}

/// The first source the environment names, or `None` when it names none.
pub fn source(secrets: &dyn Secrets, region: &str) -> Result<Option<Source>> {
    let set = |k: &str| secrets.secret(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let home = set("HOME").unwrap_or_default();
    let credentials_file = set("AWS_SHARED_CREDENTIALS_FILE").unwrap_or_else(|| format!("{home}/.aws/credentials"));
    let config_file = set("AWS_CONFIG_FILE").unwrap_or_else(|| format!("{home}/.aws/config"));
    let name = set("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
    // A profile is used when one of its files has it with static keys.
    let profile = Source::Profile { name, credentials_file, config_file };
    if let Source::Profile { name, credentials_file, config_file } = &profile {
        if profile_keys(name, credentials_file, config_file)?.is_some() {
            return Ok(Some(profile));
        }
    }
    if let Some(token_file) = set("AWS_WEB_IDENTITY_TOKEN_FILE") {
        let role_arn = set("AWS_ROLE_ARN").ok_or_else(|| auth_error("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not"))?;
        let session_name = set("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| format!("llmux-{}", super::unix_now()));
        let sts = set("AWS_ENDPOINT_URL_STS").unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"));
        return Ok(Some(Source::WebIdentity { token_file, role_arn, session_name, sts }));
    }
    // The relative URI wins over the full one (AWS SDKs reference, "Container credential provider").
    let uri = match (set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), set("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
        (Some(rel), _) => Some(format!("{ECS_HOST}{}", if rel.starts_with('/') { rel } else { format!("/{rel}") })),
        (None, Some(full)) => Some(full),
        _ => None,
    };
    if let Some(uri) = uri {
        check_container_uri(&uri)?;
        return Ok(Some(Source::Container {
            uri,
            token: set("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            token_file: set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
        }));
    }
    Ok(None)
}

/// The container endpoint must be https, loopback, or AWS's own link-local hosts (ECS
/// 169.254.170.2, EKS Pod Identity 169.254.170.23 / fd00:ec2::23): it is sent a token.
fn check_container_uri(uri: &str) -> Result<()> {
    let parsed = reqwest::Url::parse(uri).map_err(|_| auth_error(format!("the container credentials URI {uri:?} is not a URL")))?;
    let host = parsed.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
    let aws_link_local = matches!(host, "169.254.170.2" | "169.254.170.23" | "fd00:ec2::23");
    if parsed.scheme() == "http" && aws_link_local {
        return Ok(());
    }
    check_endpoint(uri, "the container credentials URI")
}

pub(super) async fn fetch(source: &Source, http: &reqwest::Client) -> Result<(Credential, Option<Duration>)> {
    match source {
        Source::Profile { name, credentials_file, config_file } => match profile_keys(name, credentials_file, config_file)? {
            Some(c) => Ok((Credential::Aws(c), None)),
            None => Err(auth_error(format!("the AWS profile {name:?} has no aws_access_key_id / aws_secret_access_key"))),
        },
        Source::WebIdentity { token_file, role_arn, session_name, sts } => {
            check_endpoint(sts, "the STS endpoint")?;
            let token =
                std::fs::read_to_string(token_file).map_err(|e| auth_error(format!("the web identity token file {token_file:?}: {e}")))?;
            let body = form(&[
                ("Action", "AssumeRoleWithWebIdentity"),
                ("Version", "2011-06-15"),
                ("RoleArn", role_arn),
                ("RoleSessionName", session_name),
                ("WebIdentityToken", token.trim()),
            ]);
            // Unsigned: "Calling AssumeRoleWithWebIdentity does not require the use of AWS
            // security credentials" (STS API reference).
            let resp = http
                .post(sts.trim_end_matches('/').to_owned() + "/")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .map_err(|e| send_error(e, "STS"))?;
            sts_credentials(&read_answer(resp, "STS AssumeRoleWithWebIdentity").await?)
        }
        Source::Container { uri, token, token_file } => {
            let mut req = http.get(uri).header("accept", "application/json");
            // The file, re-read on every fetch, wins over the variable (aws-config `ecs.rs`).
            let auth = match token_file {
                Some(f) => Some(
                    std::fs::read_to_string(f)
                        .map_err(|e| auth_error(format!("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {f:?}: {e}")))?
                        .trim()
                        .to_owned(),
                ),
                None => token.clone(),
            };
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let resp = req.send().await.map_err(|e| send_error(e, "the container credentials endpoint"))?;
            container_credentials(&read_answer(resp, "the container credentials endpoint").await?)
        }
    }
}

/// `{AccessKeyId, SecretAccessKey, Token, Expiration}` (RFC 3339).
fn container_credentials(body: &[u8]) -> Result<(Credential, Option<Duration>)> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| auth_error("the container credentials endpoint answered with something other than JSON"))?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).filter(|s| !s.is_empty()).map(str::to_owned);
    let (Some(access_key_id), Some(secret_access_key)) = (field("AccessKeyId"), field("SecretAccessKey")) else {
        return Err(auth_error("the container credentials endpoint answered without AccessKeyId and SecretAccessKey"));
    };
    let expiry = field("Expiration").map(|e| parse_rfc3339(&e).ok_or_else(|| auth_error(format!("an Expiration of {e:?}")))).transpose()?;
    Ok((Credential::Aws(AwsCredentials { access_key_id, secret_access_key, session_token: field("Token") }), expiry.map(until)))
}

/// The `<Credentials>` of an `AssumeRoleWithWebIdentityResponse`.
fn sts_credentials(body: &[u8]) -> Result<(Credential, Option<Duration>)> {
    let xml = std::str::from_utf8(body).map_err(|_| auth_error("STS answered with something other than UTF-8"))?;
    let creds = element(xml, "Credentials").ok_or_else(|| auth_error("STS answered without Credentials"))?;
    let get = |k: &str| element(creds, k).map(unescape).filter(|s| !s.is_empty());
    let (Some(access_key_id), Some(secret_access_key)) = (get("AccessKeyId"), get("SecretAccessKey")) else {
        return Err(auth_error("STS answered without AccessKeyId and SecretAccessKey"));
    };
    let expiry = get("Expiration").and_then(|e| parse_rfc3339(&e));
    Ok((Credential::Aws(AwsCredentials { access_key_id, secret_access_key, session_token: get("SessionToken") }), expiry.map(until)))
}

/// The text between `<name>` and `</name>` (the first such element).
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(xml[start..end].trim())
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// A profile's static keys, the credentials file's over the config file's, key by key
/// (aws-config `profile/parser`: config sections are `[profile name]` except `[default]`).
fn profile_keys(name: &str, credentials_file: &str, config_file: &str) -> Result<Option<AwsCredentials>> {
    let mut keys: std::collections::HashMap<String, String> = Default::default();
    let config_section = if name == "default" { "default".to_owned() } else { format!("profile {name}") };
    for (path, section) in [(config_file, config_section.as_str()), (credentials_file, name)] {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(auth_error(format!("the AWS profile file {path:?}: {e}"))),
        };
        keys.extend(ini_section(&text, section));
    }
    let get = |k: &str| keys.get(k).filter(|v| !v.is_empty()).cloned();
    Ok(match (get("aws_access_key_id"), get("aws_secret_access_key")) {
        (Some(access_key_id), Some(secret_access_key)) => {
            Some(AwsCredentials { access_key_id, secret_access_key, session_token: get("aws_session_token") })
        }
        _ => None,
    })
}

fn ini_section(text: &str, wanted: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.split_whitespace().collect::<Vec<_>>().join(" ") == wanted;
            continue;
        }
        if inside {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_answers_are_read() {
        // aws-sdk-rust, aws-config/test-data/default-provider-chain/web_identity_token_env/http-traffic.json
        let xml = br#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Audience>my-cluster.sk1.us-west-2.eks.amazonaws.com</Audience>
    <Credentials>
      <AccessKeyId>AKIDTEST</AccessKeyId>
      <SecretAccessKey>SECRET+KEY/TEST</SecretAccessKey>
      <SessionToken>SESSION&amp;TOKEN</SessionToken>
      <Expiration>2099-08-16T20:52:53Z</Expiration>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#;
        let (Credential::Aws(c), Some(life)) = sts_credentials(xml).unwrap() else { panic!("keys with an expiry") };
        assert_eq!((c.access_key_id.as_str(), c.secret_access_key.as_str()), ("AKIDTEST", "SECRET+KEY/TEST"));
        assert_eq!(c.session_token.as_deref(), Some("SESSION&TOKEN"));
        assert!(life > Duration::from_secs(3600));
        assert!(sts_credentials(b"<ErrorResponse/>").is_err());
    }

    #[test]
    fn container_answers_are_read() {
        let (Credential::Aws(c), life) = container_credentials(
            br#"{"AccessKeyId":"A","SecretAccessKey":"S","Token":"T","Expiration":"2016-02-25T06:03:31Z","RoleArn":"r"}"#,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(c.session_token.as_deref(), Some("T"));
        assert_eq!(life, Some(Duration::ZERO), "a past expiry is refreshed at once");
        assert!(container_credentials(br#"{"Code":"x"}"#).is_err());
    }

    #[test]
    fn profiles_merge_credentials_over_config() {
        let dir = std::env::temp_dir().join(format!("llmux-aws-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let creds = dir.join("credentials");
        let config = dir.join("config");
        std::fs::write(
            &config,
            "[profile work]\naws_access_key_id = FROMCONFIG\naws_secret_access_key=cfg\nregion=eu-west-1\n[default]\nx=1\n",
        )
        .unwrap();
        std::fs::write(&creds, "# comment\n[work]\naws_access_key_id = FROMCREDS\n[other]\naws_secret_access_key=nope\n").unwrap();
        let c = profile_keys("work", creds.to_str().unwrap(), config.to_str().unwrap()).unwrap().unwrap();
        assert_eq!((c.access_key_id.as_str(), c.secret_access_key.as_str()), ("FROMCREDS", "cfg"));
        assert!(profile_keys("default", creds.to_str().unwrap(), config.to_str().unwrap()).unwrap().is_none());
        assert!(profile_keys("work", "/nonexistent", "/nonexistent").unwrap().is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn container_uris_are_aws_hosts_https_or_local() {
        for ok in ["http://169.254.170.2/v2/creds", "http://169.254.170.23/v1/credentials", "http://127.0.0.1:9/c", "https://x.example/c"] {
            assert!(check_container_uri(ok).is_ok(), "{ok}");
        }
        assert!(check_container_uri("http://evil.example/c").is_err());
    }
}
