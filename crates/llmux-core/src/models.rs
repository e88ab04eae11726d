//! The model database: per model, its limits, prices and capability flags, embedded in the
//! binary from LiteLLM's published model map (`data/models.json`, rebuilt by
//! `scripts/refresh-models.py`). Field names are LiteLLM's, so a config's `model_info` overrides
//! an entry with the same words. Parsed once, on the first lookup, never at import.
//!
//! Costs are computed here and only here: the router's ledger and metrics, `onUsage` details and
//! the response's `llmux.cost` all call `ModelInfo::cost`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::chat::Usage;
use crate::providers::ProviderKind;

const TABLE: &str = include_str!("../data/models.json");

/// One model's facts. Every field is optional: an absent price is unknown, not free.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub litellm_provider: Option<String>,
    /// `chat`, `embedding`, `responses`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The model whose prices and capabilities a deployment has (LiteLLM's `base_model`: an
    /// Azure deployment name says nothing of the model behind it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_vector_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_input_token_cost: Option<f64>,
    /// A 5-minute cache write (Anthropic: 1.25 times the input rate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost: Option<f64>,
    /// A 1-hour cache write (Anthropic: twice the input rate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost_above_1hr: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_cost_per_reasoning_token: Option<f64>,
    /// Long-context tiers: the whole request is billed at these rates when its prompt is over
    /// the threshold (Gemini 2.5 Pro, Claude's 1M context).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token_above_200k_tokens: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token_above_200k_tokens: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_input_token_cost_above_200k_tokens: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost_above_200k_tokens: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token_above_272k_tokens: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token_above_272k_tokens: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_input_token_cost_above_272k_tokens: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_function_calling: Option<bool>,
    /// `tool_choice` naming a tool (or `required`) is honoured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_tool_choice: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_parallel_function_calling: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_vision: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_pdf_input: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_audio_input: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_video_input: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_response_schema: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_native_structured_output: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_reasoning: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_adaptive_thinking: Option<bool>,
    /// `false` when the model refuses `temperature`/`top_p`/`top_k` (Claude Opus 4.7 and later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_sampling_params: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_prompt_caching: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_system_messages: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_none_reasoning_effort: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_minimal_reasoning_effort: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_xhigh_reasoning_effort: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_max_reasoning_effort: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_web_search: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecation_date: Option<String>,
}

/// A request's cost in USD, by part. `priced` is false when the model has no input or output
/// price (an unknown model, a self-hosted one): every figure is then 0, never a guess.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub input: f64,
    pub cache_read: f64,
    pub cache_write: f64,
    pub output: f64,
    pub total: f64,
    #[serde(skip)]
    pub priced: bool,
}

#[derive(Deserialize)]
struct WireTable {
    source: String,
    models: HashMap<String, ModelInfo>,
}

/// Entries are shared: a call's `Target` holds its model's entry without copying it.
struct Table {
    source: String,
    models: HashMap<String, Arc<ModelInfo>>,
    unknown: Arc<ModelInfo>,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        // The table is ours and tested (`the_table_loads`); a broken one is a build defect.
        let w: WireTable = serde_json::from_str(TABLE).expect("data/models.json is a valid model table");
        Table { source: w.source, models: w.models.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(), unknown: Arc::default() }
    })
}

/// Where the table came from (`LiteLLM model map (litellm 1.110.2)`).
pub fn source() -> &'static str {
    &table().source
}

/// How many models the table knows.
pub fn len() -> usize {
    table().models.len()
}

/// The names LiteLLM's map files a model under, most specific first.
fn keys(provider: ProviderKind, model: &str) -> Vec<String> {
    let m = model.trim();
    let mut k = Vec::with_capacity(4);
    match provider {
        ProviderKind::Azure => {
            k.push(format!("azure/{m}"));
            k.push(m.to_owned());
        }
        ProviderKind::Gemini => {
            k.push(format!("gemini/{m}"));
            k.push(m.to_owned());
        }
        ProviderKind::Vertex | ProviderKind::VertexAnthropic => {
            k.push(format!("vertex_ai/{m}"));
            k.push(m.to_owned());
            // Vertex pins Claude versions with `@date`; the map files most under the bare name.
            if let Some((base, _)) = m.split_once('@') {
                k.push(format!("vertex_ai/{base}"));
            }
        }
        ProviderKind::Bedrock => {
            k.push(m.to_owned());
            k.push(format!("bedrock/{m}"));
            // A cross-region inference profile (`us.`, `eu.`, `global.`...) costs what the base
            // model costs where the map has no entry of its own.
            if let Some((prefix, rest)) = m.split_once('.') {
                if prefix.len() <= 6 && rest.contains('.') {
                    k.push(rest.to_owned());
                }
            }
        }
        ProviderKind::Anthropic => {
            k.push(m.to_owned());
            k.push(format!("anthropic/{m}"));
        }
        ProviderKind::OpenAi => {
            k.push(m.to_owned());
            k.push(format!("openai/{m}"));
        }
        ProviderKind::Mock => {}
    }
    k
}

