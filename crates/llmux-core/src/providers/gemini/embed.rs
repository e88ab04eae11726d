//! Google embeddings:
//! - the Gemini API's `batchEmbedContents` (`POST .../v1beta/models/{model}:batchEmbedContents`,
//!   `{requests: [{model: "models/{m}", content: {parts: [{text}]}, taskType, outputDimensionality}]}`
//!   → `{embeddings: [{values}]}`; at most 100 requests a batch; no usage in the answer, so it
//!   is counted here and marked estimated);
//! - Vertex AI's `:predict` (`{instances: [{content, task_type}], parameters:
//!   {outputDimensionality, autoTruncate}}` → `{predictions: [{embeddings: {values, statistics:
//!   {token_count}}}]}`; 250 texts and 20,000 tokens a request, one for gemini-embedding-001)
//!   (cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api).

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::embed::vectors::FloatRow;
use crate::embed::{EmbeddingRequest, Item, Vectors};
use crate::error::{Error, Result};
use crate::providers::{Built, EmbedBatch, EmbedLimits, HttpRequest, ProviderKind, Target};

pub fn limits(target: &Target) -> EmbedLimits {
    if target.provider == ProviderKind::Vertex {
        let one = target.model.starts_with("gemini-embedding");
        EmbedLimits {
            max_inputs: if one { 1 } else { 250 },
            max_request_tokens: Some(20_000),
            // Vertex cuts (autoTruncate) or refuses an input over 2,048 tokens itself.
            max_input_tokens: None,
            concurrency: if one { 8 } else { 4 },
            takes_tokens: false,
        }
    } else {
        EmbedLimits { max_inputs: 100, max_request_tokens: None, max_input_tokens: None, concurrency: 4, takes_tokens: false }
    }
}

fn headers(target: &Target) -> Vec<(&'static str, String)> {
    let mut h = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = &target.api_key {
        match target.provider {
            ProviderKind::Vertex => h.push(("authorization", format!("Bearer {key}"))),
            _ => h.push(("x-goog-api-key", key.clone())),
        }
    }
    h
}

