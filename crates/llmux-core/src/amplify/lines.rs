//! Encodes a call's events as amplify's stream lines, each `data: <json>\n\n`:
//! text deltas `{"s":0,"d":...}` (only when streaming to the user), reasoning as a
//! "Thinking Details:" status, the end marker `{"s":0,"type":"end"}` (only when streaming to the
//! user), and a short user-facing message as a text delta when the call failed.
//!
//! Deltas of one kind that arrive together are written as one line: the client appends them,
//! so the text is the same, with fewer writes and fewer lines to parse.

use crate::call::Outcome;
use crate::chat::ChatChunk;
use crate::error::{Error, ErrorKind};

#[derive(Debug)]
pub struct AmplifyEncoder {
    stream_to_user: bool,
    text: String,
    reasoning: String,
}

fn push_json_str(out: &mut String, s: &str) {
    // Serialising a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn text_line(out: &mut String, text: &str) {
    out.push_str("data: {\"s\":0,\"d\":");
    push_json_str(out, text);
    out.push_str("}\n\n");
}

fn reasoning_line(out: &mut String, text: &str) {
    out.push_str("data: {\"s\":\"meta\",\"st\":{\"id\":\"reasoning\",\"summary\":\"Thinking Details:\",\"message\":");
    push_json_str(out, text);
    out.push_str(",\"icon\":\"bolt\",\"inProgress\":true,\"animated\":true,\"type\":\"info\"}}\n\n");
}

/// The status line amplify showed while attached documents were added.
pub fn datasources_line(count: usize) -> String {
    format!(
        "data: {{\"s\":\"meta\",\"st\":{{\"id\":\"datasources\",\"summary\":\"Processing {count} attached documents\",\"message\":\"Adding document content to conversation\",\"type\":\"info\",\"inProgress\":true,\"icon\":\"document\",\"animated\":true}}}}\n\n"
    )
}

/// The words a user sees when a call failed, by what failed (amplify's own texts).
pub fn user_message(err: &Error) -> &'static str {
    if err.provider_code.as_deref() == Some("insufficient_quota") {
        return "Error retrieving response from this model. Please try another model or wait a few minutes before trying again.";
    }
    match (err.kind, err.status) {
        (ErrorKind::ContentFilter, _) => "Content Filter: The response was blocked due to the content of the request.",
        (ErrorKind::RateLimit, _) | (_, Some(429)) => "Too Many Requests: You have sent too many requests in a given amount of time to this model. Please try another model or wait a few minutes before trying again.",
        (_, Some(413)) => "Request Entity Too Large: The request body is too large. Please try again with a smaller request.",
        (ErrorKind::Timeout, _) | (_, Some(408 | 503 | 504)) => "Request Timed Out: We did not receive a timely response from the model providers server. Please try another model or wait a few minutes before trying again.",
        _ => "Error retrieving response. Please try again.",
    }
}

impl AmplifyEncoder {
    pub fn new(stream_to_user: bool) -> Self {
        AmplifyEncoder { stream_to_user, text: String::new(), reasoning: String::new() }
    }

    pub fn chunk(&mut self, chunk: &ChatChunk, out: &mut String) {
        let Some(choice) = chunk.choices.first() else { return };
        if let Some(r) = choice.delta.reasoning_content.as_deref().filter(|r| !r.is_empty()) {
            if !self.text.is_empty() {
                text_line(out, &self.text);
                self.text.clear();
            }
            self.reasoning.push_str(r);
        }
        if self.stream_to_user {
            if let Some(t) = choice.delta.content.as_deref().filter(|t| !t.is_empty()) {
                if !self.reasoning.is_empty() {
                    reasoning_line(out, &self.reasoning);
                    self.reasoning.clear();
                }
                self.text.push_str(t);
            }
        }
    }

    /// Writes what is pending; called at the end of each batch.
    pub fn flush(&mut self, out: &mut String) {
        if !self.reasoning.is_empty() {
            reasoning_line(out, &self.reasoning);
            self.reasoning.clear();
        }
        if !self.text.is_empty() {
            text_line(out, &self.text);
            self.text.clear();
        }
    }