/// The table's entry for a model at a provider, if it has one.
pub fn lookup(provider: ProviderKind, model: &str) -> Option<&'static Arc<ModelInfo>> {
    let t = table();
    keys(provider, model).iter().find_map(|k| t.models.get(k.as_str()))
}

/// A model string's entry (`bedrock/us.anthropic.claude-...`, `gemini/gemini-2.5-pro`).
pub fn lookup_model_string(model: &str) -> Option<&'static Arc<ModelInfo>> {
    let (provider, id) = crate::providers::resolve::split_model(model).ok()?;
    lookup(provider, id)
}

/// What is known of a deployment: the table's entry for its `base_model` (when given) or its
/// model, under the config's own `model_info`, field by field.
pub fn resolve(provider: ProviderKind, model: &str, overrides: Option<&ModelInfo>) -> ModelInfo {
    let base = overrides.and_then(|o| o.base_model.as_deref());
    let found = match base {
        // A base_model may name its provider (`azure/gpt-4o`) or not (`gpt-4o`).
        Some(b) => lookup_model_string(b).or_else(|| lookup(provider, b)),
        None => lookup(provider, model),
    };
    let mut info = found.map(|a| ModelInfo::clone(a)).unwrap_or_default();
    if let Some(o) = overrides {
        info.overlay(o);
    }
    info
}

/// As `resolve`, shared: with no overrides (the common case) the table's own entry, no copy.
pub fn resolve_shared(provider: ProviderKind, model: &str, overrides: Option<&ModelInfo>) -> Arc<ModelInfo> {
    match overrides {
        None => lookup(provider, model).cloned().unwrap_or_else(|| table().unknown.clone()),
        Some(o) => Arc::new(resolve(provider, model, Some(o))),
    }
}

impl Cost {
    /// Adds another attempt's cost to a running total (several attempts, one bill).
    pub fn add_to(total: &mut Option<Cost>, c: Option<Cost>) {
        let Some(c) = c else { return };
        let t = total.get_or_insert_with(Cost::default);
        t.input += c.input;
        t.cache_read += c.cache_read;
        t.cache_write += c.cache_write;
        t.output += c.output;
        t.total += c.total;
        t.priced |= c.priced;
    }
}

impl ModelInfo {
    /// Reads a config's `model_info` object; a field of the wrong type is an error naming it.
    /// LiteLLM's own bookkeeping there (`id`, `description`...) is not ours and is skipped, as
    /// serde skips any field the struct does not name; a `null` is an unset field.
    pub fn from_map(m: &Map<String, Value>) -> Result<ModelInfo, String> {
        serde_path_to_error::deserialize(Value::Object(m.clone())).map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }

    /// Sets every field `o` sets.
    pub fn overlay(&mut self, o: &ModelInfo) {
        let mut mine = serde_json::to_value(&*self).unwrap_or_default();
        if let (Some(m), Ok(Value::Object(theirs))) = (mine.as_object_mut(), serde_json::to_value(o)) {
            m.extend(theirs);
        }
        if let Ok(merged) = serde_json::from_value(mine) {
            *self = merged;
        }
    }

    /// Whether the model has a price at all.
    pub fn is_priced(&self) -> bool {
        self.input_cost_per_token.is_some() || self.output_cost_per_token.is_some()
    }

