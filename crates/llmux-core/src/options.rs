//! Call options: what a caller passes beside the provider's request (timeout, retries, endpoint
//! and credential overrides, extra headers, cache, metadata), parsed once at the edge into a
//! typed value so the provider request carries only what the provider should see.
//!
//! The credential policy lives here, in one place: a stored key (from the engine's secrets,
//! the environment or a router deployment) is sent only to the endpoint it belongs to. A caller
//! that names its own endpoint (`api_base` / `base_url`) gets only the key it names itself.
//! Regions and locations, which become host names, must look like regions.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::chat::ChatRequest;
use crate::error::{Error, Result};

/// Where and as whom a call is sent, when the caller (or a router deployment) says so.
#[derive(Clone, Default, PartialEq)]
pub struct Endpoint {
    pub api_key: Option<String>,
    pub api_base: Option<String>,
    pub api_version: Option<String>,
    /// AWS region (Bedrock).
    pub region: Option<String>,
    pub aws_access_key_id: Option<String>,
    pub aws_secret_access_key: Option<String>,
    pub aws_session_token: Option<String>,
    pub vertex_project: Option<String>,
    pub vertex_location: Option<String>,
    /// A Google service-account key (its JSON, or a path to it) for Vertex AI.
    pub vertex_credentials: Option<String>,
    /// A Microsoft Entra ID token for Azure OpenAI.
    pub azure_ad_token: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<String>| v.as_ref().map(|_| "<set>");
        f.debug_struct("Endpoint")
            .field("api_key", &shown(&self.api_key))
            .field("api_base", &self.api_base.as_deref().map(crate::transport::redact_url))
            .field("api_version", &self.api_version)
            .field("region", &self.region)
            .field("aws_access_key_id", &self.aws_access_key_id)
            .field("aws_secret_access_key", &shown(&self.aws_secret_access_key))
            .field("aws_session_token", &shown(&self.aws_session_token))
            .field("vertex_project", &self.vertex_project)
            .field("vertex_location", &self.vertex_location)
            .field("vertex_credentials", &shown(&self.vertex_credentials))
            .field("azure_ad_token", &shown(&self.azure_ad_token))
            .finish()
    }
}

impl Endpoint {
    /// Whether the endpoint names a host of its own (an `api_base`). From a request, no stored key
    /// may follow it; from configuration (`CallOptions::configured`), it is trusted like the rest.
    pub fn names_a_host(&self) -> bool {
        self.api_base.is_some()
    }

    /// Checks what becomes part of a URL's host.
    pub fn validate(&self) -> Result<()> {
        if let Some(r) = &self.region {
            if !is_region(r) {
                return Err(Error::invalid_request(format!("aws_region_name {r:?} is not an AWS region name")));
            }
        }
        if let Some(l) = &self.vertex_location {
            if !is_region(l) {
                return Err(Error::invalid_request(format!("vertex_location {l:?} is not a Google Cloud location")));
            }
        }
        if let Some(p) = &self.vertex_project {
            if p.is_empty() || p.len() > 64 || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':') {
                return Err(Error::invalid_request(format!("vertex_project {p:?} is not a Google Cloud project id")));
            }
        }
        if let Some(b) = &self.api_base {
            if !(b.starts_with("http://") || b.starts_with("https://")) {
                return Err(Error::invalid_request("api_base must be an http:// or https:// URL"));
            }
        }
        Ok(())
    }
}

/// `us-east-1`, `europe-west4`, `global`: lowercase letters, digits and dashes.
pub fn is_region(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The caller's choice about the router's response cache.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum CacheChoice {
    /// As the router's settings say.
    #[default]
    Default,
    /// Neither read nor write the cache for this call.
    Skip,
    /// Cache this answer for this long.
    Ttl(Duration),
}

/// Everything in a call that is not the provider's request.
#[derive(Clone, Default)]
pub struct CallOptions {
    /// The whole call, seconds as LiteLLM takes them.
    pub timeout: Option<Duration>,
    pub max_retries: Option<u32>,
    /// Sent as given (after the provider's own headers).
    pub extra_headers: Vec<(String, String)>,
    pub endpoint: Endpoint,
    pub cache: CacheChoice,
    /// LiteLLM's `metadata` (tags, trace ids): for llmux, never sent to a provider.
    pub metadata: Option<Value>,
    /// Facts about the model that override the model database (`model_info`, LiteLLM's
    /// `base_model`): prices for a fine-tune, the model behind an Azure deployment name.
    pub model_info: Option<crate::models::ModelInfo>,
    /// For `model: "auto"` behind a router: `{priority, max_cost, max_latency,
    /// required_capabilities, candidates}` (read by the router).
    pub routing_hints: Option<Value>,
    /// LiteLLM's `drop_params`. llmux drops what a provider does not take, with a warning,
    /// unless this is `Some(false)`: then such a parameter fails the call before it is sent.
    pub drop_params: Option<bool>,
    /// The model's facts already resolved (a router deployment's, merged once at load): used
    /// as they are, before `model_info`.
    pub resolved_info: Option<std::sync::Arc<crate::models::ModelInfo>>,
    /// The model and endpoint come from configuration (a router deployment), not from a request:
    /// stored keys may go to its `api_base`, and it may name the `mock` provider even where the
    /// engine does not let requests name it.
    pub configured: bool,
}

impl std::fmt::Debug for CallOptions {
    // Header values and metadata may carry secrets: names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("extra_headers", &self.extra_headers.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("endpoint", &self.endpoint)
            .field("cache", &self.cache)
            .field("metadata", &self.metadata.as_ref().map(|_| "<set>"))
            .field("model_info", &self.model_info.is_some())
            .field("configured", &self.configured)
            .finish()
    }
}

