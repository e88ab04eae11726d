//! Tool-call ids that every provider accepts. Ids cross providers when a conversation does (a
//! router falling back from Gemini to Claude, a history replayed elsewhere), and each API has
//! its own rule: Anthropic `tool_use.id` matches `^[a-zA-Z0-9_-]+$`; Bedrock `toolUseId` the same,
//! 1 to 64 characters (API_runtime_ToolUseBlock); OpenAI refuses a `tool_calls[].id` over 40
//! characters. llmux's own Gemini ids carry the thought signature (hundreds of characters, with
//! `+/=`). An id that breaks the rule is replaced by a short hash of itself: the same id always
//! maps to the same replacement, so a call and its result still pair up.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

/// The longest id every provider takes.
pub const MAX_LEN: usize = 40;

/// `id` itself when it is portable, else `call_` and 32 hex digits of its SHA-256.
pub fn portable(id: &str) -> Cow<'_, str> {
    let ok = !id.is_empty() && id.len() <= MAX_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        return Cow::Borrowed(id);
    }
    let digest = Sha256::digest(id.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    Cow::Owned(format!("call_{hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_ids_stay_and_others_map_the_same_way_every_time() {
        assert_eq!(portable("toolu_01A09q90qw90lq917835lq9"), "toolu_01A09q90qw90lq917835lq9");
        let gemini = format!("call_0123456789abcdef{}{}", crate::providers::gemini::THOUGHT_SEPARATOR, "CiQB+/=".repeat(60));
        let a = portable(&gemini);
        assert_eq!(a, portable(&gemini));
        assert!(a.len() <= MAX_LEN && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{a}");
        assert_ne!(portable("a+b"), portable("a+c"));
        assert_eq!(portable("").len(), 37, "an empty id gets one too");
    }
}
