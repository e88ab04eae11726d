//! The `Router` class's native half: built from a config (already parsed from YAML or given as
//! an object by the JS side), it starts routed calls with the same signatures as the module's
//! functions, and answers the router's questions (health, models, usage, metrics) as JSON.

use std::sync::Arc;

use napi_derive::napi;

use crate::api::{amplify_intro, launch, parse_json, prompt_for_data_request, send_outcome, PromptForDataOptions};
use crate::convert::JsErrorData;
use crate::handle::{CallHandle, Mode};
use llmux_core::amplify::{self, AmplifyEncoder};
use llmux_core::chat::ChatRequest;
use llmux_core::error::{Error, ErrorKind, Result};
use llmux_core::router::config::RouterConfig;
use llmux_core::router::embed::EmbedRouteRequest;
use llmux_core::router::{RouteRequest, Router};

#[napi(object)]
pub struct RouterCheck {
    pub error: Option<JsErrorData>,
    pub warnings: Vec<String>,
}

/// Checks a router config: the error that would refuse it, and the warnings it raises.
#[napi(catch_unwind)]
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
#[napi(catch_unwind)]
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

impl RouterHandle {
    pub(crate) fn router(&self) -> &Arc<Router> {
        &self.inner
    }

    /// A caller's request for the router: the core checks it and drops what a caller may not
    /// set behind a router; the model names a group (or an alias of one).
    fn route_request(&self, mut request: ChatRequest, names: &[&str], user: Option<String>, stream: bool) -> Result<RouteRequest> {
        // `auto` asks the router to choose (unless a group is named so).
        let auto = names.first() == Some(&"auto") && self.inner.group_name("auto").is_none();
        let group = if auto { Some("auto".to_owned()) } else { self.inner.find_group(names) };
        let group = group.ok_or_else(|| {
            Error::new(ErrorKind::NotFound, format!("the router has no model group named \"{}\"", names.first().copied().unwrap_or("")))
        })?;
        request.model = group;
        RouteRequest::new(request, user, stream)
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
    #[napi(constructor, catch_unwind)]
    pub fn new(config_json: String) -> napi::Result<Self> {
        let (cfg, _) = parse_json("router config", &config_json)
            .and_then(|v| RouterConfig::parse(&v))
            .map_err(|e| napi::Error::from_reason(e.message))?;
        let router = Router::new(crate::engine().clone(), cfg).map_err(|e| napi::Error::from_reason(e.message))?;
        Ok(RouterHandle { inner: Arc::new(router) })
    }

    /// Starts `router.embedding()`: the request's model names an embedding group.
    #[napi(catch_unwind)]
    pub fn start_embedding(&self, request_json: String, user: Option<String>) -> crate::embed::EmbedHandle {
        let router = self.inner.clone();
        let er = parse_json("request", &request_json).and_then(|mut v| {
            let name = v.get("model").and_then(|m| m.as_str()).unwrap_or("").to_owned();
            let group = self
                .inner
                .find_group(&[&name])
                .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("the router has no model group named \"{name}\"")))?;
            v["model"] = serde_json::Value::String(group);
            EmbedRouteRequest::new(v, user)
        });
        crate::embed::EmbedHandle::launch(er.map(|er| move |cancel| router.embed(er, cancel)))
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
            let model = amplify::prepare::parse_model(&parse_json("model", &model_json)?)?;
            let fallback = amplify::prepare::model_string(&model).unwrap_or_default();
            let p = prompt_for_data_request(&messages_json, fallback.clone(), prompt, &schema_json, options)?;
            let mut rr = self.route_request(p.request, &[&model.id, &fallback], user, false)?;
            let target = router.first_target(&rr.request.model)?;
            let st = llmux_core::structured::apply(&mut rr.request, &target, &p.schema, llmux_core::structured::TOOL_NAME);
            Ok((rr, st))
        })();
        let job = prepared.map(|(rr, st)| {
            move |cancel: tokio_util::sync::CancellationToken, tx| {
                let RouteRequest { request, options, user, warnings, tags, hints, .. } = rr;
                let run = move |request: ChatRequest| {
                    let rr = RouteRequest {
                        request,
                        options: options.clone(),
                        user: user.clone(),
                        stream: false,
                        warnings: warnings.clone(),
                        tags: tags.clone(),
                        hints: hints.clone(),
                    };
                    let (router, cancel) = (router.clone(), cancel.clone());
                    async move { router.complete(rr, cancel).await }
                };
                send_outcome(llmux_core::prompt::prompt_for_data_with(request, st, run), tx)
            }
        });
        launch(job, Mode::Completion, String::new())
    }

    #[napi(catch_unwind)]
    pub fn health(&self) -> String {
        self.inner.health().to_string()
    }

    /// Probes every deployment with a minimal request (bounded concurrency and time).
    #[napi]
    pub async fn probe_health(&self) -> String {
        let router = self.inner.clone();
        router.probe(tokio_util::sync::CancellationToken::new()).await.to_string()
    }

    #[napi(catch_unwind)]
    pub fn list_models(&self, capability: Option<String>) -> String {
        self.inner.list_models_with(capability.as_deref()).to_string()
    }

    #[napi(catch_unwind)]
    pub fn get_model_info(&self, name: String) -> Option<String> {
        self.inner.model_info(&name).map(|v| v.to_string())
    }

    /// Tokens and cost since `since_ms` (a Unix time in milliseconds): every instance's when
    /// the state is shared.
    #[napi]
    pub async fn get_usage(&self, since_ms: f64) -> String {
        let router = self.inner.clone();
        let since = if since_ms.is_finite() { since_ms / 1000.0 } else { 0.0 };
        router.usage(since).await.to_string()
    }

    /// Waits (at most `timeout_ms`) until every answered request is settled with the shared
    /// state; whether all were.
    #[napi]
    pub async fn flush(&self, timeout_ms: f64) -> bool {
        let router = self.inner.clone();
        let within = std::time::Duration::try_from_secs_f64(timeout_ms / 1000.0).unwrap_or(std::time::Duration::from_secs(5));
        router.flush(within).await
    }

    /// Prometheus text: every instance's totals when the state is shared.
    #[napi]
    pub async fn metrics(&self) -> String {
        let router = self.inner.clone();
        router.metrics_text().await
    }
}
