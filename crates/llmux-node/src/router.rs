//! The `Router` class's native half: built from a config (already parsed from YAML or given as
//! an object by the JS side), it starts routed calls with the same signatures as the module's
//! functions, and answers the router's questions (health, models, usage, metrics) as JSON.

use std::sync::Arc;
use std::time::Duration;

use napi_derive::napi;
use serde_json::Value;

use crate::api::{amplify_intro, launch, parse_json, parse_schema, prompt_request, send_outcome, PromptForDataOptions};
use crate::convert::JsErrorData;
use crate::handle::{CallHandle, Mode};
use llmux_core::amplify::{self, AmplifyEncoder};
use llmux_core::chat::ChatRequest;
use llmux_core::error::{Error, ErrorKind, Result};
use llmux_core::router::config::RouterConfig;
use llmux_core::router::{RouteRequest, Router};

#[napi(object)]
pub struct RouterCheck {
    pub error: Option<JsErrorData>,
    pub warnings: Vec<String>,
}

/// Checks a router config: the error that would refuse it, and the warnings it raises.
#[napi]
pub fn check_router_config(config_json: String) -> RouterCheck {
    match parse_json("router config", &config_json).and_then(|v| RouterConfig::parse(&v)) {
        Ok((_, warnings)) => RouterCheck { error: None, warnings },
        Err(e) => RouterCheck { error: Some(JsErrorData::from(&e)), warnings: vec![] },
    }
}

#[napi(object)]
pub struct YamlConfig {
    pub json: Option<String>,
    pub error: Option<JsErrorData>,
}

/// A LiteLLM proxy config's YAML text as JSON, parsed by the core (every front door shares it).
#[napi]
pub fn router_config_from_yaml(text: String) -> YamlConfig {
    match RouterConfig::yaml_to_json(&text) {
        Ok(v) => YamlConfig { json: Some(v.to_string()), error: None },
        Err(e) => YamlConfig { json: None, error: Some(JsErrorData::from(&e)) },
    }
}

#[napi]
pub struct RouterHandle {
    inner: Arc<Router>,
}

/// `cache: {ttl}` (seconds) / `cache: false` / `cache: {"no-cache": true}` from a request.
fn cache_option(req: &mut ChatRequest) -> Result<(Option<Duration>, bool)> {
    match req.take_option("cache") {
        None => Ok((None, false)),
        Some(Value::Bool(false)) => Ok((None, true)),
        Some(Value::Bool(true)) => Ok((Some(Duration::from_secs(600)), false)),
        Some(Value::Object(m)) => {
            if m.get("no-cache").and_then(Value::as_bool) == Some(true) {
                return Ok((None, true));
            }
            let ttl = match m.get("ttl") {
                None => 600.0,
                Some(v) => v
                    .as_f64()
                    .filter(|t| t.is_finite() && *t > 0.0)
                    .ok_or_else(|| Error::invalid_request("cache.ttl must be a positive number of seconds"))?,
            };
            Ok((Some(Duration::from_secs_f64(ttl)), false))
        }
        Some(_) => Err(Error::invalid_request("cache must be true, false or {ttl}")),
    }
}

impl RouterHandle {
    fn route_request(&self, mut request: ChatRequest, names: &[&str], user: Option<String>, stream: bool) -> Result<RouteRequest> {
        request.normalize_legacy_functions()?;
        request.validate()?;
        let group = self.inner.find_group(names).ok_or_else(|| {
            Error::new(ErrorKind::NotFound, format!("the router has no model group named \"{}\"", names.first().copied().unwrap_or("")))
        })?;
        request.model = group;
        // Behind a router the deployments own the credentials; none from the request is used,
        // and none may reach a cache key.
        for k in ["api_key", "aws_access_key_id", "aws_secret_access_key", "aws_session_token"] {
            request.extra.remove(k);
        }
        let (cache_ttl, no_cache) = cache_option(&mut request)?;
        let user = request.user.clone().or(user);
        Ok(RouteRequest { request, user, stream, cache_ttl, no_cache })
    }

    fn general(&self, request_json: &str, model_json: Option<&str>, user: Option<String>, stream: bool) -> Result<RouteRequest> {
        let request = ChatRequest::from_json(request_json)?;
        match model_json {
            Some(m) => {
                let model = amplify::prepare::parse_model(&parse_json("model", m)?)?;
                let fallback = amplify::prepare::model_string(&model).unwrap_or_default();
                self.route_request(request, &[&model.id, &fallback], user, stream)
            }
            None => {
                let name = request.model.clone();
                self.route_request(request, &[&name], user, stream)
            }
        }
    }