pub fn build(req: &EmbeddingRequest, items: &[Item<'_>], target: &Target) -> Result<Built> {
    let mut warnings: Vec<String> = req.extra.keys().map(|k| format!("{k} is not a Google embedding parameter and was dropped")).collect();
    let texts = items.iter().filter_map(Item::text);
    let (url, body) = if target.provider == ProviderKind::Vertex {
        let instances: Vec<Value> = texts
            .map(|t| {
                let mut i = json!({ "content": t });
                if let Some(tt) = &req.input_type {
                    i["task_type"] = json!(tt);
                }
                i
            })
            .collect();
        let mut params = Map::new();
        if let Some(d) = req.dimensions {
            params.insert("outputDimensionality".into(), json!(d));
        }
        // Cut an over-long input only when asked; otherwise Vertex refuses it (400).
        params.insert("autoTruncate".into(), json!(req.truncate));
        (
            format!("{}/{}:predict", target.base_url.trim_end_matches('/'), target.model),
            json!({"instances": instances, "parameters": params}),
        )
    } else {
        let model = format!("models/{}", target.model);
        let requests: Vec<Value> = texts
            .map(|t| {
                let mut r = json!({"model": model, "content": {"parts": [{"text": t}]}});
                if let Some(tt) = &req.input_type {
                    r["taskType"] = json!(tt);
                }
                if let Some(d) = req.dimensions {
                    r["outputDimensionality"] = json!(d);
                }
                r
            })
            .collect();
        if req.truncate {
            warnings.push("truncate is not a Gemini API parameter (the model takes 2,048 tokens an input) and was dropped".into());
        }
        (format!("{}/{}:batchEmbedContents", target.base_url.trim_end_matches('/'), target.model), json!({ "requests": requests }))
    };
    let body = serde_json::to_vec(&body).map_err(|e| Error::invalid_request(e.to_string()))?;
    Ok(Built { http: HttpRequest { url, headers: headers(target), body: body.into() }, warnings })
}

#[derive(Deserialize)]
struct Batch {
    embeddings: Vec<Values>,
}

#[derive(Deserialize)]
struct Values {
    values: FloatRow,
    #[serde(default)]
    statistics: Option<Statistics>,
}

#[derive(Deserialize)]
struct Statistics {
    #[serde(default)]
    token_count: Option<f64>,
}

#[derive(Deserialize)]
struct Predict {
    predictions: Vec<Prediction>,
}

#[derive(Deserialize)]
struct Prediction {
    embeddings: Values,
}

pub fn parse(body: &[u8], expected: usize, vertex: bool) -> Result<EmbedBatch> {
    let provider = if vertex { "vertex_ai" } else { "gemini" };
    let bad = |e: serde_json::Error| Error::decode(provider, format!("malformed embeddings answer: {e}")).with_body(body);
    let rows: Vec<Values> = if vertex {
        serde_json::from_slice::<Predict>(body).map_err(bad)?.predictions.into_iter().map(|p| p.embeddings).collect()
    } else {
        serde_json::from_slice::<Batch>(body).map_err(bad)?.embeddings
    };
    if rows.len() != expected {
        return Err(Error::decode(provider, format!("{} embeddings for {expected} inputs", rows.len())));
    }
    let mut v = Vectors::default();
    let mut tokens = 0u64;
    let mut all_counted = vertex;
    for r in &rows {
        v.push_row(&r.values.0, provider)?;
        match r.statistics.as_ref().and_then(|s| s.token_count) {
            Some(t) if t.is_finite() && t >= 0.0 => tokens = tokens.saturating_add(t as u64),
            _ => all_counted = false,
        }
    }
    Ok(EmbedBatch { vectors: v, prompt_tokens: all_counted.then_some(tokens) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::target;

    fn req() -> EmbeddingRequest {
        EmbeddingRequest::from_value(
            json!({"model": "gemini/gemini-embedding-001", "input": ["a", "b"], "dimensions": 768, "input_type": "RETRIEVAL_DOCUMENT"}),
        )
        .unwrap()
        .0
    }

    #[test]
    fn gemini_batches_with_task_type_and_dimensions() {
        let mut t = target(ProviderKind::Gemini, "gemini-embedding-001");
        t.base_url = "http://127.0.0.1:1/v1beta/models".into();
        let built = build(&req(), &[Item::Text("a"), Item::Text("b")], &t).unwrap();
        assert_eq!(built.http.url, "http://127.0.0.1:1/v1beta/models/gemini-embedding-001:batchEmbedContents");
        let body: Value = serde_json::from_slice(&built.http.body).unwrap();
        assert_eq!(
            body["requests"][1],
            json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}, "taskType": "RETRIEVAL_DOCUMENT", "outputDimensionality": 768})
        );
        let b = parse(br#"{"embeddings":[{"values":[1,2]},{"values":[3,4]}]}"#, 2, false).unwrap();
        assert_eq!((b.vectors.rows(), b.prompt_tokens), (2, None), "no usage: counted by llmux");
        assert_eq!(limits(&t).max_inputs, 100);
    }

    #[test]
    fn vertex_predicts_with_statistics() {
        let t = target(ProviderKind::Vertex, "text-embedding-005");
        let built = build(&req(), &[Item::Text("a")], &t).unwrap();
        assert!(built.http.url.ends_with("/text-embedding-005:predict"));
        let body: Value = serde_json::from_slice(&built.http.body).unwrap();
        assert_eq!(
            body,
            json!({"instances": [{"content": "a", "task_type": "RETRIEVAL_DOCUMENT"}], "parameters": {"outputDimensionality": 768, "autoTruncate": false}})
        );
        let b = parse(
            br#"{"predictions":[{"embeddings":{"values":[0.5],"statistics":{"token_count":4,"truncated":false}}}],"metadata":{"billableCharacterCount":9}}"#,
            1,
            true,
        )
        .unwrap();
        assert_eq!(b.prompt_tokens, Some(4));
        assert_eq!(limits(&target(ProviderKind::Vertex, "gemini-embedding-001")).max_inputs, 1);
        assert_eq!(limits(&t).max_inputs, 250);
    }
}
