//! Model strings (`openai/gpt-4o`, `mock/echo`, LiteLLM style) -> the provider and deployment
//! to call, with keys and base URLs from the call's options, the secrets, or the environment.

use std::time::Duration;

use serde_json::Value;

use super::{openai, ProviderKind, Target};
use crate::chat::ChatRequest;
use crate::config;
use crate::error::{Error, ErrorKind, Result};

/// Providers llmux names but does not serve yet: a clear error instead of "unknown provider".
const PLANNED: &[&str] = &["anthropic", "bedrock", "azure", "gemini", "vertex_ai"];

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
        "mock" => Ok((ProviderKind::Mock, rest)),
        p if PLANNED.contains(&p) => Err(Error::new(
            ErrorKind::Config,
            format!("provider \"{p}\" is not supported by this build of llmux yet"),
        )),
        p => Err(Error::invalid_request(format!(
            "model \"{model}\": unknown provider \"{p}\" (known: openai, mock)"
        ))),
    }
}

fn string_option(req: &mut ChatRequest, keys: &[&str]) -> Result<Option<String>> {
    let mut found = None;
    for k in keys {
        match req.take_option(k) {
            Some(Value::String(s)) => {
                if found.is_none() {
                    found = Some(s);
                }
            }
            Some(_) => return Err(Error::invalid_request(format!("{k} must be a string"))),
            None => {}
        }
    }
    Ok(found)
}

fn number_option(req: &mut ChatRequest, keys: &[&str]) -> Result<Option<f64>> {
    let mut found = None;
    for k in keys {
        match req.take_option(k) {
            Some(Value::Number(n)) => {
                let v = n.as_f64().filter(|v| v.is_finite() && *v >= 0.0);
                if v.is_none() {
                    return Err(Error::invalid_request(format!("{k} must be a non-negative number")));
                }
                found = found.or(v);
            }
            Some(_) => return Err(Error::invalid_request(format!("{k} must be a number"))),
            None => {}
        }
    }
    Ok(found)
}

/// Resolves `req.model`, taking llmux's call options (`api_key`, `api_base`/`base_url`,
/// `timeout` in seconds, `max_retries`/`num_retries`, `extra_headers`) out of the request.
pub fn resolve(req: &mut ChatRequest) -> Result<Target> {
    let (provider, model) = split_model(&req.model)?;
    let model = model.to_owned();
    let api_key = string_option(req, &["api_key"])?;
    let base = string_option(req, &["api_base", "base_url"])?;
    let timeout = number_option(req, &["timeout"])?;
    let retries = number_option(req, &["max_retries", "num_retries"])?;
    let extra_headers = match req.take_option("extra_headers") {
        None => vec![],
        Some(Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                _ => Err(Error::invalid_request(format!("extra_headers.{k} must be a string"))),
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(Error::invalid_request("extra_headers must be an object of strings")),
    };
    let mut timeouts = config::timeouts();
    if let Some(t) = timeout {
        let t = Duration::from_secs_f64(t);
        timeouts.total = t;
        timeouts.first_byte = timeouts.first_byte.min(t);
        timeouts.idle = timeouts.idle.min(t);
    }
    let (base_url, api_key) = match provider {
        ProviderKind::OpenAi => {
            let base_url = base
                .or_else(|| config::secret("OPENAI_BASE_URL"))
                .or_else(|| config::secret("OPENAI_API_BASE"))
                .unwrap_or_else(|| openai::DEFAULT_BASE_URL.to_owned());
            let key = api_key.or_else(|| config::secret("OPENAI_API_KEY"));
            if key.is_none() && base_url.trim_end_matches('/') == openai::DEFAULT_BASE_URL {
                return Err(Error::new(ErrorKind::Auth, "OPENAI_API_KEY is not set (secrets provider, environment or api_key)")
                    .with_provider("openai"));
            }
            (base_url, key)
        }
        ProviderKind::Mock => (String::new(), None),
    };
    Ok(Target {
        provider,
        model,
        base_url,
        api_key,
        extra_headers,
        timeouts,
        max_retries: retries.map(|r| r.min(10.0) as u32).unwrap_or(2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn options_are_taken_out_of_the_request() {
        let mut r = req(
            r#"{"model":"openai/my-model","messages":[{"role":"user","content":"a"}],
               "api_base":"http://127.0.0.1:9/v1","api_key":"k","timeout":1.5,"max_retries":0,
               "extra_headers":{"x-a":"b"}}"#,
        );
        let t = resolve(&mut r).unwrap();
        assert_eq!(t.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(t.api_key.as_deref(), Some("k"));
        assert_eq!(t.timeouts.total, Duration::from_millis(1500));
        assert_eq!(t.max_retries, 0);
        assert_eq!(t.extra_headers, vec![("x-a".to_owned(), "b".to_owned())]);
        assert!(r.extra.is_empty());
    }

    #[test]
    fn wrong_option_types_are_named() {
        let mut r = req(r#"{"model":"mock/echo","messages":[{"role":"user","content":"a"}],"timeout":"soon"}"#);
        assert!(resolve(&mut r).unwrap_err().message.contains("timeout"));
    }
}
