//! What amplify's `recordUsage(account, requestId, model, inputTokens, outputTokens,
//! cachedTokens, details)` receives for one request's usage: the arguments computed once here,
//! so no front door re-derives billing figures.

use serde::Serialize;

use crate::chat::Usage;

/// `recordUsage`'s `details` object, as the old sidecar client built it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Details {
    pub reasoning_tokens: u64,
    pub prompt_tokens_details: PromptDetails,
    pub completion_tokens_details: CompletionDetails,
    pub prompt_tokens: u64,
    pub cache_write_tokens: u64,
    /// Of the writes, those kept for an hour (billed at twice the input rate by Anthropic).
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_write_1h_tokens: u64,
    /// What the request cost in USD at the model database's prices; absent when unpriced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Present (and true) only when the figures were counted locally, not reported.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PromptDetails {
    pub cached_tokens: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CompletionDetails {
    pub reasoning_tokens: u64,
}

/// The numeric arguments and the details of one `recordUsage` call.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Input billed at the full rate: prompt tokens less the cache reads.
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub details: Details,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The record of `u`, with its cost when the model is priced.
pub fn record_priced(u: &Usage, cost: Option<&crate::models::Cost>) -> Record {
    let mut r = record(u);
    r.details.cost_usd = cost.filter(|c| c.priced).map(|c| c.total);
    r
}

pub fn record(u: &Usage) -> Record {
    Record {
        input_tokens: u.billed_input_tokens(),
        output_tokens: u.completion_tokens,
        cached_tokens: u.cached_tokens,
        details: Details {
            reasoning_tokens: u.reasoning_tokens,
            prompt_tokens_details: PromptDetails { cached_tokens: u.cached_tokens },
            completion_tokens_details: CompletionDetails { reasoning_tokens: u.reasoning_tokens },
            prompt_tokens: u.prompt_tokens,
            cache_write_tokens: u.cache_write_tokens,
            cache_write_1h_tokens: u.cache_write_1h_tokens,
            cost_usd: None,
            estimated: u.estimated,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_reads_leave_the_input_figure_and_estimates_say_so() {
        let r = record(&Usage {
            prompt_tokens: 100,
            completion_tokens: 7,
            cached_tokens: 60,
            cache_write_tokens: 5,
            cache_write_1h_tokens: 0,
            reasoning_tokens: 3,
            estimated: false,
        });
        assert_eq!((r.input_tokens, r.output_tokens, r.cached_tokens), (40, 7, 60));
        let d = serde_json::to_value(&r.details).unwrap();
        assert_eq!(d["prompt_tokens_details"]["cached_tokens"], 60);
        assert!(d.get("estimated").is_none());
        let r = record(&Usage { estimated: true, cached_tokens: 9, prompt_tokens: 4, ..Default::default() });
        assert_eq!(r.input_tokens, 0, "never negative");
        assert_eq!(serde_json::to_value(&r.details).unwrap()["estimated"], true);
    }
}