    fn spawn(&self, rr: Result<RouteRequest>, mode: Mode, intro: String) -> CallHandle {
        let router = self.inner.clone();
        launch(rr.map(|rr| move |cancel, tx| router.run(rr, cancel, tx)), mode, intro)
    }
}

#[napi]
impl RouterHandle {
    #[napi(constructor)]
    pub fn new(config_json: String) -> napi::Result<Self> {
        let (cfg, _) = parse_json("router config", &config_json)
            .and_then(|v| RouterConfig::parse(&v))
            .map_err(|e| napi::Error::from_reason(e.message))?;
        Ok(RouterHandle { inner: Arc::new(Router::new(cfg)) })
    }

    #[napi(catch_unwind)]
    pub fn start_completion(&self, request_json: String, model_json: Option<String>, user: Option<String>) -> CallHandle {
        self.spawn(self.general(&request_json, model_json.as_deref(), user, false), Mode::Completion, String::new())
    }

    #[napi(catch_unwind)]
    pub fn start_stream(&self, request_json: String, model_json: Option<String>, user: Option<String>) -> CallHandle {
        self.spawn(self.general(&request_json, model_json.as_deref(), user, true), Mode::Chunks, String::new())
    }

    #[napi(catch_unwind)]
    pub fn start_amplify(
        &self,
        chat_request_json: String,
        model_json: String,
        data_sources_json: String,
        stream_to_user: bool,
        user: Option<String>,
    ) -> CallHandle {
        let prepared = parse_json("model", &model_json)
            .and_then(|m| Ok((m, parse_json("dataSources", &data_sources_json)?)))
            .and_then(|(m, ds)| amplify::prepare::prepare_request(&chat_request_json, &m, &ds));
        let (rr, intro) = match prepared {
            Ok(a) => {
                let model = a.request.model.clone();
                let intro = amplify_intro(stream_to_user, a.data_source_count);
                (self.route_request(a.request, &[&a.model_id, &model], user, true), intro)
            }
            Err(e) => (Err(e), String::new()),
        };
        self.spawn(rr, Mode::Amplify(AmplifyEncoder::new(stream_to_user)), intro)
    }

    /// promptForData through the router: the structured-output strategy is chosen for the
    /// group's first deployment, then each attempt is routed (retries, fallbacks included).
    #[napi(catch_unwind)]
    pub fn start_prompt_for_data(
        &self,
        messages_json: String,
        model_json: String,
        prompt: String,
        schema_json: String,
        options: Option<PromptForDataOptions>,
        user: Option<String>,
    ) -> CallHandle {
        let router = self.inner.clone();
        let prepared = (|| {
            let schema = parse_schema(&schema_json)?;
            let request = prompt_request(&messages_json, prompt, options)?;
            let mut rr = self.general(&request.to_string(), Some(&model_json), user, false)?;
            let target = router.first_target(&rr.request.model)?;
            let st = llmux_core::structured::apply(&mut rr.request, &target, &schema, llmux_core::structured::TOOL_NAME);
            Ok((rr, st))
        })();
        let job = prepared.map(|(rr, st)| {
            move |cancel: tokio_util::sync::CancellationToken, tx| {
                let RouteRequest { request, user, cache_ttl, no_cache, .. } = rr;
                let run = move |request: ChatRequest| {
                    let rr = RouteRequest { request, user: user.clone(), stream: false, cache_ttl, no_cache };
                    let (router, cancel) = (router.clone(), cancel.clone());
                    async move { router.complete(rr, cancel).await }
                };
                send_outcome(llmux_core::structured::prompt_for_data_with(request, st, run), tx)
            }
        });
        launch(job, Mode::Completion, String::new())
    }

    #[napi]
    pub fn health(&self) -> String {
        self.inner.health().to_string()
    }

    #[napi]
    pub fn list_models(&self) -> String {
        self.inner.list_models().to_string()
    }

    #[napi]
    pub fn get_model_info(&self, name: String) -> Option<String> {
        self.inner.model_info(&name).map(|v| v.to_string())
    }

    /// Tokens and cost since `since_ms` (a Unix time in milliseconds).
    #[napi]
    pub fn get_usage(&self, since_ms: f64) -> String {
        self.inner.ledger.usage_since(since_ms / 1000.0).to_string()
    }

    #[napi]
    pub fn metrics(&self) -> String {
        self.inner.metrics.render()
    }
}
