//! Bedrock embeddings through `InvokeModel` (`POST /model/{id}/invoke`, SigV4), in each model
//! family's own body:
//! - Amazon Titan Text Embeddings (`amazon.titan-embed-text-v2:0`, `-v1`): one text a request,
//!   `{inputText, dimensions, normalize}` → `{embedding, inputTextTokenCount}`
//!   (docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html);
//! - Cohere Embed (`cohere.embed-english-v3`, `-multilingual-v3`, `cohere.embed-v4:0`): up to 96
//!   texts, `input_type` required, `{texts, input_type, truncate, output_dimension}` →
//!   `{embeddings: [[..]] | {float: [[..]]}}`, tokens in `x-amzn-bedrock-input-token-count`
//!   (model-parameters-embed-v3.html, model-parameters-embed-v4.html).

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{auth_headers, encode_model_id};
use crate::embed::vectors::FloatRow;
use crate::embed::{EmbeddingRequest, Item, Vectors};
use crate::error::{Error, Result};
use crate::providers::{Built, EmbedBatch, EmbedLimits, HttpRequest, Target};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Family {
    Titan { v2: bool },
    Cohere { v4: bool },
}

fn family(model: &str) -> Result<Family> {
    if model.contains("amazon.titan-embed") {
        Ok(Family::Titan { v2: !model.contains("-v1") })
    } else if model.contains("cohere.embed") {
        Ok(Family::Cohere { v4: model.contains("embed-v4") })
    } else {
        Err(Error::invalid_request(format!(
            "{model} is not an embedding model llmux knows on Bedrock (amazon.titan-embed-text-v2:0, cohere.embed-english-v3, cohere.embed-v4:0...)"
        )))
    }
}

pub fn limits(req: &EmbeddingRequest, target: &Target) -> EmbedLimits {
    let _ = req;
    match family(&target.model) {
        // "up to 8,192 tokens or 50,000 characters"; one text a call, so fanned out.
        Ok(Family::Titan { .. }) => {
            EmbedLimits { max_inputs: 1, max_request_tokens: None, max_input_tokens: Some(8192), concurrency: 8, takes_tokens: false }
        }
        // 96 texts a call; the length is the model's to enforce (`truncate`).
        _ => EmbedLimits { max_inputs: 96, max_request_tokens: None, max_input_tokens: None, concurrency: 4, takes_tokens: false },
    }
}

