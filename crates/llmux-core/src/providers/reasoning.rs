//! Reasoning settings shared across provider families: how much thinking a `reasoning_effort`
//! buys where a provider takes a token budget instead of an effort level.

/// `reasoning_effort` -> a thinking budget in tokens, as LiteLLM maps it.
pub fn effort_budget(effort: &str) -> Option<u32> {
    match effort {
        "minimal" | "low" => Some(1024),
        "medium" => Some(2048),
        "high" => Some(4096),
        _ => None,
    }
}