    /// What `u` costs at this model's prices. Cache reads and writes are billed at their own
    /// rates (a 1-hour write at its own), reasoning at the reasoning rate where one is set, and a
    /// prompt over a long-context threshold puts the whole request at that tier's rates, as the
    /// providers' price pages state.
    pub fn cost(&self, u: &Usage) -> Cost {
        if !self.is_priced() {
            return Cost::default();
        }
        let prompt = u.prompt_tokens;
        let tier = |base: Option<f64>, t200: Option<f64>, t272: Option<f64>| -> f64 {
            let b = base.unwrap_or(0.0);
            if prompt > 272_000 {
                if let Some(r) = t272 {
                    return r;
                }
            }
            if prompt > 200_000 {
                if let Some(r) = t200 {
                    return r;
                }
            }
            b
        };
        let input =
            tier(self.input_cost_per_token, self.input_cost_per_token_above_200k_tokens, self.input_cost_per_token_above_272k_tokens);
        let output =
            tier(self.output_cost_per_token, self.output_cost_per_token_above_200k_tokens, self.output_cost_per_token_above_272k_tokens);
        let read = tier(
            self.cache_read_input_token_cost.or(self.input_cost_per_token),
            self.cache_read_input_token_cost_above_200k_tokens,
            self.cache_read_input_token_cost_above_272k_tokens,
        );
        let write_5m = tier(
            self.cache_creation_input_token_cost.or(self.input_cost_per_token),
            self.cache_creation_input_token_cost_above_200k_tokens,
            None,
        );
        // Anthropic's 1-hour write is twice the base input rate; the map states it for Claude.
        let write_1h = self.cache_creation_input_token_cost_above_1hr.unwrap_or(input * 2.0);
        let reasoning = self.output_cost_per_reasoning_token.unwrap_or(output);

        let writes_1h = u.cache_write_1h_tokens.min(u.cache_write_tokens);
        let writes_5m = u.cache_write_tokens - writes_1h;
        let plain_in = prompt.saturating_sub(u.cached_tokens).saturating_sub(u.cache_write_tokens);
        let reasoning_out = u.reasoning_tokens.min(u.completion_tokens);
        let plain_out = u.completion_tokens - reasoning_out;

        let c_input = plain_in as f64 * input;
        let c_read = u.cached_tokens as f64 * read;
        let c_write = writes_5m as f64 * write_5m + writes_1h as f64 * write_1h;
        let c_output = plain_out as f64 * output + reasoning_out as f64 * reasoning;
        Cost {
            input: c_input,
            cache_read: c_read,
            cache_write: c_write,
            output: c_output,
            total: c_input + c_read + c_write + c_output,
            priced: true,
        }
    }
}

/// The warning a call owes about its model, if any: none when the call's own `model_info` (or
/// its router deployment's) prices it, none when the model was found in the table as resolved
/// (the resolution already looked; no second lookup on the hot path), else `unknown_model_warning`.
pub fn warning_for(target: &crate::providers::Target, options: &crate::options::CallOptions) -> Option<String> {
    let overridden = options.model_info.is_some() || options.resolved_info.is_some();
    let priced_by_caller =
        options.model_info.as_ref().is_some_and(ModelInfo::is_priced) || options.resolved_info.as_ref().is_some_and(|m| m.is_priced());
    if priced_by_caller || (!overridden && !Arc::ptr_eq(&target.info, &table().unknown)) {
        return None;
    }
    unknown_model_warning(target.provider, &target.model)
}

/// Says once per process and model that a model is not in the table, so its cost is reported
/// as 0 and its capabilities follow the provider's rules (bounded: a flood of made-up names
/// cannot grow it without end).
pub fn unknown_model_warning(provider: ProviderKind, model: &str) -> Option<String> {
    if provider == ProviderKind::Mock || lookup(provider, model).is_some() {
        return None;
    }
    warn_once(provider, model)
}

