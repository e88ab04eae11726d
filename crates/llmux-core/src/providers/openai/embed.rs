//! OpenAI `/v1/embeddings` (and every server that speaks it; Azure's deployment URL in
//! `azure/`): https://platform.openai.com/docs/api-reference/embeddings. Vectors are asked for as
//! base64 (little-endian float32), as openai-node does by default: no JSON number is printed by
//! the server or parsed here. An answer in floats is read too (servers that ignore the field).

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::embed::vectors::FloatRow;
use crate::embed::{EmbeddingRequest, Item, Vectors};
use crate::error::{Error, Result};
use crate::providers::{Built, EmbedBatch, EmbedLimits, HttpRequest, Target};

/// "The input must not exceed the max input tokens for the model (8192 tokens for all embedding
/// models), cannot be an empty string, and any array must be 2048 dimensions or less" and
/// "the maximum total tokens summed across all inputs in a single request is 300,000"
/// (API reference, `input`).
pub fn limits(target: &Target) -> EmbedLimits {
    let known_openai = target.model.starts_with("text-embedding");
    EmbedLimits {
        max_inputs: 2048,
        max_request_tokens: Some(300_000),
        // An OpenAI-compatible server's own model has its own limit, which it enforces.
        max_input_tokens: target.info.max_input_tokens.or(known_openai.then_some(8192)),
        concurrency: 4,
        takes_tokens: true,
    }
}

/// The request body (`model` is absent for Azure, whose URL names the deployment).
pub fn body(req: &EmbeddingRequest, items: &[Item<'_>], model: Option<&str>) -> Result<Vec<u8>> {
    let input: Vec<Value> = items
        .iter()
        .map(|i| match i {
            Item::Text(t) => json!(t),
            Item::Tokens(t) => json!(t),
        })
        .collect();
    let mut b = Map::new();
    if let Some(m) = model {
        b.insert("model".into(), json!(m));
    }
    b.insert("input".into(), Value::Array(input));
    b.insert("encoding_format".into(), json!("base64"));
    if let Some(d) = req.dimensions {
        b.insert("dimensions".into(), json!(d));
    }
    if let Some(u) = &req.user {
        b.insert("user".into(), json!(u));
    }
    for (k, v) in &req.extra {
        b.entry(k.clone()).or_insert_with(|| v.clone());
    }
    serde_json::to_vec(&b).map_err(|e| Error::invalid_request(e.to_string()))
}

pub fn build(req: &EmbeddingRequest, items: &[Item<'_>], target: &Target) -> Result<Built> {
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = &target.api_key {
        headers.push(("authorization", format!("Bearer {key}")));
    }
    let url = format!("{}/embeddings", target.base_url.trim_end_matches('/'));
    let warnings = req.input_type.iter().map(|t| format!("input_type {t:?} is not an OpenAI parameter and was dropped")).collect();
    Ok(Built { http: HttpRequest { url, headers, body: body(req, items, Some(&target.model))?.into() }, warnings })
}

#[derive(Deserialize)]
struct Wire {
    data: Vec<Datum>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Datum {
    #[serde(default)]
    index: Option<usize>,
    embedding: Embedding,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Embedding {
    Base64(String),
    Floats(FloatRow),
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
}

pub fn parse(body: &[u8], expected: usize, provider: &'static str) -> Result<EmbedBatch> {
    let w: Wire =
        serde_json::from_slice(body).map_err(|e| Error::decode(provider, format!("malformed embeddings answer: {e}")).with_body(body))?;
    if w.data.len() != expected {
        return Err(Error::decode(provider, format!("{} embeddings for {expected} inputs", w.data.len())));
    }
    // Rows come back by `index`; put each where it belongs.
    let mut order: Vec<usize> = (0..expected).collect();
    if w.data.iter().enumerate().any(|(i, d)| d.index.is_some_and(|x| x != i)) {
        let mut seen = vec![false; expected];
        for (pos, d) in w.data.iter().enumerate() {
            let idx = d.index.unwrap_or(pos);
            if idx >= expected || std::mem::replace(&mut seen[idx], true) {
                return Err(Error::decode(provider, format!("embedding index {idx} is out of place")));
            }
            order[idx] = pos;
        }
    }
    let mut v = Vectors::default();
    for pos in order {
        match &w.data[pos].embedding {
            Embedding::Base64(s) => v.push_base64(s, provider)?,
            Embedding::Floats(f) => v.push_row(&f.0, provider)?,
        }
    }
    Ok(EmbedBatch { vectors: v, prompt_tokens: w.usage.and_then(|u| u.prompt_tokens) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::target;
    use crate::providers::ProviderKind;
    use base64::Engine;

    #[test]
    fn asks_for_base64_and_reads_either_form_in_index_order() {
        let (req, _) = EmbeddingRequest::from_value(
            json!({"model": "openai/text-embedding-3-small", "input": ["a", "b"], "dimensions": 2, "user": "u"}),
        )
        .unwrap();
        let items = [Item::Text("a"), Item::Text("b")];
        let built = build(&req, &items, &target(ProviderKind::OpenAi, "text-embedding-3-small")).unwrap();
        let body: Value = serde_json::from_slice(&built.http.body).unwrap();
        assert_eq!(
            body,
            json!({"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "base64", "dimensions": 2, "user": "u"})
        );
        assert!(built.http.url.ends_with("/embeddings"));
        let b64 = base64::engine::general_purpose::STANDARD.encode([1.5f32, 2.5].iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<_>>());
        let answer = format!(
            r#"{{"object":"list","data":[{{"object":"embedding","index":1,"embedding":[3.0,4.0]}},{{"object":"embedding","index":0,"embedding":"{b64}"}}],"model":"text-embedding-3-small","usage":{{"prompt_tokens":2,"total_tokens":2}}}}"#
        );
        let b = parse(answer.as_bytes(), 2, "openai").unwrap();
        assert_eq!(b.vectors.row(0), &[1.5, 2.5]);
        assert_eq!(b.vectors.row(1), &[3.0, 4.0]);
        assert_eq!(b.prompt_tokens, Some(2));
        assert!(parse(answer.as_bytes(), 3, "openai").is_err(), "a missing row is an error, never a shifted answer");
        assert!(parse(br#"{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]}"#, 2, "openai").is_err());
    }
}
