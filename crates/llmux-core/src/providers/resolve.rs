//! Model strings (`openai/gpt-4o`, `mock/echo`, LiteLLM style) -> the provider and deployment
//! to call, with keys and base URLs from the call's options, the secrets, or the environment.

use serde_json::Value;

use super::{anthropic, azure, gemini, openai, AwsCredentials, ProviderKind, Target};
use crate::engine::{Secrets, Timeouts};
use crate::error::{Error, ErrorKind, Result};
use crate::options::{CallOptions, Endpoint};

/// Bare model ids LiteLLM sends to OpenAI without a prefix.
fn is_openai_id(id: &str) -> bool {
    let b = id.as_bytes();
    id.starts_with("gpt") || id.starts_with("chatgpt") || (b.len() >= 2 && b[0] == b'o' && b[1].is_ascii_digit())
}

/// Splits `provider/model`; bare OpenAI ids count as `openai/`.
pub fn split_model(model: &str) -> Result<(ProviderKind, &str)> {
    let model = model.trim();
    if model.is_empty() {
        return Err(Error::invalid_request("model must be a non-empty string such as \"openai/gpt-4o\""));
    }
    let (prefix, rest) = match model.split_once('/') {
        Some((p, r)) if !r.is_empty() => (p, r),
        _ if is_openai_id(model) => return Ok((ProviderKind::OpenAi, model)),
        _ => {
            return Err(Error::invalid_request(format!(
                "model \"{model}\" names no provider: use \"provider/model\", e.g. \"openai/gpt-4o\" or \"mock/echo\""
            )))
        }
    };
    match prefix {
        "openai" => Ok((ProviderKind::OpenAi, rest)),
        "azure" => Ok((ProviderKind::Azure, rest)),
        "anthropic" => Ok((ProviderKind::Anthropic, rest)),
        // LiteLLM's `bedrock/converse/<id>` names the same Converse route we always use.
        "bedrock" => Ok((ProviderKind::Bedrock, rest.strip_prefix("converse/").unwrap_or(rest))),
        "gemini" => Ok((ProviderKind::Gemini, rest)),
        // Claude on Vertex speaks Anthropic's Messages API at its own endpoint; LiteLLM's
        // `vertex_ai/claude-...` names it.
        "vertex_ai" if rest.starts_with("claude") => Ok((ProviderKind::VertexAnthropic, rest)),
        "vertex_ai" => Ok((ProviderKind::Vertex, rest)),
        "mock" => Ok((ProviderKind::Mock, rest)),
        p => Err(Error::invalid_request(format!(
            "model \"{model}\": unknown provider \"{p}\" (known: openai, azure, anthropic, bedrock, gemini, vertex_ai, mock)"
        ))),
    }
}

