//! Request bodies as real clients send them. A JSON object is the OpenAI request; a body that
//! is not JSON (or is `text/plain`) is one user message, with `model`, `temperature`, `stream`
//! and `max_tokens` from the query string; a message whose `content` is a JSON object (neither
//! a string nor parts) has it turned into its JSON text. Anything else malformed is a 400 that
//! names the field.

use serde_json::{json, Map, Value};

use llmux_core::error::{Error, ErrorKind, Result};

/// `a=1&b=x%20y` decoded (`+` is a space, as forms send it).
pub fn query(q: Option<&str>) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 3 <= b.len() => match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                },
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn bad(param: &str, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidRequest, message).with_param(param).with_status(400)
}

/// The chat request a body means (a JSON object).
pub fn chat_request(bytes: &[u8], content_type: Option<&str>, q: &[(String, String)]) -> Result<Value> {
    let ct = content_type.map(|c| c.trim_start().to_ascii_lowercase()).unwrap_or_default();
    let is_text = ct.starts_with("text/plain");
    let says_json = ct.starts_with("application/json") || ct.contains("+json");
    let parsed = if is_text { None } else { Some(serde_json::from_slice::<Value>(bytes)) };
    let mut v = match parsed {
        Some(Ok(Value::Object(m))) => Value::Object(m),
        Some(Ok(other)) if looks_like_json(bytes) => {
            return Err(bad("body", format!("the request body must be a JSON object, not {}", type_name(&other))));
        }
        // Said to be JSON and is not: where it breaks, rather than a guess that it was text.
        Some(Err(e)) if says_json => return Err(bad("body", format!("the request body is not valid JSON: {e}"))),
        _ => from_text(bytes, q)?,
    };
    let messages = v.get_mut("messages").ok_or_else(|| bad("messages", "messages is required"))?;
    let list = messages.as_array_mut().ok_or_else(|| bad("messages", "messages must be a list"))?;
    for (i, m) in list.iter_mut().enumerate() {
        let Some(m) = m.as_object_mut() else { return Err(bad(&format!("messages[{i}]"), format!("messages[{i}] must be an object"))) };
        if let Some(c @ Value::Object(_)) = m.get_mut("content") {
            // A client that sends an object where text belongs (a tool's result, a form) meant
            // that object as the text: it is sent as its JSON.
            *c = Value::String(c.to_string());
        }
    }
    Ok(v)
}

fn looks_like_json(bytes: &[u8]) -> bool {
    matches!(bytes.iter().find(|b| !b.is_ascii_whitespace()), Some(b'[' | b'"' | b'{') | Some(b'0'..=b'9'))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::Object(_) => "an object",
    }
}

/// A raw text body: one user message; the rest from the query string.
fn from_text(bytes: &[u8], q: &[(String, String)]) -> Result<Value> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad("body", "the request body is neither JSON nor UTF-8 text"))?;
    if text.trim().is_empty() {
        return Err(bad("body", "the request body is empty"));
    }
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let model = get("model").ok_or_else(|| bad("model", "a text body needs ?model= in the query string"))?;
    let mut m = Map::new();
    m.insert("model".into(), json!(model));
    m.insert("messages".into(), json!([{"role": "user", "content": text}]));
    if let Some(t) = get("temperature") {
        let n: f64 = t.parse().map_err(|_| bad("temperature", format!("temperature must be a number (got \"{t}\")")))?;
        m.insert("temperature".into(), json!(n));
    }
    if let Some(t) = get("max_tokens") {
        let n: u32 = t.parse().map_err(|_| bad("max_tokens", format!("max_tokens must be a whole number (got \"{t}\")")))?;
        m.insert("max_tokens".into(), json!(n));
    }
    if let Some(s) = get("stream") {
        let b = match s {
            "true" | "1" | "" => true,
            "false" | "0" => false,
            _ => return Err(bad("stream", format!("stream must be true or false (got \"{s}\")"))),
        };
        m.insert("stream".into(), json!(b));
    }
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_as_clients_send_them() {
        let q = query(Some("model=g&temperature=0.5&stream=true&max_tokens=7"));
        let v = chat_request(b"hello there", Some("text/plain; charset=utf-8"), &q).unwrap();
        assert_eq!(
            v,
            json!({"model": "g", "messages": [{"role": "user", "content": "hello there"}], "temperature": 0.5, "stream": true, "max_tokens": 7})
        );
        let v = chat_request(b"not json {", None, &q).unwrap();
        assert_eq!(v["messages"][0]["content"], "not json {");
        let v = chat_request(br#"{"model":"g","messages":[{"role":"user","content":{"city":"Paris"}}]}"#, Some("application/json"), &[])
            .unwrap();
        assert_eq!(v["messages"][0]["content"], r#"{"city":"Paris"}"#);
        let e = chat_request(b"hi", Some("text/plain"), &[]).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
        let e = chat_request(br#"{"model": "g", "messages": ["#, Some("application/json"), &[]).unwrap_err();
        assert!(e.message.contains("not valid JSON") && e.message.contains("column"), "{}", e.message);
        let e = chat_request(b"[1,2]", Some("application/json"), &[]).unwrap_err();
        assert!(e.message.contains("JSON object"), "{}", e.message);
        let e = chat_request(br#"{"model":"g"}"#, None, &[]).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages"));
        let e = chat_request(b"hi", None, &query(Some("model=g&temperature=hot"))).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("temperature"));
        assert_eq!(query(Some("a=x%20y+z&b")), vec![("a".into(), "x y z".into()), ("b".into(), "".into())]);
    }
}
