//! Canonical request -> OpenAI Chat Completions request body.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::chat::{ChatRequest, Message, Stop, Tool, ToolChoice};
use crate::error::Result;
use crate::providers::{tool_ids, Built, HttpRequest, Target};

/// The o-series and gpt-5 models: `max_completion_tokens`, fixed sampling parameters.
pub fn is_reasoning_model(model: &str) -> bool {
    let m = model.rsplit('/').next().unwrap_or(model);
    let b = m.as_bytes();
    (b.len() >= 2 && b[0] == b'o' && b[1].is_ascii_digit()) || (m.starts_with("gpt-5") && !m.starts_with("gpt-5-chat"))
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// The wire body, borrowing from the canonical request.
#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: &'a [Message],
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'a Stop>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a [Tool]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'a ToolChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

pub fn has_cache_marks(m: &Message) -> bool {
    use crate::chat::{Content, ContentPart};
    m.cache_control.is_some()
        || matches!(&m.content, Some(Content::Parts(parts)) if parts.iter().any(|p| matches!(p,
            ContentPart::Text { cache_control: Some(_), .. }
            | ContentPart::ImageUrl { cache_control: Some(_), .. }
            | ContentPart::File { cache_control: Some(_), .. })))
}

fn strip_cache_marks(m: &mut Message) {
    use crate::chat::{Content, ContentPart};
    m.cache_control = None;
    if let Some(Content::Parts(parts)) = &mut m.content {
        for p in parts {
            match p {
                ContentPart::Text { cache_control, .. }
                | ContentPart::ImageUrl { cache_control, .. }
                | ContentPart::File { cache_control, .. } => *cache_control = None,
                ContentPart::InputAudio { .. } => {}
            }
        }
    }
}

pub fn build_request(req: &ChatRequest, target: &Target, stream: bool) -> Result<Built> {
    build_request_with(req, target, stream, stream)
}

/// `stream_usage`: ask for usage in the stream (`stream_options.include_usage`).
pub fn build_request_with(req: &ChatRequest, target: &Target, stream: bool, stream_usage: bool) -> Result<Built> {
    let mut warnings = Vec::new();
    // The model database knows what is behind a deployment name (`base_model`); the name rule
    // covers models it does not know yet.
    let reasoning = target.info.supports_reasoning.unwrap_or_else(|| is_reasoning_model(&target.model));
    let (mut max_tokens, mut max_completion_tokens) = (req.max_tokens, req.max_completion_tokens);
    let (mut temperature, mut top_p) = (req.temperature, req.top_p);
    if reasoning {
        // Reasoning models reject `max_tokens` and any sampling setting but the default.
        if let Some(m) = max_tokens.take() {
            max_completion_tokens.get_or_insert(m);
        }
        if temperature.is_some_and(|t| t != 1.0) {
            warnings.push(format!("temperature is not supported by {} and was dropped", target.model));
            temperature = None;
        }
        if top_p.is_some_and(|t| t != 1.0) {
            warnings.push(format!("top_p is not supported by {} and was dropped", target.model));
            top_p = None;
        }
    }
    // Ids from another provider (a Gemini id with its thought signature) over OpenAI's limit,
    // and Anthropic's cache markers, which OpenAI's schema refuses (it caches on its own): the
    // history is copied only when one is there.
    let marked = req.messages.iter().any(has_cache_marks);
    let portable;
    let messages: &[Message] = if marked
        || req.messages.iter().any(|m| {
            m.tool_calls.iter().flatten().any(|t| matches!(tool_ids::portable(&t.id), std::borrow::Cow::Owned(_)))
                || m.tool_call_id.as_deref().is_some_and(|id| matches!(tool_ids::portable(id), std::borrow::Cow::Owned(_)))
        }) {
        portable = req
            .messages
            .iter()
            .cloned()
            .map(|mut m| {
                for t in m.tool_calls.iter_mut().flatten() {
                    t.id = tool_ids::portable(&t.id).into_owned();
                }
                if let Some(id) = &mut m.tool_call_id {
                    *id = tool_ids::portable(id).into_owned();
                }
                strip_cache_marks(&mut m);
                m
            })
            .collect::<Vec<_>>();
        &portable
    } else {
        &req.messages
    };
    let unmarked_tools;
    let mut tools = req.tools.as_deref().filter(|t| !t.is_empty());
    let tools_marked = tools.is_some_and(|t| t.iter().any(|t| t.cache_control.is_some()));
    if let (true, Some(t)) = (tools_marked, tools) {
        unmarked_tools = t.iter().cloned().map(|t| crate::chat::Tool { cache_control: None, ..t }).collect::<Vec<_>>();
        tools = Some(&unmarked_tools);
    }
    if marked || tools_marked {
        warnings.push(format!("cache_control markers were dropped: {} caches prompts by itself", target.provider.name()));
    }
    let body = Body {
        model: &target.model,
        messages,
        max_tokens,
        max_completion_tokens,
        temperature,
        top_p,
        n: req.n,
        stop: req.stop.as_ref(),
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        seed: req.seed,
        user: req.user.as_deref(),
        tools,
        tool_choice: req.tool_choice.as_ref(),
        parallel_tool_calls: req.parallel_tool_calls,
        response_format: req.response_format.as_ref(),
        reasoning_effort: req.reasoning_effort.as_deref(),
        stream,
        // Without this OpenAI sends no usage in a stream, and usage is billing.
        stream_options: stream_usage.then_some(StreamOptions { include_usage: true }),
        extra: &req.extra,
    };
    let body = serde_json::to_vec(&body).map_err(|e| crate::error::Error::invalid_request(e.to_string()))?;
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = &target.api_key {
        headers.push(("authorization", format!("Bearer {key}")));
    }
    Ok(Built {
        http: HttpRequest { url: format!("{}/chat/completions", target.base_url.trim_end_matches('/')), headers, body: body.into() },
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ProviderKind;

    fn target(model: &str) -> Target {
        let mut t = crate::providers::testing::target(ProviderKind::OpenAi, model);
        t.base_url = "http://127.0.0.1:1/v1/".to_owned();
        t.api_key = Some("sk-test".to_owned());
        t
    }

    #[test]
    fn stream_body_asks_for_usage_and_keeps_extra_params() {
        let req =
            ChatRequest::from_json(r#"{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"top_k":3}"#)
                .unwrap();
        let built = build_request(&req, &target("gpt-4o"), true).unwrap();
        assert_eq!(built.http.url, "http://127.0.0.1:1/v1/chat/completions");
        assert!(built.http.headers.contains(&("authorization", "Bearer sk-test".to_owned())));
        let body: Value = serde_json::from_slice(&built.http.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":5,
                "stream":true,"stream_options":{"include_usage":true},"top_k":3})
        );
    }

    #[test]
    fn reasoning_model_gets_max_completion_tokens_and_no_temperature() {
        let req = ChatRequest::from_json(
            r#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":50,"temperature":0.2,"reasoning_effort":"low"}"#,
        )
        .unwrap();
        let built = build_request(&req, &target("o3-mini"), false).unwrap();
        let body: Value = serde_json::from_slice(&built.http.body).unwrap();
        assert_eq!(body["max_completion_tokens"], 50);
        assert!(body.get("max_tokens").is_none());
        assert!(body.get("temperature").is_none());
        assert!(body.get("stream").is_none());
        assert_eq!(body["reasoning_effort"], "low");
        assert_eq!(built.warnings.len(), 1);
    }

    #[test]
    fn reasoning_models_are_recognised() {
        for m in ["o1", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "openai/o3"] {
            assert!(is_reasoning_model(m), "{m}");
        }
        for m in ["gpt-4o", "gpt-5-chat-latest", "omni", "llama3"] {
            assert!(!is_reasoning_model(m), "{m}");
        }
    }

    #[test]
    fn translation_of_a_full_request() {
        let req = ChatRequest::from_json(&crate::providers::testing::FULL_REQUEST.to_string()).unwrap();
        let built = build_request(&req, &target("gpt-4o"), false).unwrap();
        let body: Value = serde_json::from_slice(&built.http.body).unwrap();
        let mut want = crate::providers::testing::FULL_REQUEST.clone();
        want["model"] = serde_json::json!("gpt-4o");
        want["stop"] = serde_json::json!(["END"]);
        // Reasoning blocks of other providers are not OpenAI's to receive.
        want["messages"][2].as_object_mut().unwrap().remove("thinking_blocks");
        assert_eq!(body, want);
        assert!(built.warnings.is_empty());
    }
}