/// Resolves a model string and the call's options to the target to call. Keys and base URLs
/// come from the options, then the secrets (provided, then the environment), following the
/// credential policy of `options.rs`: an endpoint the caller names gets only the caller's keys.
pub fn resolve(secrets: &dyn Secrets, model: &str, options: &CallOptions, timeouts: Timeouts) -> Result<Target> {
    let (provider, model) = split_model(model)?;
    let ep = &options.endpoint;
    ep.validate()?;
    let caller_host = ep.names_a_host() && !options.configured;
    // Under the policy, a caller-named host sees no stored secret at all.
    let stored = |name: &str| if caller_host { None } else { secrets.secret(name) };
    let mut timeouts = timeouts;
    if let Some(t) = options.timeout {
        timeouts.total = t;
        timeouts.first_byte = timeouts.first_byte.min(t);
        timeouts.idle = timeouts.idle.min(t);
    }
    let mut t = Target {
        provider,
        model: model.to_owned(),
        base_url: String::new(),
        api_key: ep.api_key.clone(),
        extra_headers: options.extra_headers.clone(),
        timeouts,
        max_retries: options.max_retries.unwrap_or(2),
        api_version: ep.api_version.clone(),
        region: ep.region.clone(),
        aws: None,
        info: match &options.resolved_info {
            Some(i) => i.clone(),
            None => crate::models::resolve_shared(provider, model, options.model_info.as_ref()),
        },
        cloud: None,
        entra: false,
    };
    let base = ep.api_base.clone();
    match provider {
        ProviderKind::OpenAi => {
            t.base_url = base
                .or_else(|| secrets.secret("OPENAI_BASE_URL"))
                .or_else(|| secrets.secret("OPENAI_API_BASE"))
                .unwrap_or_else(|| openai::DEFAULT_BASE_URL.to_owned());
            t.api_key = t.api_key.or_else(|| stored("OPENAI_API_KEY"));
            if t.api_key.is_none() && t.base_url.trim_end_matches('/') == openai::DEFAULT_BASE_URL {
                return Err(missing("OPENAI_API_KEY", provider));
            }
        }
        ProviderKind::Azure => resolve_azure(&mut t, base, ep, secrets, caller_host)?,
        ProviderKind::Anthropic => {
            t.base_url = base
                .or_else(|| secrets.secret("ANTHROPIC_BASE_URL"))
                .or_else(|| secrets.secret("ANTHROPIC_API_BASE"))
                .unwrap_or_else(|| anthropic::DEFAULT_BASE_URL.to_owned());
            t.api_key = t.api_key.or_else(|| stored("ANTHROPIC_API_KEY"));
            if t.api_key.is_none() {
                return Err(missing("ANTHROPIC_API_KEY", provider));
            }
        }
        ProviderKind::Bedrock => resolve_bedrock(&mut t, base, ep, &stored, secrets, caller_host)?,
        ProviderKind::Gemini => {
            let root = base
                .or_else(|| secrets.secret("GEMINI_BASE_URL"))
                .or_else(|| secrets.secret("GEMINI_API_BASE"))
                .unwrap_or_else(|| gemini::DEFAULT_BASE_URL.to_owned());
            t.base_url = format!("{}/v1beta/models", root.trim_end_matches('/'));
            t.api_key = t.api_key.or_else(|| stored("GEMINI_API_KEY")).or_else(|| stored("GOOGLE_API_KEY"));
            if t.api_key.is_none() {
                return Err(missing("GEMINI_API_KEY", provider));
            }
        }
        ProviderKind::Vertex | ProviderKind::VertexAnthropic => {
            let project = ep
                .vertex_project
                .clone()
                .or_else(|| secrets.secret("VERTEXAI_PROJECT"))
                .or_else(|| secrets.secret("GOOGLE_CLOUD_PROJECT"))
                .ok_or_else(|| {
                    Error::new(ErrorKind::Config, "Vertex AI needs a project: vertex_project or VERTEXAI_PROJECT")
                        .with_provider("vertex_ai")
                })?;
            let location = ep
                .vertex_location
                .clone()
                .or_else(|| secrets.secret("VERTEXAI_LOCATION"))
                .or_else(|| secrets.secret("GOOGLE_CLOUD_LOCATION"))
                .unwrap_or_else(|| "us-central1".to_owned());
            // Configured values become part of the URL too: they must look like what they are.
            let checked = Endpoint { vertex_project: Some(project.clone()), vertex_location: Some(location.clone()), ..Default::default() };
            checked.validate()?;
            // Hosts as Google's SDKs build them: `global`, the `us`/`eu` multi-regions, a region.
            let root = base.or_else(|| secrets.secret("VERTEXAI_BASE_URL")).unwrap_or_else(|| match location.as_str() {
                "global" => "https://aiplatform.googleapis.com".to_owned(),
                "us" | "eu" => format!("https://aiplatform.{location}.rep.googleapis.com"),
                _ => format!("https://{location}-aiplatform.googleapis.com"),
            });
            let publisher = if provider == ProviderKind::VertexAnthropic { "anthropic" } else { "google" };
            t.base_url = format!("{}/v1/projects/{project}/locations/{location}/publishers/{publisher}/models", root.trim_end_matches('/'));
            t.api_key = t.api_key.or_else(|| stored("VERTEXAI_ACCESS_TOKEN")).or_else(|| stored("GOOGLE_ACCESS_TOKEN"));
            if t.api_key.is_none() {
                // A key's JSON may come with a request; a path to one only from configuration
                // (a request must not make llmux read the server's files).
                let explicit = ep.vertex_credentials.as_deref().map(str::trim);
                if explicit.is_some_and(|e| !e.starts_with('{')) && !options.configured {
                    return Err(Error::invalid_request("vertex_credentials in a request must be the key's JSON, not a path"));
                }
                if caller_host && explicit.is_none() {
                    return Err(missing(
                        "VERTEXAI_ACCESS_TOKEN or vertex_credentials (a caller's api_base gets no stored credentials)",
                        provider,
                    ));
                }
                t.cloud = Some(crate::credentials::CloudAuth::Google(crate::credentials::google::source(secrets, explicit)?));
            }
        }
        ProviderKind::Mock => {}
    }
    Ok(t)
}

