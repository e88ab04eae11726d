//! Token usage, normalised once for every provider. Serialised in the OpenAI shape.

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// Counts as OpenAI defines them, whatever the provider reported:
/// `prompt_tokens` includes cache reads and writes; `completion_tokens` includes reasoning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt tokens read from the provider's cache.
    pub cached_tokens: u64,
    /// Prompt tokens written to the provider's cache.
    pub cache_write_tokens: u64,
    /// Of those, tokens written for an hour (Anthropic's 1-hour TTL, billed at its own rate).
    pub cache_write_1h_tokens: u64,
    /// Output tokens spent on reasoning (part of `completion_tokens`).
    pub reasoning_tokens: u64,
    /// The counts were made locally (a cancelled or broken stream), not reported by the provider.
    pub estimated: bool,
}

impl Usage {
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }

    /// Prompt tokens billed at the full input rate: everything but cache reads.
    pub fn billed_input_tokens(&self) -> u64 {
        self.prompt_tokens.saturating_sub(self.cached_tokens)
    }

    /// Adds another's counts, saturating: counts come from upstreams and are not trusted.
    pub fn add(&mut self, u: &Usage) {
        self.prompt_tokens = self.prompt_tokens.saturating_add(u.prompt_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(u.completion_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(u.cached_tokens);
        self.cache_write_tokens = self.cache_write_tokens.saturating_add(u.cache_write_tokens);
        self.cache_write_1h_tokens = self.cache_write_1h_tokens.saturating_add(u.cache_write_1h_tokens);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(u.reasoning_tokens);
    }

    /// Adds one attempt's usage to a running total (several attempts, one bill).
    pub fn add_to(total: &mut Option<Usage>, u: Option<Usage>) {
        let Some(u) = u else { return };
        let t = total.get_or_insert_with(Usage::default);
        t.add(&u);
        t.estimated |= u.estimated;
    }
}

impl Serialize for Usage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct PromptDetails {
            cached_tokens: u64,
            #[serde(skip_serializing_if = "is_zero")]
            cache_write_tokens: u64,
            #[serde(skip_serializing_if = "is_zero")]
            cache_write_1h_tokens: u64,
        }
        #[derive(Serialize)]
        struct CompletionDetails {
            reasoning_tokens: u64,
        }
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("prompt_tokens", &self.prompt_tokens)?;
        m.serialize_entry("completion_tokens", &self.completion_tokens)?;
        m.serialize_entry("total_tokens", &self.total_tokens())?;
        m.serialize_entry(
            "prompt_tokens_details",
            &PromptDetails {
                cached_tokens: self.cached_tokens,
                cache_write_tokens: self.cache_write_tokens,
                cache_write_1h_tokens: self.cache_write_1h_tokens,
            },
        )?;
        m.serialize_entry("completion_tokens_details", &CompletionDetails { reasoning_tokens: self.reasoning_tokens })?;
        if self.estimated {
            m.serialize_entry("estimated", &true)?;
        }
        m.end()
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Reads the OpenAI wire shape; every detail is optional and may be `null`.
impl<'de> Deserialize<'de> for Usage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        struct PromptDetails {
            #[serde(default)]
            cached_tokens: Option<u64>,
            #[serde(default)]
            cache_write_tokens: Option<u64>,
            #[serde(default)]
            cache_write_1h_tokens: Option<u64>,
        }
        #[derive(Deserialize, Default)]
        struct CompletionDetails {
            #[serde(default)]
            reasoning_tokens: Option<u64>,
        }
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            prompt_tokens: Option<u64>,
            #[serde(default)]
            completion_tokens: Option<u64>,
            #[serde(default)]
            prompt_tokens_details: Option<PromptDetails>,
            #[serde(default)]
            completion_tokens_details: Option<CompletionDetails>,
            #[serde(default)]
            estimated: Option<bool>,
        }
        let w = Wire::deserialize(d)?;
        let p = w.prompt_tokens_details.unwrap_or_default();
        let c = w.completion_tokens_details.unwrap_or_default();
        Ok(Usage {
            prompt_tokens: w.prompt_tokens.unwrap_or(0),
            completion_tokens: w.completion_tokens.unwrap_or(0),
            cached_tokens: p.cached_tokens.unwrap_or(0),
            cache_write_tokens: p.cache_write_tokens.unwrap_or(0),
            cache_write_1h_tokens: p.cache_write_1h_tokens.unwrap_or(0),
            reasoning_tokens: c.reasoning_tokens.unwrap_or(0),
            estimated: w.estimated.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_shape_round_trips() {
        let u: Usage = serde_json::from_str(
            r#"{"prompt_tokens":4020,"completion_tokens":90,"total_tokens":4110,
               "prompt_tokens_details":{"cached_tokens":4012,"cache_write_tokens":0,"audio_tokens":0},
               "completion_tokens_details":{"reasoning_tokens":64,"audio_tokens":null}}"#,
        )
        .unwrap();
        assert_eq!(u.prompt_tokens, 4020);
        assert_eq!(u.cached_tokens, 4012);
        assert_eq!(u.reasoning_tokens, 64);
        assert_eq!(u.billed_input_tokens(), 8);
        let back: Usage = serde_json::from_str(&serde_json::to_string(&u).unwrap()).unwrap();
        assert_eq!(back, u);
    }

    #[test]
    fn null_details_read_as_zero() {
        let u: Usage = serde_json::from_str(r#"{"prompt_tokens":3,"completion_tokens":2,"prompt_tokens_details":null}"#).unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens, u.cached_tokens), (3, 2, 0));
    }
}
