//! Embeddings: the canonical request (OpenAI's `/v1/embeddings` shape, LiteLLM's `embedding()`
//! names), the vectors (one flat buffer of float32, never a JSON number on our side), and one
//! call from start to end (`run.rs`): split into the batches the provider takes, sent with
//! bounded concurrency, reassembled in input order, billed once.

pub mod run;
pub mod vectors;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::options::CallOptions;

pub use run::{prepare, run, EmbedCall, EmbedOutcome};
pub use vectors::Vectors;

/// What is embedded: texts, or token arrays (OpenAI takes both).
#[derive(Clone, Debug, PartialEq)]
pub enum EmbeddingInput {
    Texts(Vec<String>),
    Tokens(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    pub fn len(&self) -> usize {
        match self {
            EmbeddingInput::Texts(t) => t.len(),
            EmbeddingInput::Tokens(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn item(&self, i: usize) -> Item<'_> {
        match self {
            EmbeddingInput::Texts(t) => Item::Text(&t[i]),
            EmbeddingInput::Tokens(t) => Item::Tokens(&t[i]),
        }
    }
}

/// One input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Item<'a> {
    Text(&'a str),
    Tokens(&'a [u32]),
}

impl Item<'_> {
    /// The text a provider that takes no tokens is sent (token inputs have none).
    pub fn text(&self) -> Option<&str> {
        match self {
            Item::Text(t) => Some(t),
            Item::Tokens(_) => None,
        }
    }
}

/// An embedding request, parsed and checked.
#[derive(Clone, Debug)]
pub struct EmbeddingRequest {
    pub model: String,
    pub input: EmbeddingInput,
    /// Output dimensions, where the model can shorten its vectors.
    pub dimensions: Option<u32>,
    /// What the caller wants back (`float`, `base64`); the wire format is ours to choose.
    pub encoding_format: Option<String>,
    pub user: Option<String>,
    /// What the text is for: Cohere's `input_type` (`search_document`, `search_query`,
    /// `classification`, `clustering`) or Google's `task_type` (`RETRIEVAL_DOCUMENT`, ...).
    pub input_type: Option<String>,
    /// Cut an input over the model's limit to fit, instead of failing (llmux's option).
    pub truncate: bool,
    /// Anything else, forwarded to OpenAI-shaped servers, named in a warning elsewhere.
    pub extra: Map<String, Value>,
}

/// Most inputs one request may carry, whatever the provider (OpenAI's own cap is 2,048 a
/// request; llmux splits larger lists, but a bound keeps memory bounded by the caller's intent).
pub const MAX_INPUTS: usize = 100_000;

impl EmbeddingRequest {
    /// Parses `{model, input, dimensions?, encoding_format?, user?, input_type?, task_type?,
    /// truncate?, ...}` and takes the call options out.
    pub fn from_value(v: Value) -> Result<(EmbeddingRequest, CallOptions)> {
        let Value::Object(mut m) = v else { return Err(Error::invalid_request("an embedding request must be an object")) };
        let options = CallOptions::take_from_map(&mut m)?;
        let model = match m.remove("model") {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            _ => return Err(Error::invalid_request("model must be a non-empty string such as \"openai/text-embedding-3-small\"")),
        };
        let input = parse_input(m.remove("input"))?;
        let dimensions = match m.remove("dimensions") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_u64().filter(|d| (1..=65_536).contains(d)) {
                Some(d) => Some(d as u32),
                None => return Err(Error::invalid_request("dimensions must be an integer from 1 to 65536").with_param("dimensions")),
            },
            Some(_) => return Err(Error::invalid_request("dimensions must be an integer").with_param("dimensions")),
        };
        let string = |m: &mut Map<String, Value>, k: &str| -> Result<Option<String>> {
            match m.remove(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(Error::invalid_request(format!("{k} must be a string")).with_param(k)),
            }
        };
        let encoding_format = string(&mut m, "encoding_format")?;
        if let Some(f) = encoding_format.as_deref().filter(|f| !matches!(*f, "float" | "base64")) {
            return Err(
                Error::invalid_request(format!("encoding_format must be \"float\" or \"base64\", not {f:?}")).with_param("encoding_format")
            );
        }
        let user = string(&mut m, "user")?;
        let input_type = string(&mut m, "input_type")?.or(string(&mut m, "task_type")?);
        let truncate = match m.remove("truncate") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) => true,
            Some(_) => return Err(Error::invalid_request("truncate must be true or false").with_param("truncate")),
        };
        Ok((EmbeddingRequest { model, input, dimensions, encoding_format, user, input_type, truncate, extra: m }, options))
    }
}

