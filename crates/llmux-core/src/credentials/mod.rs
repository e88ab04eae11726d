//! Cloud credentials as the providers' own SDKs find them, when no key is given: Google's
//! application default credentials for Vertex AI (`google.rs`), the AWS credential chain for
//! Bedrock (`aws.rs`), a Microsoft Entra ID token for Azure OpenAI (`azure.rs`).
//!
//! `resolve` (sync) says *where* a credential comes from (`CloudAuth`); just before a request is
//! built, `authorize` (async) turns that into a token or keys, through a per-engine cache that
//! refreshes five minutes before expiry (google-auth-library's and the AWS JS SDK's margin) and
//! lets one fetch per source run at a time.

pub mod aws;
pub mod azure;
pub mod google;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorKind, Result};
use crate::providers::{AwsCredentials, Target};
use crate::transport::HttpClients;

/// Refresh this long before a credential expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Credentials with no stated expiry (a profile's static keys) are re-read this often.
const NO_EXPIRY_TTL: Duration = Duration::from_secs(900);
/// A token endpoint that has not answered in this long has failed.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Distinct sources cached at once (bounded: sources come from configuration and files).
const MAX_SOURCES: usize = 256;
/// The longest a credential is kept, whatever its endpoint says (`expires_in: 1e19`).
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// A failed fetch is the answer for this long: calls queued behind it do not each wait out
/// a dead endpoint in turn.
const FAILURE_TTL: Duration = Duration::from_secs(5);

/// Where a request's credential will come from.
#[derive(Clone, Debug, PartialEq)]
pub enum CloudAuth {
    Google(google::Source),
    Aws(aws::Source),
    Azure(azure::Source),
}

impl CloudAuth {
    fn key(&self) -> String {
        match self {
            CloudAuth::Google(s) => format!("google:{}", s.key()),
            CloudAuth::Aws(s) => format!("aws:{}", s.key()),
            CloudAuth::Azure(s) => format!("azure:{}", s.key()),
        }
    }
}

/// A credential and when it stops being good.
#[derive(Clone)]
pub enum Credential {
    Bearer(String),
    Aws(AwsCredentials),
}

#[derive(Clone)]
enum Cached {
    Good { credential: Credential, expires: Instant },
    Failed { error: Error, until: Instant },
}

/// The engine's credentials: one cache entry per source, each behind its own async lock so
/// concurrent calls share one fetch.
#[derive(Default)]
pub struct CredentialCache {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Cached>>>>>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache").finish_non_exhaustive()
    }
}

impl CredentialCache {
    fn slot(&self, key: &str) -> Arc<tokio::sync::Mutex<Option<Cached>>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if !slots.contains_key(key) && slots.len() >= MAX_SOURCES {
            slots.clear();
        }
        slots.entry(key.to_owned()).or_default().clone()
    }

    /// A good credential for `auth`: cached, or fetched now.
    pub async fn get(&self, auth: &CloudAuth, http: &HttpClients) -> Result<Credential> {
        let slot = self.slot(&auth.key());
        let mut held = slot.lock().await;
        let now = Instant::now();
        match held.as_ref() {
            Some(Cached::Good { credential, expires }) if *expires > now + REFRESH_MARGIN => return Ok(credential.clone()),
            Some(Cached::Failed { error, until }) if *until > now => return Err(error.clone()),
            _ => {}
        }
        let fetched = tokio::time::timeout(FETCH_TIMEOUT, fetch(auth, http.pooled()))
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Auth,
                    format!("{}: the credential source did not answer within {} s", auth_name(auth), FETCH_TIMEOUT.as_secs()),
                )
            })
            .and_then(|r| {
                r.map_err(|mut e| {
                    e.message = format!("{}: {}", auth_name(auth), e.message);
                    e
                })
            });
        match fetched {
            Ok((credential, lifetime)) => {
                let life = lifetime.unwrap_or(NO_EXPIRY_TTL).min(MAX_LIFETIME);
                *held = Some(Cached::Good { credential: credential.clone(), expires: Instant::now() + life });
                Ok(credential)
            }
            Err(e) => {
                *held = Some(Cached::Failed { error: e.clone(), until: Instant::now() + FAILURE_TTL });
                Err(e)
            }
        }
    }
}

fn auth_name(auth: &CloudAuth) -> &'static str {
    match auth {
        CloudAuth::Google(_) => "Google credentials for Vertex AI",
        CloudAuth::Aws(_) => "AWS credentials for Bedrock",
        CloudAuth::Azure(_) => "Entra ID token for Azure OpenAI",
    }
}

async fn fetch(auth: &CloudAuth, http: &reqwest::Client) -> Result<(Credential, Option<Duration>)> {
    match auth {
        CloudAuth::Google(s) => google::fetch(s, http).await,
        CloudAuth::Aws(s) => aws::fetch(s, http).await,
        CloudAuth::Azure(s) => azure::fetch(s, http).await,
    }
}