fn missing(what: &str, provider: ProviderKind) -> Error {
    Error::new(ErrorKind::Auth, format!("{what} is not set (secrets provider, environment or call options)")).with_provider(provider.name())
}

/// Region, endpoint and credentials, read at each request (a Lambda role's credentials rotate).
fn resolve_bedrock(
    t: &mut Target,
    base: Option<String>,
    ep: &Endpoint,
    stored: &dyn Fn(&str) -> Option<String>,
    secrets: &dyn Secrets,
    caller_host: bool,
) -> Result<()> {
    let region = t
        .region
        .clone()
        .or_else(|| secrets.secret("AWS_REGION"))
        .or_else(|| secrets.secret("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".to_owned());
    if !crate::options::is_region(&region) {
        return Err(Error::new(ErrorKind::Config, format!("AWS region {region:?} is not a region name")).with_provider("bedrock"));
    }
    t.base_url = base
        .or_else(|| secrets.secret("AWS_ENDPOINT_URL_BEDROCK_RUNTIME"))
        .or_else(|| secrets.secret("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| format!("https://bedrock-runtime.{region}.amazonaws.com"));
    t.region = Some(region);
    let key_id = ep.aws_access_key_id.clone().or_else(|| stored("AWS_ACCESS_KEY_ID"));
    let secret = ep.aws_secret_access_key.clone().or_else(|| stored("AWS_SECRET_ACCESS_KEY"));
    match (key_id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => {
            t.aws = Some(AwsCredentials {
                access_key_id,
                secret_access_key,
                session_token: ep.aws_session_token.clone().or_else(|| stored("AWS_SESSION_TOKEN")),
            });
            t.api_key = None;
        }
        _ => {
            // A Bedrock API key instead of SigV4.
            t.api_key = t.api_key.take().or_else(|| stored("AWS_BEARER_TOKEN_BEDROCK"));
            if t.api_key.is_none() {
                // The rest of the AWS chain: a profile, web identity, the container endpoint.
                let chain =
                    if caller_host { None } else { crate::credentials::aws::source(secrets, t.region.as_deref().unwrap_or("us-east-1"))? };
                match chain {
                    Some(s) => t.cloud = Some(crate::credentials::CloudAuth::Aws(s)),
                    None => {
                        return Err(missing(
                            "AWS credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, web identity, a container role, or AWS_BEARER_TOKEN_BEDROCK)",
                            ProviderKind::Bedrock,
                        ))
                    }
                }
            }
        }
    }
    Ok(())
}

/// Splits an Azure URL into the resource root and its `api-version`. The root ends where the
/// API's own path begins: the last `/openai` *path segment* (`/openai/deployments/...`, or a
/// bare `/openai`), never a host or a prefix that merely contains the word (a resource named
/// `openai-prod`, a gateway path `/openai-proxy/`).
fn split_azure_url(url: &str) -> (String, Option<String>) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let after_host = path.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = path[after_host..].find('/').map(|i| after_host + i).unwrap_or(path.len());
    let segment_at = path[host_end..]
        .match_indices("/openai")
        .map(|(i, _)| host_end + i)
        .filter(|&i| matches!(path.as_bytes().get(i + "/openai".len()), None | Some(b'/')))
        .last();
    let root = segment_at.map(|i| &path[..i]).unwrap_or(path).trim_end_matches('/').to_owned();
    let version = query.split('&').find_map(|kv| kv.strip_prefix("api-version=")).map(str::to_owned);
    (root, version)
}

/// amplify's endpoint list: `{"models": [{"<deployment>": {"endpoints": [{"url", "key"}]}}]}`,
/// one endpoint chosen at random per request.
fn amplify_endpoint(secrets: &dyn Secrets, deployment: &str) -> Option<(String, String)> {
    let raw = secrets.secret("LLM_ENDPOINTS")?;
    let v: Value = serde_json::from_str(&raw).ok()?;
    let lookup = match deployment {
        "gpt-4-1106-Preview" | "gpt-4-1106-preview" => "gpt-4-turbo",
        "gpt-35-1106" => "gpt-35-turbo",
        other => other,
    };
    let endpoints = v.get("models")?.as_array()?.iter().find_map(|m| m.get(lookup))?.get("endpoints")?.as_array()?;
    if endpoints.is_empty() {
        return None;
    }
    let e = &endpoints[fastrand::usize(..endpoints.len())];
    Some((e.get("url")?.as_str()?.to_owned(), e.get("key")?.as_str()?.to_owned()))
}

fn resolve_azure(t: &mut Target, base: Option<String>, ep: &Endpoint, secrets: &dyn Secrets, caller_host: bool) -> Result<()> {
    let mut url = base.or_else(|| secrets.secret("AZURE_OPENAI_ENDPOINT")).or_else(|| secrets.secret("AZURE_API_BASE"));
    if url.is_none() {
        if let Some((u, key)) = amplify_endpoint(secrets, &t.model) {
            url = Some(u);
            t.api_key = t.api_key.take().or(Some(key));
        }
    }
    let url = url.ok_or_else(|| missing("AZURE_OPENAI_ENDPOINT (or an LLM_ENDPOINTS entry for the deployment)", ProviderKind::Azure))?;
    let (root, url_version) = split_azure_url(&url);
    t.base_url = root;
    t.api_version = t
        .api_version
        .take()
        .or(url_version)
        .or_else(|| secrets.secret("AZURE_OPENAI_API_VERSION"))
        .or_else(|| secrets.secret("AZURE_API_VERSION"))
        .or_else(|| Some(azure::DEFAULT_API_VERSION.to_owned()));
    // An Entra ID token the caller gives beats any stored key (openai-python: a static
    // azure_ad_token is used before the key's header would be).
    if let Some(token) = ep.azure_ad_token.clone() {
        t.api_key = Some(token);
        t.entra = true;
        return Ok(());
    }
    if !caller_host {
        t.api_key = t.api_key.take().or_else(|| secrets.secret("AZURE_OPENAI_API_KEY")).or_else(|| secrets.secret("AZURE_API_KEY"));
        if t.api_key.is_none() {
            if let Some(token) = crate::credentials::azure::static_token(secrets) {
                t.api_key = Some(token);
                t.entra = true;
            } else if let Some(s) = crate::credentials::azure::source(secrets) {
                t.cloud = Some(crate::credentials::CloudAuth::Azure(s));
                t.entra = true;
                return Ok(());
            }
        }
    }
    if t.api_key.is_none() {
        return Err(missing(
            "AZURE_OPENAI_API_KEY (or an Entra ID token: azure_ad_token, AZURE_AD_TOKEN, or AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET)",
            ProviderKind::Azure,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ChatRequest;

    fn req(json: &str) -> ChatRequest {
        ChatRequest::from_json(json).unwrap()
    }

    #[test]
    fn prefixes_and_bare_openai_ids_resolve() {
        assert_eq!(split_model("openai/gpt-4o").unwrap(), (ProviderKind::OpenAi, "gpt-4o"));
        assert_eq!(split_model("gpt-4o-mini").unwrap(), (ProviderKind::OpenAi, "gpt-4o-mini"));
        assert_eq!(split_model("o3-mini").unwrap(), (ProviderKind::OpenAi, "o3-mini"));
        assert_eq!(split_model("mock/echo").unwrap(), (ProviderKind::Mock, "echo"));
        assert_eq!(split_model("openai/org/model").unwrap(), (ProviderKind::OpenAi, "org/model"));
    }

    #[test]
    fn a_model_with_no_provider_is_refused_by_name() {
        let e = split_model("llama3").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e.message.contains("names no provider"), "{}", e.message);
        let e = split_model("nope/x").unwrap_err();
        assert!(e.message.contains("unknown provider \"nope\""), "{}", e.message);
        assert_eq!(split_model("").unwrap_err().kind, ErrorKind::InvalidRequest);
    }

    /// Resolves a request's model with its options against an engine holding `secrets` only.
    fn resolve_with(secrets: &[(&str, &str)], json: &str) -> Result<Target> {
        let engine = crate::engine::Engine::isolated();
        engine.set_secrets(secrets.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        let mut r = req(json);
        let options = CallOptions::take_from(&mut r)?;
        resolve(&engine, &r.model, &options, Timeouts::DEFAULT)
    }

    #[test]
    fn options_become_the_target() {
        let t = resolve_with(
            &[],
            r#"{"model":"openai/my-model","messages":[{"role":"user","content":"a"}],
               "api_base":"http://127.0.0.1:9/v1","api_key":"k","timeout":1.5,"max_retries":0,
               "extra_headers":{"x-a":"b"}}"#,
        )
        .unwrap();
        assert_eq!(t.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(t.api_key.as_deref(), Some("k"));
        assert_eq!(t.timeouts.total, std::time::Duration::from_millis(1500));
        assert_eq!(t.max_retries, 0);
        assert_eq!(t.extra_headers, vec![("x-a".to_owned(), "b".to_owned())]);
        assert!(!format!("{t:?}").contains("\"k\""), "Debug never shows the key");
    }

    #[test]
    fn a_stored_key_never_follows_a_callers_endpoint() {
        let stored = [
            ("OPENAI_API_KEY", "sk-stored"),
            ("ANTHROPIC_API_KEY", "ak-stored"),
            ("GEMINI_API_KEY", "gk-stored"),
            ("AZURE_OPENAI_API_KEY", "az-stored"),
            ("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com"),
            ("AWS_ACCESS_KEY_ID", "AKSTORED"),
            ("AWS_SECRET_ACCESS_KEY", "sk-aws-stored"),
            ("AWS_BEARER_TOKEN_BEDROCK", "bt-stored"),
            ("VERTEXAI_PROJECT", "p"),
            ("VERTEXAI_ACCESS_TOKEN", "ya29-stored"),
        ];
        for model in [
            "openai/m",
            "anthropic/claude-sonnet-4-5",
            "gemini/gemini-2.5-pro",
            "azure/dep",
            "bedrock/anthropic.claude-3",
            "vertex_ai/gemini-2.5-pro",
        ] {
            // The configured endpoint gets the stored key.
            let configured =
                resolve_with(&stored, &format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"a"}}]}}"#)).unwrap();
            assert!(configured.api_key.is_some() || configured.aws.is_some(), "{model}");
            // A caller's endpoint gets nothing stored: refused, or sent with no key.
            let body =
                format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"a"}}],"api_base":"https://attacker.example/v1"}}"#);
            match resolve_with(&stored, &body) {
                Ok(t) => {
                    assert!(t.api_key.is_none() && t.aws.is_none(), "{model}: {t:?}");
                    assert!(!format!("{t:?}").contains("stored"));
                }
                Err(e) => assert_eq!(e.kind, ErrorKind::Auth, "{model}: {e}"),
            }
            // With its own key, the caller's endpoint gets exactly that key.
            let body = format!(
                r#"{{"model":"{model}","messages":[{{"role":"user","content":"a"}}],"api_base":"https://mine.example/v1","api_key":"mine"}}"#
            );
            if let Ok(t) = resolve_with(&stored, &body) {
                assert_eq!(t.api_key.as_deref(), Some("mine"), "{model}");
            }
        }
    }

    #[test]
    fn configured_locations_are_checked_too() {
        let e = resolve_with(
            &[("AWS_REGION", "evil.example#"), ("AWS_BEARER_TOKEN_BEDROCK", "t")],
            r#"{"model":"bedrock/m","messages":[{"role":"user","content":"a"}]}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("region"), "{e}");
        let e = resolve_with(
            &[("VERTEXAI_PROJECT", "p"), ("VERTEXAI_LOCATION", "x.evil.example/"), ("VERTEXAI_ACCESS_TOKEN", "t")],
            r#"{"model":"vertex_ai/g","messages":[{"role":"user","content":"a"}]}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("vertex_location"), "{e}");
    }

    #[test]
    fn wrong_option_types_are_named() {
        let e = resolve_with(&[], r#"{"model":"mock/echo","messages":[{"role":"user","content":"a"}],"timeout":"soon"}"#).unwrap_err();
        assert!(e.message.contains("timeout"));
    }

    #[test]
    fn each_provider_resolves_its_endpoint_and_credentials() {
        let t = resolve_with(
            &[],
            r#"{"model":"vertex_ai/gemini-2.5-pro","messages":[{"role":"user","content":"a"}],
            "vertex_project":"proj-1","vertex_location":"europe-west4","api_key":"ya29.token"}"#,
        )
        .unwrap();
        assert_eq!(t.provider, ProviderKind::Vertex);
        assert_eq!(
            t.base_url,
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj-1/locations/europe-west4/publishers/google/models"
        );
        let t = resolve_with(
            &[],
            r#"{"model":"bedrock/converse/us.anthropic.claude-3-7-sonnet-20250219-v1:0","messages":[{"role":"user","content":"a"}],
            "aws_access_key_id":"AK","aws_secret_access_key":"SK","aws_region_name":"eu-west-1"}"#,
        )
        .unwrap();
        assert_eq!(t.model, "us.anthropic.claude-3-7-sonnet-20250219-v1:0");
        assert_eq!(t.region.as_deref(), Some("eu-west-1"));
        assert_eq!(t.base_url, "https://bedrock-runtime.eu-west-1.amazonaws.com");
        assert_eq!(t.aws.as_ref().unwrap().access_key_id, "AK");
        assert!(!format!("{t:?}").contains("SK"), "secrets never show in Debug");
        let t = resolve_with(
            &[],
            r#"{"model":"azure/my-gpt","messages":[{"role":"user","content":"a"}],
            "api_base":"https://res.openai.azure.com/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21","api_key":"k"}"#,
        )
        .unwrap();
        assert_eq!((t.base_url.as_str(), t.api_version.as_deref()), ("https://res.openai.azure.com", Some("2024-10-21")));
    }

    #[test]
    fn claude_on_vertex_goes_to_the_anthropic_publisher() {
        let t = resolve_with(
            &[],
            r#"{"model":"vertex_ai/claude-opus-4-7","messages":[{"role":"user","content":"a"}],
            "vertex_project":"p","vertex_location":"global","api_key":"ya29.t"}"#,
        )
        .unwrap();
        assert_eq!(t.provider, ProviderKind::VertexAnthropic);
        assert_eq!(t.base_url, "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/anthropic/models");
        let t = resolve_with(&[], r#"{"model":"vertex_ai/gemini-3-pro-preview","messages":[{"role":"user","content":"a"}],"vertex_project":"p","vertex_location":"eu","api_key":"t"}"#).unwrap();
        assert_eq!(t.base_url, "https://aiplatform.eu.rep.googleapis.com/v1/projects/p/locations/eu/publishers/google/models");
    }

    #[test]
    fn azure_urls_split_at_the_api_path_segment_only() {
        // https://learn.microsoft.com/azure/ai-services/openai/reference: {endpoint}/openai/deployments/{id}/chat/completions
        for (url, root, version) in [
            (
                "https://res.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21",
                "https://res.openai.azure.com",
                Some("2024-10-21"),
            ),
            ("https://openai-prod.openai.azure.com", "https://openai-prod.openai.azure.com", None),
            ("https://openai-prod.openai.azure.com/openai/deployments/d/chat/completions", "https://openai-prod.openai.azure.com", None),
            (
                "https://gw.example.com/openai-proxy/team1/openai/deployments/d?api-version=v",
                "https://gw.example.com/openai-proxy/team1",
                Some("v"),
            ),
            ("https://gw.example.com/openai-proxy/team1", "https://gw.example.com/openai-proxy/team1", None),
            ("https://res.cognitiveservices.azure.com/openai", "https://res.cognitiveservices.azure.com", None),
            ("https://res.openai.azure.com/", "https://res.openai.azure.com", None),
        ] {
            assert_eq!(split_azure_url(url), (root.to_owned(), version.map(str::to_owned)), "{url}");
        }
    }

    #[test]
    fn amplify_endpoint_list_picks_an_endpoint_of_the_deployment() {
        let engine = crate::engine::Engine::isolated();
        engine.set_secrets(std::collections::HashMap::from([(
            "LLM_ENDPOINTS".to_owned(),
            r#"{"models":[{"gpt-4-turbo":{"endpoints":[{"url":"https://a.openai.azure.com/openai/deployments/gpt-4-turbo/chat/completions?api-version=2024-08-01-preview","key":"ka"},{"url":"https://b.openai.azure.com/openai/deployments/gpt-4-turbo/chat/completions","key":"kb"}]}}]}"#.to_owned(),
        )]));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..64 {
            let (url, key) = amplify_endpoint(&engine, "gpt-4-1106-Preview").unwrap();
            seen.insert(key.clone());
            assert!(url.contains(".openai.azure.com"));
        }
        assert_eq!(seen.len(), 2, "chosen at random per request");
        assert!(amplify_endpoint(&engine, "unknown").is_none());
    }
}
