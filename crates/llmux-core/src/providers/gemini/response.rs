//! Gemini `GenerateContentResponse` -> canonical chunks. One decoder serves the non-streamed
//! answer (one response) and the stream (many): each response adds text, thoughts and function
//! calls; the last `usageMetadata` seen is authoritative (counts may change, not only grow).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{from_wire, WireError};
use super::request::THOUGHT_SEPARATOR;
use crate::chat::{ChatChunk, ChatCompletion, Delta, FinishReason, FunctionDelta, StreamAccumulator, ToolCallDelta, Usage};
use crate::error::{Error, Result};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    model_version: Option<String>,
    #[serde(default)]
    response_id: Option<String>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    error: Option<WireError>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    /// With `candidateCount` > 1, which answer this is (its choice index).
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    content: Option<CandidateContent>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct CandidateContent {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thought: Option<bool>,
    #[serde(default)]
    thought_signature: Option<String>,
    #[serde(default)]
    function_call: Option<FunctionCall>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct FunctionCall {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    args: Option<Value>,
    /// Vertex streams arguments piecewise: `{jsonPath, stringValue | numberValue | boolValue, willContinue}`.
    #[serde(default)]
    partial_args: Option<Vec<PartialArg>>,
    #[serde(default)]
    will_continue: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PartialArg {
    #[serde(default)]
    json_path: String,
    #[serde(default)]
    string_value: Option<String>,
    #[serde(default)]
    number_value: Option<f64>,
    #[serde(default)]
    bool_value: Option<bool>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: Option<u64>,
    #[serde(default)]
    candidates_token_count: Option<u64>,
    #[serde(default)]
    thoughts_token_count: Option<u64>,
    #[serde(default)]
    cached_content_token_count: Option<u64>,
    #[serde(default)]
    tool_use_prompt_token_count: Option<u64>,
}

/// `promptTokenCount` includes cached tokens; `candidatesTokenCount` excludes thoughts.
fn map_usage(u: &UsageMetadata) -> Usage {
    let thoughts = u.thoughts_token_count.unwrap_or(0);
    Usage {
        prompt_tokens: u.prompt_token_count.unwrap_or(0).saturating_add(u.tool_use_prompt_token_count.unwrap_or(0)),
        completion_tokens: u.candidates_token_count.unwrap_or(0).saturating_add(thoughts),
        cached_tokens: u.cached_content_token_count.unwrap_or(0),
        cache_write_tokens: 0,
        cache_write_1h_tokens: 0,
        reasoning_tokens: thoughts,
        estimated: false,
    }
}

/// https://ai.google.dev/api/generate-content#FinishReason
pub fn map_finish_reason(reason: &str, called_tools: bool) -> Option<FinishReason> {
    Some(match reason {
        "FINISH_REASON_UNSPECIFIED" => return None,
        "STOP" if called_tools => FinishReason::ToolCalls,
        "STOP" | "FINISH_REASON_STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION"
        | "LANGUAGE" => FinishReason::ContentFilter,
        // Not a normal stop: the answer is broken (a call that does not parse, a tool it was not
        // given, too many calls). The caller sees Gemini's own reason, lower-cased, so a tool loop
        // does not take it for a finished answer (googleapis/js-genai `FinishReason`).
        other => FinishReason::Other(other.to_ascii_lowercase()),
    })
}

/// A function call whose arguments are still arriving (Vertex `partialArgs`).
struct PendingCall {
    name: String,
    args: Map<String, Value>,
    signature: Option<String>,
}

/// One candidate's progress (one choice of the answer).
#[derive(Default)]
struct CandidateState {
    started: bool,
    tools: u32,
    pending: Option<PendingCall>,
    finished: bool,
}

#[derive(Default)]
pub struct ResponseState {
    id: String,
    model: String,
    created: u64,
    started: bool,
    /// By candidate index; `candidateCount` asks for several answers and bills them all, so
    /// every one is returned, as its own choice.
    cands: Vec<CandidateState>,
    usage: Option<UsageMetadata>,
    /// Every candidate seen has finished.
    pub finished: bool,
}

fn set_path(args: &mut Map<String, Value>, path: &str, value: Value, append: bool) {
    let keys: Vec<&str> = path.trim_start_matches('$').split('.').filter(|k| !k.is_empty()).collect();
    let Some((last, parents)) = keys.split_last() else { return };
    let mut cur = args;
    for k in parents {
        let entry = cur.entry((*k).to_owned()).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(m) = entry else { return };
        cur = m;
    }
    match (cur.get_mut(*last), value) {
        (Some(Value::String(s)), Value::String(more)) if append => s.push_str(&more),
        (_, v) => {
            cur.insert((*last).to_owned(), v);
        }
    }
}

impl ResponseState {
    fn chunk(&self, index: u32, delta: Delta) -> ChatChunk {
        let mut c = ChatChunk::with_delta(&self.id, &self.model, self.created, delta, None);
        c.choices[0].index = index;
        c
    }

    fn call_chunk(&mut self, index: u32, name: String, args: String, signature: Option<String>) -> ChatChunk {
        let mut id = format!("call_{:016x}", fastrand::u64(..));
        if let Some(sig) = signature {
            id.push_str(THOUGHT_SEPARATOR);
            id.push_str(&sig);
        }
        let cand = &mut self.cands[index as usize];
        let call_index = cand.tools;
        cand.tools += 1;
        self.chunk(
            index,
            Delta {
                tool_calls: Some(vec![ToolCallDelta {
                    index: call_index,
                    id: Some(id),
                    kind: Some("function".into()),
                    function: Some(FunctionDelta { name: Some(name), arguments: Some(args) }),
                }]),
                ..Default::default()
            },
        )
    }

    fn flush_pending(&mut self, index: u32, out: &mut Vec<ChatChunk>) {
        if let Some(p) = self.cands[index as usize].pending.take() {
            let args = Value::Object(p.args).to_string();
            out.push(self.call_chunk(index, p.name, args, p.signature));
        }
    }

    /// The usage chunk, once the stream is over.
    pub fn finish(&mut self, out: &mut Vec<ChatChunk>) {
        for i in 0..self.cands.len() {
            self.flush_pending(i as u32, out);
        }
        if let Some(u) = &self.usage {
            let mut c = self.chunk(0, Delta::default());
            c.choices.clear();
            c.usage = Some(map_usage(u));
            out.push(c);
        }
    }
}

/// One response (or stream element) -> chunks.
pub fn decode_response(st: &mut ResponseState, json: &str) -> Result<Vec<ChatChunk>> {
    let r: WireResponse =
        serde_json::from_str(json).map_err(|e| Error::decode("gemini", format!("malformed response: {e}")).with_body(json.as_bytes()))?;
    if let Some(e) = r.error {
        return Err(from_wire(None, e));
    }
    let mut out = Vec::new();
    if !st.started {
        st.started = true;
        st.id = r.response_id.clone().unwrap_or_else(|| format!("gemini-{:016x}", fastrand::u64(..)));
        st.model = r.model_version.clone().unwrap_or_default();
        st.created = crate::chat::unix_now();
    }
    if r.usage_metadata.is_some() {
        st.usage = r.usage_metadata;
    }
    if let Some(reason) = r.prompt_feedback.and_then(|f| f.block_reason) {
        // The prompt itself was blocked: no candidates, an answer filtered away.
        let _ = reason;
        start_candidate(st, 0, &mut out);
        let mut c = st.chunk(0, Delta::default());
        c.choices[0].finish_reason = Some(FinishReason::ContentFilter);
        st.cands[0].finished = true;
        st.finished = true;
        out.push(c);
        return Ok(out);
    }
    if st.cands.is_empty() {
        // The assistant's turn opens even when the first element carries no candidate.
        start_candidate(st, 0, &mut out);
    }
    for (n, cand) in r.candidates.into_iter().enumerate() {
        let index = cand.index.unwrap_or(n as u32);
        if index >= crate::chat::accumulate::MAX_CHOICES {
            return Err(Error::decode(
                "gemini",
                format!("candidate index {index} is over the limit of {}", crate::chat::accumulate::MAX_CHOICES),
            ));
        }
        start_candidate(st, index, &mut out);
        decode_candidate(st, index, cand, &mut out);
    }
    st.finished = st.cands.iter().all(|c| !c.started || c.finished);
    Ok(out)
}

/// Opens a candidate's choice with the assistant role, once.
fn start_candidate(st: &mut ResponseState, index: u32, out: &mut Vec<ChatChunk>) {
    let i = index as usize;
    if st.cands.len() <= i {
        st.cands.resize_with(i + 1, CandidateState::default);
    }
    if !st.cands[i].started {
        st.cands[i].started = true;
        out.push(st.chunk(index, Delta { role: Some("assistant".into()), content: Some(String::new()), ..Default::default() }));
    }
}

fn decode_candidate(st: &mut ResponseState, index: u32, cand: Candidate, out: &mut Vec<ChatChunk>) {
    let i = index as usize;
    for part in cand.content.map(|c| c.parts).unwrap_or_default() {
        if let Some(fc) = part.function_call {
            match (fc.name, fc.partial_args) {
                (Some(name), _) if fc.will_continue == Some(true) => {
                    st.flush_pending(index, out);
                    st.cands[i].pending = Some(PendingCall {
                        name,
                        args: fc.args.and_then(|a| a.as_object().cloned()).unwrap_or_default(),
                        signature: part.thought_signature.clone(),
                    });
                }
                (Some(name), _) => {
                    st.flush_pending(index, out);
                    let args = fc.args.unwrap_or_else(|| Value::Object(Map::new())).to_string();
                    let c = st.call_chunk(index, name, args, part.thought_signature.clone());
                    out.push(c);
                }
                (None, Some(partials)) => {
                    if let Some(p) = st.cands[i].pending.as_mut() {
                        for a in partials {
                            let (value, append) = match (a.string_value, a.number_value, a.bool_value) {
                                (Some(s), _, _) => (Value::String(s), true),
                                (_, Some(n), _) => (serde_json::Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null), false),
                                (_, _, Some(b)) => (Value::Bool(b), false),
                                _ => (Value::Null, false),
                            };
                            set_path(&mut p.args, &a.json_path, value, append);
                        }
                    }
                    if fc.will_continue != Some(true) {
                        st.flush_pending(index, out);
                    }
                }
                // An empty functionCall closes the call being streamed.
                (None, None) => st.flush_pending(index, out),
            }
            continue;
        }
        if let Some(text) = part.text.filter(|t| !t.is_empty()) {
            let delta = if part.thought == Some(true) {
                Delta { reasoning_content: Some(text), ..Default::default() }
            } else {
                Delta { content: Some(text), ..Default::default() }
            };
            out.push(st.chunk(index, delta));
        }
    }
    if let Some(reason) = cand.finish_reason {
        st.flush_pending(index, out);
        if let Some(f) = map_finish_reason(&reason, st.cands[i].tools > 0) {
            let mut c = st.chunk(index, Delta::default());
            c.choices[0].finish_reason = Some(f);
            st.cands[i].finished = true;
            out.push(c);
        }
    }
}

pub fn parse_response(body: &[u8]) -> Result<ChatCompletion> {
    let text = std::str::from_utf8(body).map_err(|_| Error::decode("gemini", "response is not UTF-8"))?;
    let mut st = ResponseState::default();
    let mut chunks = decode_response(&mut st, text)?;
    st.finish(&mut chunks);
    let mut acc = StreamAccumulator::default();
    for c in &chunks {
        acc.push(c);
    }
    Ok(acc.into_completion())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_candidate_is_a_choice() {
        // candidateCount 2: each candidate carries its index; candidatesTokenCount is "Total
        // number of tokens across all the generated response candidates" (GenerateContentResponse
        // UsageMetadata), so both are billed and both are returned.
        let body = r#"{"candidates":[
            {"index":0,"content":{"role":"model","parts":[{"text":"Paris."}]},"finishReason":"STOP"},
            {"index":1,"content":{"role":"model","parts":[{"text":"It is Paris."}]},"finishReason":"STOP"}],
            "usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":6,"totalTokenCount":14}}"#;
        let done = parse_response(body.as_bytes()).unwrap();
        assert_eq!(done.choices.len(), 2);
        assert_eq!(done.choices[1].index, 1);
        assert_eq!(done.choices[1].message.content.as_deref(), Some("It is Paris."));
        assert_eq!(done.choices[1].finish_reason, Some(FinishReason::Stop));
        assert_eq!(done.usage.unwrap().completion_tokens, 6);
    }

    #[test]
    fn a_candidate_index_past_the_limit_is_refused() {
        let body = r#"{"candidates":[{"index":4000000000,"content":{"parts":[{"text":"x"}]}}]}"#;
        assert!(parse_response(body.as_bytes()).is_err());
    }
}