pub fn build(req: &EmbeddingRequest, items: &[Item<'_>], target: &Target) -> Result<Built> {
    let mut warnings = Vec::new();
    let texts: Vec<&str> = items.iter().filter_map(Item::text).collect();
    let body = match family(&target.model)? {
        Family::Titan { v2 } => {
            let mut b = Map::new();
            b.insert("inputText".into(), json!(texts.first().copied().unwrap_or_default()));
            match (v2, req.dimensions) {
                (true, Some(d)) if matches!(d, 256 | 512 | 1024) => {
                    b.insert("dimensions".into(), json!(d));
                }
                (true, Some(d)) => {
                    return Err(
                        Error::invalid_request(format!("Titan v2 embeds in 256, 512 or 1024 dimensions, not {d}")).with_param("dimensions")
                    )
                }
                (false, Some(_)) => warnings.push("dimensions is not supported by Titan v1 and was dropped".to_owned()),
                _ => {}
            }
            if req.input_type.is_some() {
                warnings.push("input_type is not a Titan parameter and was dropped".to_owned());
            }
            Value::Object(b)
        }
        Family::Cohere { v4 } => {
            let mut b = Map::new();
            b.insert("texts".into(), json!(texts));
            // Required by the API; LiteLLM's default when the caller gives none.
            b.insert("input_type".into(), json!(req.input_type.as_deref().unwrap_or("search_document")));
            if req.truncate {
                b.insert("truncate".into(), json!(if v4 { "RIGHT" } else { "END" }));
            }
            match (v4, req.dimensions) {
                (true, Some(d)) if matches!(d, 256 | 512 | 1024 | 1536) => {
                    b.insert("output_dimension".into(), json!(d));
                }
                (true, Some(d)) => {
                    return Err(Error::invalid_request(format!("Cohere Embed v4 embeds in 256, 512, 1024 or 1536 dimensions, not {d}"))
                        .with_param("dimensions"))
                }
                (false, Some(_)) => warnings.push("dimensions is not supported by Cohere Embed v3 and was dropped".to_owned()),
                _ => {}
            }
            Value::Object(b)
        }
    };
    for k in req.extra.keys() {
        warnings.push(format!("{k} is not a Bedrock embedding parameter and was dropped"));
    }
    let body = serde_json::to_vec(&body).map_err(|e| Error::invalid_request(e.to_string()))?;
    let url = format!("{}/model/{}/invoke", target.base_url.trim_end_matches('/'), encode_model_id(&target.model));
    let mut headers = auth_headers(&url, &body, target)?;
    headers.push(("accept", "application/json".to_owned()));
    Ok(Built { http: HttpRequest { url, headers, body: body.into() }, warnings })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Titan {
    embedding: FloatRow,
    #[serde(default)]
    input_text_token_count: Option<u64>,
}

#[derive(Deserialize)]
struct Cohere {
    embeddings: CohereEmbeddings,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CohereEmbeddings {
    Floats(Vec<FloatRow>),
    ByType { float: Vec<FloatRow> },
}

pub fn parse(body: &[u8], headers: &reqwest::header::HeaderMap, expected: usize) -> Result<EmbedBatch> {
    let bad = |e: serde_json::Error| Error::decode("bedrock", format!("malformed embeddings answer: {e}")).with_body(body);
    let header_tokens = headers.get("x-amzn-bedrock-input-token-count").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let mut v = Vectors::default();
    // A Titan answer has `embedding`, a Cohere one `embeddings`.
    let value: Value = serde_json::from_slice(body).map_err(bad)?;
    let tokens = if value.get("embedding").is_some() {
        let t: Titan = serde_json::from_value(value).map_err(bad)?;
        v.push_row(&t.embedding.0, "bedrock")?;
        t.input_text_token_count.or(header_tokens)
    } else {
        let c: Cohere = serde_json::from_value(value).map_err(bad)?;
        let rows = match c.embeddings {
            CohereEmbeddings::Floats(r) | CohereEmbeddings::ByType { float: r } => r,
        };
        for r in &rows {
            v.push_row(&r.0, "bedrock")?;
        }
        header_tokens
    };
    if v.rows() != expected {
        return Err(Error::decode("bedrock", format!("{} embeddings for {expected} inputs", v.rows())));
    }
    Ok(EmbedBatch { vectors: v, prompt_tokens: tokens })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::target;
    use crate::providers::ProviderKind;

    fn req(extra: Value) -> EmbeddingRequest {
        let mut v = json!({"model": "bedrock/x", "input": ["a", "b"]});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        EmbeddingRequest::from_value(v).unwrap().0
    }

    #[test]
    fn titan_takes_one_text_and_its_dimensions() {
        let t = target(ProviderKind::Bedrock, "amazon.titan-embed-text-v2:0");
        assert_eq!(limits(&req(json!({})), &t).max_inputs, 1);
        let built = build(&req(json!({"dimensions": 256})), &[Item::Text("a")], &t).unwrap();
        assert!(built.http.url.ends_with("/model/amazon.titan-embed-text-v2%3A0/invoke"));
        assert_eq!(serde_json::from_slice::<Value>(&built.http.body).unwrap(), json!({"inputText": "a", "dimensions": 256}));
        assert!(built.http.headers.iter().any(|(k, v)| *k == "authorization" && v.starts_with("AWS4-HMAC-SHA256")));
        assert!(build(&req(json!({"dimensions": 300})), &[Item::Text("a")], &t).is_err());
        let b =
            parse(br#"{"embedding":[0.5,0.25],"inputTextTokenCount":3,"embeddingsByType":{"float":[0.5,0.25]}}"#, &Default::default(), 1)
                .unwrap();
        assert_eq!((b.vectors.row(0), b.prompt_tokens), (&[0.5f32, 0.25][..], Some(3)));
    }

    #[test]
    fn cohere_gets_its_input_type_and_both_answer_shapes() {
        let t = target(ProviderKind::Bedrock, "cohere.embed-english-v3");
        let built = build(&req(json!({"input_type": "search_query", "truncate": true})), &[Item::Text("a"), Item::Text("b")], &t).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&built.http.body).unwrap(),
            json!({"texts": ["a", "b"], "input_type": "search_query", "truncate": "END"})
        );
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-amzn-bedrock-input-token-count", "7".parse().unwrap());
        let b = parse(br#"{"embeddings":[[1,2],[3,4]],"id":"x","response_type":"embeddings_floats","texts":["a","b"]}"#, &h, 2).unwrap();
        assert_eq!((b.vectors.rows(), b.prompt_tokens), (2, Some(7)));
        let b = parse(br#"{"embeddings":{"float":[[1,2],[3,4]]},"response_type":"embeddings_by_type"}"#, &h, 2).unwrap();
        assert_eq!(b.vectors.row(1), &[3.0, 4.0]);
        assert!(parse(br#"{"embeddings":[[1,2]]}"#, &h, 2).is_err());
        let v4 = target(ProviderKind::Bedrock, "cohere.embed-v4:0");
        let built = build(&req(json!({"dimensions": 512})), &[Item::Text("a")], &v4).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&built.http.body).unwrap()["output_dimension"], 512);
    }
}