/// Fills in a target's credential from its cloud source, if it has one; a cancellation or the
/// call's deadline ends the wait.
pub async fn authorize(
    target: &mut Target,
    cache: &CredentialCache,
    http: &HttpClients,
    cancel: &tokio_util::sync::CancellationToken,
    deadline: Instant,
) -> Result<()> {
    let Some(auth) = target.cloud.clone() else { return Ok(()) };
    let got = tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(Error::cancelled()),
        _ = tokio::time::sleep_until(deadline.into()) => {
            return Err(Error::new(ErrorKind::Timeout, format!("{} did not come before the call's deadline", auth_name(&auth))))
        }
        r = cache.get(&auth, http) => r?,
    };
    match got {
        Credential::Bearer(token) => target.api_key = Some(token),
        Credential::Aws(c) => {
            target.aws = Some(c);
            target.api_key = None;
        }
    }
    Ok(())
}

pub(crate) fn auth_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Auth, message)
}

/// Token endpoints get signed assertions and secrets: https, or plain http to this machine
/// only (a local emulator, a test).
pub(crate) fn check_endpoint(url: &str, what: &str) -> Result<()> {
    let parsed = reqwest::Url::parse(url).map_err(|_| auth_error(format!("{what} {url:?} is not a URL")))?;
    let host = parsed.host_str().unwrap_or("");
    let local = host == "localhost"
        || host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if parsed.scheme() == "https" || (parsed.scheme() == "http" && local) {
        Ok(())
    } else {
        Err(auth_error(format!("{what} must be https (or http on this machine): {}", crate::transport::redact_url(url))))
    }
}

/// `application/x-www-form-urlencoded`.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        crate::transport::percent_encode_into(&mut out, k);
        out.push('=');
        crate::transport::percent_encode_into(&mut out, v);
    }
    out
}

/// An OAuth token request: a form POST, answered by `{access_token, expires_in}`.
pub(crate) async fn oauth_post(
    http: &reqwest::Client,
    url: &str,
    pairs: &[(&str, &str)],
    what: &str,
) -> Result<(Credential, Option<Duration>)> {
    let resp = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .map_err(|e| send_error(e, what))?;
    oauth_token(&read_answer(resp, what).await?, what)
}

/// A token endpoint's OAuth answer: `{access_token, expires_in}` (a number, or a string of one).
pub(crate) fn oauth_token(body: &[u8], what: &str) -> Result<(Credential, Option<Duration>)> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| auth_error(format!("{what} answered with something other than JSON")))?;
    let token = v
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| auth_error(format!("{what} answered without an access_token")))?;
    let expires_in = match v.get("expires_in") {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.parse::<f64>().ok(),
        _ => None,
    };
    let lifetime = expires_in.and_then(|s| Duration::try_from_secs_f64(s).ok());
    Ok((Credential::Bearer(token.to_owned()), lifetime))
}

/// Reads a token endpoint's answer, bounded, or says what went wrong (without echoing a
/// secret: error bodies of token endpoints name the problem, not the credential).
pub(crate) async fn read_answer(resp: reqwest::Response, what: &str) -> Result<Vec<u8>> {
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| auth_error(format!("{what}: {e}")))?;
    if body.len() > 1 << 20 {
        return Err(auth_error(format!("{what} answered with more than 1 MiB")));
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        let kind = if status.is_server_error() { ErrorKind::ProviderUnavailable } else { ErrorKind::Auth };
        return Err(Error::new(kind, format!("{what} answered {}: {text}", status.as_u16())));
    }
    Ok(body.to_vec())
}

pub(crate) fn send_error(e: reqwest::Error, what: &str) -> Error {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    Error::new(ErrorKind::Auth, format!("{what} could not be reached: {msg}"))
}

/// A short digest that tells sources apart without keeping their secrets in a cache key.
pub(crate) fn fingerprint(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)[..8].iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Seconds from now until `unix` (0 when past).
pub(crate) fn until(unix: u64) -> Duration {
    Duration::from_secs(unix.saturating_sub(unix_now()))
}

/// An RFC 3339 UTC time (`2021-08-16T20:52:53Z`, fractions allowed) as unix seconds: how AWS
/// states an expiry.
pub(crate) fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse::<i64>().ok() };
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" | "+00:00" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            sign * (rest[1..3].parse::<i64>().ok()? * 3600 + rest[4..6].parse::<i64>().ok()? * 60)
        }
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + se - offset).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2021-08-16T20:52:53Z"), Some(1_629_147_173));
        assert_eq!(parse_rfc3339("2016-02-25T06:03:31.123Z"), Some(1_456_380_211));
        assert_eq!(parse_rfc3339("2016-02-25T08:03:31+02:00"), Some(1_456_380_211));
        for bad in ["", "2016-02-25", "2016-13-25T06:03:31Z", "2016-02-25T06:03:31", "2016-02-25T06:03:31.Z", "x016-02-25T06:03:31Z"] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn forms_are_percent_encoded() {
        assert_eq!(form(&[("a b", "x+y/z="), ("k", "v")]), "a%20b=x%2By%2Fz%3D&k=v");
    }

    #[test]
    fn token_endpoints_are_https_or_local() {
        assert!(check_endpoint("https://oauth2.googleapis.com/token", "token_uri").is_ok());
        assert!(check_endpoint("http://127.0.0.1:9/token", "token_uri").is_ok());
        assert!(check_endpoint("http://[::1]:9/token", "token_uri").is_ok());
        assert!(check_endpoint("http://evil.example/token", "token_uri").is_err());
        assert!(check_endpoint("file:///etc/passwd", "token_uri").is_err());
    }
}