fn warn_once(provider: ProviderKind, model: &str) -> Option<String> {
    static SEEN: OnceLock<Mutex<std::collections::HashSet<String>>> = OnceLock::new();
    let mut seen = SEEN.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    let key = format!("{}/{model}", provider.name());
    if seen.len() >= 4096 || !seen.insert(key.clone()) {
        return None;
    }
    Some(format!(
        "{key} is not in llmux's model database ({}): its cost is reported as 0 and its capabilities follow {}'s defaults; \
         set model_info (input_cost_per_token, output_cost_per_token, base_model...) to price it",
        source(),
        provider.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_loads() {
        assert!(len() > 500, "{} models", len());
        assert!(source().starts_with("LiteLLM model map"));
        // Every entry has a provider and a mode: the refresh script keeps only those.
        for (k, m) in &table().models {
            assert!(m.litellm_provider.is_some() && m.mode.is_some(), "{k}");
        }
    }

    #[test]
    fn current_models_are_found_under_every_provider_spelling() {
        for (p, m) in [
            (ProviderKind::Anthropic, "claude-opus-4-7"),
            (ProviderKind::Anthropic, "claude-sonnet-4-6"),
            (ProviderKind::Bedrock, "us.anthropic.claude-opus-4-7"),
            (ProviderKind::Bedrock, "anthropic.claude-sonnet-4-6"),
            (ProviderKind::Bedrock, "us.meta.llama4-maverick-17b-instruct-v1:0"),
            (ProviderKind::Bedrock, "amazon.nova-pro-v1:0"),
            (ProviderKind::VertexAnthropic, "claude-opus-4-7"),
            (ProviderKind::Gemini, "gemini-2.5-pro"),
            (ProviderKind::Vertex, "gemini-2.5-flash"),
            (ProviderKind::OpenAi, "gpt-5"),
            (ProviderKind::OpenAi, "o3"),
            (ProviderKind::Azure, "gpt-5"),
            (ProviderKind::OpenAi, "text-embedding-3-small"),
        ] {
            let info = lookup(p, m).unwrap_or_else(|| panic!("{p:?} {m}"));
            assert!(info.is_priced(), "{m}");
        }
        assert!(lookup(ProviderKind::OpenAi, "my-finetune-of-nothing").is_none());
    }

    #[test]
    fn claude_cache_writes_cost_more_than_input_and_an_hour_more_than_five_minutes() {
        let info = lookup(ProviderKind::Anthropic, "claude-opus-4-7").unwrap();
        let input = info.input_cost_per_token.unwrap();
        // Anthropic's price page: 5-minute writes 1.25x base input, 1-hour writes 2x, reads 0.1x.
        assert!((info.cache_creation_input_token_cost.unwrap() - input * 1.25).abs() < 1e-12);
        assert!((info.cache_creation_input_token_cost_above_1hr.unwrap() - input * 2.0).abs() < 1e-12);
        let u = Usage {
            prompt_tokens: 1_000 + 1_000 + 2_000 + 3_000,
            cached_tokens: 1_000,
            cache_write_tokens: 2_000 + 3_000,
            cache_write_1h_tokens: 3_000,
            completion_tokens: 100,
            ..Default::default()
        };
        let c = info.cost(&u);
        let expect_write = 2_000.0 * input * 1.25 + 3_000.0 * input * 2.0;
        assert!((c.cache_write - expect_write).abs() < 1e-9, "{c:?}");
        assert!((c.input - 1_000.0 * input).abs() < 1e-9);
        assert!((c.cache_read - 1_000.0 * input * 0.1).abs() < 1e-9);
        assert!((c.total - (c.input + c.cache_read + c.cache_write + c.output)).abs() < 1e-12);
    }

    #[test]
    fn a_long_prompt_bills_the_whole_request_at_the_long_context_tier() {
        let info = lookup(ProviderKind::Gemini, "gemini-2.5-pro").unwrap();
        let short = info.cost(&Usage { prompt_tokens: 200_000, completion_tokens: 10, ..Default::default() });
        let long = info.cost(&Usage { prompt_tokens: 200_001, completion_tokens: 10, ..Default::default() });
        assert!((short.input - 200_000.0 * info.input_cost_per_token.unwrap()).abs() < 1e-9);
        assert!((long.input - 200_001.0 * info.input_cost_per_token_above_200k_tokens.unwrap()).abs() < 1e-9);
        assert!((long.output - 10.0 * info.output_cost_per_token_above_200k_tokens.unwrap()).abs() < 1e-12);
    }

    #[test]
    fn an_unknown_model_costs_nothing_and_is_said_once() {
        let info = resolve(ProviderKind::OpenAi, "self-hosted-llama", None);
        let c = info.cost(&Usage { prompt_tokens: 10, completion_tokens: 10, ..Default::default() });
        assert_eq!(c, Cost::default());
        assert!(unknown_model_warning(ProviderKind::OpenAi, "self-hosted-llama-x").is_some());
        assert!(unknown_model_warning(ProviderKind::OpenAi, "self-hosted-llama-x").is_none());
        assert!(unknown_model_warning(ProviderKind::OpenAi, "gpt-5").is_none());
        assert!(unknown_model_warning(ProviderKind::Mock, "echo").is_none());
    }

    #[test]
    fn config_overrides_and_base_model() {
        let m: Map<String, Value> = serde_json::from_str(r#"{"base_model":"azure/gpt-5","input_cost_per_token":1.0,"id":"x"}"#).unwrap();
        let o = ModelInfo::from_map(&m).unwrap();
        // An Azure deployment named for nothing in particular takes its base model's facts.
        let info = resolve(ProviderKind::Azure, "prod-deployment-7", Some(&o));
        assert_eq!(info.input_cost_per_token, Some(1.0));
        assert_eq!(info.supports_reasoning, Some(true));
        assert_eq!(info.max_input_tokens, lookup(ProviderKind::Azure, "gpt-5").unwrap().max_input_tokens);
        let bad: Map<String, Value> = serde_json::from_str(r#"{"input_cost_per_token":"cheap"}"#).unwrap();
        assert!(ModelInfo::from_map(&bad).unwrap_err().contains("input_cost_per_token"));
    }
}