/// The most retries a caller can ask for.
const MAX_RETRIES: u32 = 10;

fn take(req: &mut Map<String, Value>, key: &str) -> Option<Value> {
    req.remove(key).filter(|v| !v.is_null())
}

fn string(req: &mut Map<String, Value>, keys: &[&str]) -> Result<Option<String>> {
    let mut found = None;
    for k in keys {
        match take(req, k) {
            Some(Value::String(s)) => {
                found.get_or_insert(s);
            }
            Some(Value::Null) | None => {}
            Some(_) => return Err(Error::invalid_request(format!("{k} must be a string"))),
        }
    }
    Ok(found)
}

fn number(req: &mut Map<String, Value>, keys: &[&str]) -> Result<Option<f64>> {
    let mut found = None;
    for k in keys {
        match take(req, k) {
            Some(Value::Number(n)) => {
                let v = n.as_f64().filter(|v| v.is_finite() && *v >= 0.0);
                if v.is_none() {
                    return Err(Error::invalid_request(format!("{k} must be a non-negative number")));
                }
                found = found.or(v);
            }
            Some(Value::Null) | None => {}
            Some(_) => return Err(Error::invalid_request(format!("{k} must be a number"))),
        }
    }
    Ok(found)
}

/// Seconds as a duration, refusing what no clock can hold (`1e300`, negative, NaN).
pub fn seconds(what: &str, secs: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= Duration::from_secs(30 * 24 * 3600))
        .ok_or_else(|| Error::invalid_request(format!("{what} must be a number of seconds between 0 and 30 days")))
}

impl CallOptions {
    /// Takes llmux's options out of a request, leaving the provider's parameters.
    pub fn take_from(req: &mut ChatRequest) -> Result<CallOptions> {
        CallOptions::take_from_map(&mut req.extra)
    }

