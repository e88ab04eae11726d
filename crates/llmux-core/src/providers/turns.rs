//! Building a provider's list of turns: Anthropic, Bedrock and Gemini all require roles to
//! alternate, so consecutive turns of one role are merged into one.

use serde_json::{json, Value};

/// Appends `items` as a turn of `role` (its items under `field`: "content" or "parts"), merged
/// into the previous turn when that has the same role. An empty turn is left out.
pub fn push_merged(turns: &mut Vec<Value>, role: &str, field: &str, items: Vec<Value>) {
    if items.is_empty() {
        return;
    }
    if let Some(last) = turns.last_mut() {
        if last["role"] == role {
            if let Some(arr) = last[field].as_array_mut() {
                arr.extend(items);
                return;
            }
        }
    }
    turns.push(json!({"role": role, field: items}));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_role_turns_merge_and_empty_ones_vanish() {
        let mut t = Vec::new();
        push_merged(&mut t, "user", "parts", vec![json!({"text": "a"})]);
        push_merged(&mut t, "user", "parts", vec![json!({"text": "b"})]);
        push_merged(&mut t, "model", "parts", vec![]);
        push_merged(&mut t, "model", "parts", vec![json!({"text": "c"})]);
        assert_eq!(
            t,
            vec![json!({"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}), json!({"role": "model", "parts": [{"text": "c"}]})]
        );
    }
}