    /// The last lines of a call: the reasoning-token status, then the end marker or the error message.
    pub fn end(&mut self, outcome: &Outcome, out: &mut String) {
        self.flush(out);
        match &outcome.error {
            Some(e) if e.kind == ErrorKind::Cancelled => {}
            Some(e) => text_line(out, user_message(e)),
            None => {
                if self.stream_to_user {
                    if let Some(n) = outcome.usage.map(|u| u.reasoning_tokens).filter(|n| *n > 0) {
                        out.push_str(&format!(
                            "data: {{\"s\":\"meta\",\"st\":{{\"id\":\"reasoning\",\"summary\":\"Reasoning tokens: {n}\",\"message\":\"Model used advanced reasoning\",\"type\":\"info\",\"inProgress\":false,\"icon\":\"bolt\",\"animated\":false}}}}\n\n"
                        ));
                    }
                    out.push_str("data: {\"s\":0,\"type\":\"end\"}\n\n");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{Delta, StreamAccumulator, Usage};

    fn chunk(content: Option<&str>, reasoning: Option<&str>) -> ChatChunk {
        ChatChunk::with_delta(
            "i",
            "m",
            0,
            Delta { content: content.map(str::to_owned), reasoning_content: reasoning.map(str::to_owned), ..Default::default() },
            None,
        )
    }

    fn outcome(error: Option<Error>, usage: Option<Usage>) -> Outcome {
        Outcome { completion: StreamAccumulator::default().into_completion(), usage, cost: None, error, warnings: vec![], route: None }
    }

    #[test]
    fn text_reasoning_and_end_lines() {
        let mut enc = AmplifyEncoder::new(true);
        let mut out = String::new();
        enc.chunk(&chunk(None, Some("hmm ")), &mut out);
        enc.chunk(&chunk(None, Some("ok")), &mut out);
        enc.chunk(&chunk(Some("He said \"hi\"\n"), None), &mut out);
        enc.chunk(&chunk(Some("!"), None), &mut out);
        enc.flush(&mut out);
        enc.end(&outcome(None, Some(Usage { reasoning_tokens: 7, ..Default::default() })), &mut out);
        let lines: Vec<&str> = out.split_terminator("\n\n").collect();
        assert_eq!(
            lines,
            vec![
                r#"data: {"s":"meta","st":{"id":"reasoning","summary":"Thinking Details:","message":"hmm ok","icon":"bolt","inProgress":true,"animated":true,"type":"info"}}"#,
                r#"data: {"s":0,"d":"He said \"hi\"\n!"}"#,
                r#"data: {"s":"meta","st":{"id":"reasoning","summary":"Reasoning tokens: 7","message":"Model used advanced reasoning","type":"info","inProgress":false,"icon":"bolt","animated":false}}"#,
                r#"data: {"s":0,"type":"end"}"#,
            ]
        );
        for l in lines {
            serde_json::from_str::<serde_json::Value>(l.strip_prefix("data: ").unwrap()).unwrap();
        }
    }

    #[test]
    fn not_streaming_to_user_writes_no_text_and_no_end() {
        let mut enc = AmplifyEncoder::new(false);
        let mut out = String::new();
        enc.chunk(&chunk(Some("secret answer"), None), &mut out);
        enc.end(&outcome(None, None), &mut out);
        assert_eq!(out, "");
    }

    #[test]
    fn errors_become_a_user_message_whether_or_not_streaming() {
        let mut enc = AmplifyEncoder::new(false);
        let mut out = String::new();
        let e = Error::new(ErrorKind::RateLimit, "x").with_status(429);
        enc.end(&outcome(Some(e), None), &mut out);
        assert!(out.starts_with("data: {\"s\":0,\"d\":\"Too Many Requests:"), "{out}");
        assert_eq!(
            user_message(&Error::new(ErrorKind::ProviderUnavailable, "x").with_status(503)).split(':').next(),
            Some("Request Timed Out")
        );
        assert_eq!(user_message(&Error::new(ErrorKind::Auth, "x").with_status(401)), "Error retrieving response. Please try again.");
        assert!(user_message(&Error::new(ErrorKind::ContextWindow, "x").with_status(413)).starts_with("Request Entity Too Large"));
        let mut out = String::new();
        AmplifyEncoder::new(true).end(&outcome(Some(Error::cancelled()), None), &mut out);
        assert_eq!(out, "", "a cancelled request writes nothing more");
    }
}