    /// As `take_from`, out of any request's fields beyond its own (an embedding request's).
    pub fn take_from_map(req: &mut Map<String, Value>) -> Result<CallOptions> {
        let timeout = number(req, &["timeout", "request_timeout"])?.map(|t| seconds("timeout", t)).transpose()?;
        if timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid_request("timeout must be a number of seconds above 0"));
        }
        let max_retries = number(req, &["max_retries", "num_retries"])?.map(|r| (r.min(f64::from(MAX_RETRIES))) as u32);
        let extra_headers = match take(req, "extra_headers") {
            None | Some(Value::Null) => vec![],
            Some(Value::Object(m)) => m
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k, s)),
                    _ => Err(Error::invalid_request(format!("extra_headers.{k} must be a string"))),
                })
                .collect::<Result<_>>()?,
            Some(_) => return Err(Error::invalid_request("extra_headers must be an object of strings")),
        };
        let endpoint = Endpoint {
            api_key: string(req, &["api_key"])?,
            api_base: string(req, &["api_base", "base_url"])?,
            api_version: string(req, &["api_version"])?,
            region: string(req, &["aws_region_name", "region"])?,
            aws_access_key_id: string(req, &["aws_access_key_id"])?,
            aws_secret_access_key: string(req, &["aws_secret_access_key"])?,
            aws_session_token: string(req, &["aws_session_token"])?,
            vertex_project: string(req, &["vertex_project"])?,
            vertex_location: string(req, &["vertex_location"])?,
            vertex_credentials: string(req, &["vertex_credentials"])?,
            azure_ad_token: string(req, &["azure_ad_token"])?,
        };
        endpoint.validate()?;
        let cache = match take(req, "cache") {
            None | Some(Value::Null) => CacheChoice::Default,
            Some(Value::Bool(false)) => CacheChoice::Skip,
            Some(Value::Bool(true)) => CacheChoice::Ttl(Duration::from_secs(600)),
            Some(Value::Object(m)) => {
                if m.get("no-cache").and_then(Value::as_bool) == Some(true) {
                    CacheChoice::Skip
                } else {
                    match m.get("ttl") {
                        None => CacheChoice::Ttl(Duration::from_secs(600)),
                        Some(v) => match v.as_f64().filter(|t| *t > 0.0) {
                            Some(t) => CacheChoice::Ttl(seconds("cache.ttl", t)?),
                            None => return Err(Error::invalid_request("cache.ttl must be a positive number of seconds")),
                        },
                    }
                }
            }
            Some(_) => return Err(Error::invalid_request("cache must be true, false or {ttl}")),
        };
        let metadata = take(req, "metadata");
        let mut model_info = match take(req, "model_info") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => {
                Some(crate::models::ModelInfo::from_map(&m).map_err(|e| Error::invalid_request(format!("model_info.{e}")))?)
            }
            Some(_) => return Err(Error::invalid_request("model_info must be an object")),
        };
        if let Some(b) = string(req, &["base_model"])? {
            model_info.get_or_insert_with(Default::default).base_model = Some(b);
        }
        let drop_params = match take(req, "drop_params") {
            None => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => return Err(Error::invalid_request("drop_params must be true or false")),
        };
        let routing_hints = take(req, "routing_hints");
        Ok(CallOptions {
            routing_hints,
            timeout,
            max_retries,
            extra_headers,
            endpoint,
            cache,
            metadata,
            model_info,
            drop_params,
            resolved_info: None,
            configured: false,
        })
    }

    /// Behind a router the deployment owns the endpoint, the credentials and the headers: the
    /// caller's are dropped (named in the returned warnings), never merged.
    pub fn drop_endpoint(&mut self) -> Vec<String> {
        let mut dropped = Vec::new();
        let e = std::mem::take(&mut self.endpoint);
        for (name, set) in [
            ("api_key", e.api_key.is_some()),
            ("api_base", e.api_base.is_some()),
            ("api_version", e.api_version.is_some()),
            ("aws_region_name", e.region.is_some()),
            ("aws_access_key_id", e.aws_access_key_id.is_some()),
            ("aws_secret_access_key", e.aws_secret_access_key.is_some()),
            ("aws_session_token", e.aws_session_token.is_some()),
            ("vertex_project", e.vertex_project.is_some()),
            ("vertex_location", e.vertex_location.is_some()),
            ("vertex_credentials", e.vertex_credentials.is_some()),
            ("azure_ad_token", e.azure_ad_token.is_some()),
            ("extra_headers", !self.extra_headers.is_empty()),
        ] {
            if set {
                dropped.push(format!("{name} is ignored behind a router: the deployment's own is used"));
            }
        }
        self.extra_headers.clear();
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> ChatRequest {
        ChatRequest::from_json(json).unwrap()
    }

    #[test]
    fn options_are_taken_out_of_the_request_and_typed() {
        let mut r = req(r#"{"model":"openai/m","messages":[{"role":"user","content":"a"}],
               "api_base":"http://127.0.0.1:9/v1","api_key":"k","timeout":1.5,"max_retries":0,
               "extra_headers":{"x-a":"b"},"cache":{"ttl":30},"metadata":{"tags":["t"]},"temperature":0.2,"top_k":3}"#);
        let o = CallOptions::take_from(&mut r).unwrap();
        assert_eq!(o.endpoint.api_base.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(o.endpoint.api_key.as_deref(), Some("k"));
        assert_eq!(o.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(o.max_retries, Some(0));
        assert_eq!(o.extra_headers, vec![("x-a".to_owned(), "b".to_owned())]);
        assert_eq!(o.cache, CacheChoice::Ttl(Duration::from_secs(30)));
        assert!(o.metadata.is_some());
        // What is left is the provider's: its own extra parameters stay.
        assert_eq!(r.extra.keys().collect::<Vec<_>>(), vec!["top_k"]);
        assert!(!format!("{o:?}").contains("\"k\""), "Debug never shows a key");
    }

    #[test]
    fn bad_values_are_named_and_never_panic() {
        for (body, field) in [
            (r#""timeout":"soon""#, "timeout"),
            (r#""timeout":1e300"#, "timeout"),
            (r#""timeout":-1"#, "timeout"),
            (r#""timeout":0"#, "timeout"),
            (r#""cache":{"ttl":1e300}"#, "cache.ttl"),
            (r#""aws_region_name":"evil.example#""#, "aws_region_name"),
            (r#""vertex_location":"x.evil.example/""#, "vertex_location"),
            (r#""vertex_project":"p/../../x""#, "vertex_project"),
            (r#""api_base":"file:///etc/passwd""#, "api_base"),
            (r#""extra_headers":{"a":1}"#, "extra_headers.a"),
        ] {
            let mut r = req(&format!(r#"{{"model":"m","messages":[{{"role":"user","content":"a"}}],{body}}}"#));
            let e = CallOptions::take_from(&mut r).unwrap_err();
            assert!(e.message.contains(field), "{body}: {}", e.message);
        }
    }

    #[test]
    fn a_router_drops_the_callers_endpoint_and_says_so() {
        let mut r = req(
            r#"{"model":"m","messages":[{"role":"user","content":"a"}],"api_base":"http://evil","api_key":"k","extra_headers":{"authorization":"x"},"timeout":5}"#,
        );
        let mut o = CallOptions::take_from(&mut r).unwrap();
        let dropped = o.drop_endpoint();
        assert_eq!(dropped.len(), 3, "{dropped:?}");
        assert_eq!(o.endpoint, Endpoint::default());
        assert!(o.extra_headers.is_empty());
        assert_eq!(o.timeout, Some(Duration::from_secs(5)), "the caller's own limits stay");
    }
}