fn parse_input(v: Option<Value>) -> Result<EmbeddingInput> {
    let bad = || {
        Error::invalid_request("input must be a string, an array of strings, an array of token ids or an array of such arrays")
            .with_param("input")
    };
    let input = match v {
        Some(Value::String(s)) => EmbeddingInput::Texts(vec![s]),
        Some(Value::Array(a)) if a.is_empty() => return Err(Error::invalid_request("input must not be empty").with_param("input")),
        Some(Value::Array(a)) => match &a[0] {
            Value::String(_) => EmbeddingInput::Texts(
                a.into_iter()
                    .enumerate()
                    .map(|(i, x)| match x {
                        Value::String(s) => Ok(s),
                        _ => Err(Error::invalid_request(format!("input[{i}] must be a string like the others"))
                            .with_param(format!("input[{i}]"))),
                    })
                    .collect::<Result<_>>()?,
            ),
            Value::Number(_) => EmbeddingInput::Tokens(vec![tokens(&Value::Array(a), 0)?]),
            Value::Array(_) => EmbeddingInput::Tokens(a.iter().enumerate().map(|(i, x)| tokens(x, i)).collect::<Result<_>>()?),
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    if input.len() > MAX_INPUTS {
        return Err(Error::invalid_request(format!("input has {} items; at most {MAX_INPUTS} a call", input.len())).with_param("input"));
    }
    if let EmbeddingInput::Texts(t) = &input {
        // Every provider refuses an empty string ("'$.input' is invalid" at OpenAI).
        if let Some(i) = t.iter().position(|s| s.is_empty()) {
            return Err(Error::invalid_request(format!("input[{i}] is empty")).with_param(format!("input[{i}]")));
        }
    }
    Ok(input)
}

fn tokens(v: &Value, i: usize) -> Result<Vec<u32>> {
    let bad = || Error::invalid_request(format!("input[{i}] must be an array of token ids (integers)")).with_param(format!("input[{i}]"));
    let a = v.as_array().ok_or_else(bad)?;
    if a.is_empty() {
        return Err(Error::invalid_request(format!("input[{i}] is empty")).with_param(format!("input[{i}]")));
    }
    a.iter().map(|t| t.as_u64().and_then(|t| u32::try_from(t).ok()).ok_or_else(bad)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inputs_in_every_openai_shape() {
        let p = |input: Value| {
            EmbeddingRequest::from_value(json!({"model": "openai/text-embedding-3-small", "input": input})).map(|r| r.0.input)
        };
        assert_eq!(p(json!("hi")).unwrap(), EmbeddingInput::Texts(vec!["hi".into()]));
        assert_eq!(p(json!(["a", "b"])).unwrap().len(), 2);
        assert_eq!(p(json!([1, 2, 3])).unwrap(), EmbeddingInput::Tokens(vec![vec![1, 2, 3]]));
        assert_eq!(p(json!([[1], [2, 3]])).unwrap().len(), 2);
        for bad in [json!([]), json!(["a", 1]), json!([[1], []]), json!([-1]), json!(""), json!(["ok", ""]), json!({"a": 1}), json!(null)] {
            let e = p(bad.clone()).unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::InvalidRequest, "{bad}");
            assert!(e.param.as_deref().is_some_and(|p| p.starts_with("input")), "{bad}: {e:?}");
        }
    }

    #[test]
    fn options_are_checked_and_taken_out() {
        let (r, o) = EmbeddingRequest::from_value(
            json!({"model": "m", "input": "x", "dimensions": 256, "encoding_format": "base64", "task_type": "RETRIEVAL_QUERY", "timeout": 3, "truncate": true}),
        )
        .unwrap();
        assert_eq!((r.dimensions, r.input_type.as_deref(), r.truncate), (Some(256), Some("RETRIEVAL_QUERY"), true));
        assert_eq!(o.timeout, Some(std::time::Duration::from_secs(3)));
        assert!(r.extra.is_empty());
        for bad in [
            json!({"model": "m", "input": "x", "dimensions": 0}),
            json!({"model": "m", "input": "x", "encoding_format": "int8"}),
            json!({"input": "x"}),
        ] {
            assert!(EmbeddingRequest::from_value(bad).is_err());
        }
    }
}
