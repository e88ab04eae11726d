//! Counting tokens locally, for the one case a provider cannot tell us: a stream cut short
//! (cancelled, broken) or a server that sends no usage. Such figures carry `estimated: true`.
//! The tokenizer tables load on first use only, never at import.

use tiktoken_rs::CoreBPE;

use crate::chat::{ChatRequest, Content, ContentPart, Usage};

/// The encoding a model's tokens are counted in; o200k for current models and unknown ones.
fn encoding(model: &str) -> &'static CoreBPE {
    let m = model.rsplit('/').next().unwrap_or(model);
    let legacy = (m.starts_with("gpt-4") && !m.starts_with("gpt-4o") && !m.starts_with("gpt-4."))
        || m.starts_with("gpt-3.5")
        // OpenAI's embedding models count in cl100k (its embeddings guide, tiktoken's table).
        || m.starts_with("text-embedding");
    if legacy {
        tiktoken_rs::cl100k_base_singleton()
    } else {
        tiktoken_rs::o200k_base_singleton()
    }
}

/// Tokens of a text. The tokenizer's regex can give up (a backtracking limit on a long run of
/// whitespace) and tiktoken-rs then panics: such a text is counted at four bytes a token
/// instead, so an estimate is never lost and never a crash.
fn tokens(bpe: &CoreBPE, text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bpe.encode_ordinary(text).len() as u64))
        .unwrap_or_else(|_| text.len().div_ceil(4) as u64)
}

pub fn count_text_tokens(text: &str, model: &str) -> u64 {
    tokens(encoding(model), text)
}

/// The text cut to its first `max` tokens (in the model's encoding). A text the tokenizer
/// gives up on is cut at four bytes a token, on a character boundary.
pub fn truncate_to_tokens(text: &str, model: &str, max: usize) -> String {
    let bpe = encoding(model);
    let cut = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let toks = bpe.encode_ordinary(text);
        if toks.len() <= max {
            return Some(text.to_owned());
        }
        // A cut inside a character decodes to nothing; a few tokens back it does.
        (max.saturating_sub(4)..=max).rev().find_map(|m| bpe.decode(&toks[..m]).ok())
    }));
    match cut {
        Ok(Some(t)) => t,
        _ => {
            let mut end = (max * 4).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text[..end].to_owned()
        }
    }
}

/// Tokens of a chat prompt as OpenAI frames it: 3 per message, 1 per name, 3 to prime the reply;
/// an image counts as 85 (its low-detail price).
pub fn estimate_prompt_tokens(req: &ChatRequest, model: &str) -> u64 {
    let bpe = encoding(model);
    let mut n = 3;
    for m in &req.messages {
        n += 3;
        if m.name.is_some() {
            n += 1;
        }
        match &m.content {
            Some(Content::Text(t)) => n += tokens(bpe, t),
            Some(Content::Parts(parts)) => {
                for p in parts {
                    match p {
                        ContentPart::Text { text, .. } => n += tokens(bpe, text),
                        _ => n += 85,
                    }
                }
            }
            None => {}
        }
        for t in m.tool_calls.iter().flatten() {
            n += tokens(bpe, &t.function.name);
            n += tokens(bpe, &t.function.arguments);
        }
    }
    if let Some(tools) = &req.tools {
        if let Ok(json) = serde_json::to_string(tools) {
            n += tokens(bpe, &json);
        }
    }
    n
}

/// Usage counted locally from the prompt and the text generated so far.
pub fn estimate(req: &ChatRequest, model: &str, generated: &str) -> Usage {
    Usage {
        prompt_tokens: estimate_prompt_tokens(req, model),
        completion_tokens: count_text_tokens(generated, model),
        estimated: true,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_with_the_model_encoding() {
        // "hello world" is two tokens in both encodings.
        assert_eq!(count_text_tokens("hello world", "gpt-4o"), 2);
        assert_eq!(count_text_tokens("hello world", "gpt-3.5-turbo"), 2);
        assert_eq!(count_text_tokens("", "gpt-4o"), 0);
    }

    #[test]
    fn a_text_the_tokenizer_gives_up_on_is_still_counted() {
        for text in [format!("a{}b", " ".repeat(1 << 20)), format!("{}x", "\n \t".repeat(300_000))] {
            let n = count_text_tokens(&text, "gpt-4o");
            assert!(n > 0, "counted, one way or the other");
        }
    }

    #[test]
    fn prompt_estimate_frames_messages() {
        let req = ChatRequest::from_json(r#"{"messages":[{"role":"user","content":"hello world"}]}"#).unwrap();
        assert_eq!(estimate_prompt_tokens(&req, "gpt-4o"), 3 + 3 + 2);
        let u = estimate(&req, "gpt-4o", "hello world");
        assert!(u.estimated);
        assert_eq!(u.completion_tokens, 2);
    }
}
