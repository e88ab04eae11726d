//! The response cache (moka): bounded in bytes, a TTL per entry, keyed by a SHA-256 of the user
//! and the normalised request, so two users never share an entry and no text is kept in a key.
//! Values are answers only: never a credential (call options are out of the request by then).

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;
use moka::Expiry;
use sha2::{Digest, Sha256};

use crate::chat::{ChatChunk, ChatCompletion, ChatRequest, Delta};

pub type CacheKey = [u8; 32];

/// A cached answer: the whole completion, and the chunks to replay it as a stream.
pub struct Cached {
    pub completion: ChatCompletion,
    pub chunks: Vec<ChatChunk>,
    ttl: Duration,
    bytes: u32,
}

struct PerEntryTtl;

impl Expiry<CacheKey, Arc<Cached>> for PerEntryTtl {
    fn expire_after_create(&self, _k: &CacheKey, v: &Arc<Cached>, _at: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
}

pub struct ResponseCache {
    inner: Cache<CacheKey, Arc<Cached>>,
}

/// SHA-256 of the user id and the request in its canonical JSON (fields in a fixed order,
/// `extra` sorted). `stream` is not part of it: a streamed answer serves a plain one and back.
pub fn key(user: Option<&str>, req: &ChatRequest) -> CacheKey {
    let mut h = Sha256::new();
    h.update(b"llmux-cache-v1\0");
    h.update(user.unwrap_or("").as_bytes());
    h.update([0u8]);
    // Serialising our own request type cannot fail.
    h.update(serde_json::to_vec(req).unwrap_or_default());
    h.finalize().into()
}

/// Chunks that replay a non-streamed answer as a stream.
fn chunks_of(c: &ChatCompletion) -> Vec<ChatChunk> {
    let mut out = Vec::new();
    for ch in &c.choices {
        let m = &ch.message;
        let mut delta = Delta {
            role: Some("assistant".into()),
            content: m.content.clone(),
            reasoning_content: m.reasoning_content.clone(),
            thinking_blocks: m.thinking_blocks.clone(),
            ..Default::default()
        };
        if let Some(calls) = &m.tool_calls {
            delta.tool_calls = Some(
                calls
                    .iter()
                    .enumerate()
                    .map(|(i, t)| crate::chat::ToolCallDelta {
                        index: i as u32,
                        id: Some(t.id.clone()),
                        kind: Some("function".into()),
                        function: Some(crate::chat::FunctionDelta {
                            name: Some(t.function.name.clone()),
                            arguments: Some(t.function.arguments.clone()),
                        }),
                    })
                    .collect(),
            );
        }
        let mut chunk = ChatChunk::with_delta(&c.id, &c.model, c.created, delta, ch.finish_reason.clone());
        chunk.choices[0].index = ch.index;
        out.push(chunk);
    }
    out
}

impl ResponseCache {
    pub fn new(max_bytes: u64) -> Self {
        ResponseCache {
            inner: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_k: &CacheKey, v: &Arc<Cached>| v.bytes)
                .expire_after(PerEntryTtl)
                .build(),
        }
    }

    pub fn get(&self, key: &CacheKey) -> Option<Arc<Cached>> {
        self.inner.get(key)
    }

    pub fn insert(&self, key: CacheKey, entry: Arc<Cached>) {
        self.inner.insert(key, entry);
    }

    /// Stores an answer (with the chunks it streamed as, if it was streamed).
    pub fn put(&self, key: CacheKey, completion: ChatCompletion, streamed: Option<Vec<ChatChunk>>, ttl: Duration) {
        self.inner.insert(key, Arc::new(Cached::new(completion, streamed, ttl)));
    }
}

impl Cached {
    /// An answer to cache, with the chunks it streamed as (or chunks that replay it).
    pub fn new(completion: ChatCompletion, streamed: Option<Vec<ChatChunk>>, ttl: Duration) -> Cached {
        let chunks = streamed.unwrap_or_else(|| chunks_of(&completion));
        let bytes = serde_json::to_vec(&completion).map(|v| v.len()).unwrap_or(0) + chunks.len() * 128;
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        Cached { completion, chunks, ttl, bytes }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The bytes a shared cache keeps: the answer and its chunks, as JSON.
    pub fn encode(&self) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Stored<'a> {
            completion: &'a ChatCompletion,
            chunks: &'a [ChatChunk],
        }
        serde_json::to_vec(&Stored { completion: &self.completion, chunks: &self.chunks }).unwrap_or_default()
    }

    /// An entry read back from a shared cache; `None` for bytes that are not one (a key another
    /// version wrote, or damage): a miss, never an error.
    pub fn decode(bytes: &[u8], ttl: Duration) -> Option<Cached> {
        #[derive(serde::Deserialize)]
        struct Stored {
            completion: ChatCompletion,
            chunks: Vec<ChatChunk>,
        }
        let s: Stored = serde_json::from_slice(bytes).ok()?;
        Some(Cached { completion: s.completion, chunks: s.chunks, ttl, bytes: u32::try_from(bytes.len()).unwrap_or(u32::MAX) })
    }
}

/// A cached embedding: one input's vector.
pub struct CachedVector {
    pub values: Arc<[f32]>,
    ttl: Duration,
}

struct VectorTtl;

impl Expiry<CacheKey, Arc<CachedVector>> for VectorTtl {
    fn expire_after_create(&self, _k: &CacheKey, v: &Arc<CachedVector>, _at: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
}

/// Embeddings cached one input at a time (a chunk embedded once is never paid for again),
/// bounded in bytes.
pub struct VectorCache {
    inner: Cache<CacheKey, Arc<CachedVector>>,
}

impl VectorCache {
    pub fn new(max_bytes: u64) -> Self {
        let inner = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_k: &CacheKey, v: &Arc<CachedVector>| (v.values.len() * 4 + 64).min(u32::MAX as usize) as u32)
            .expire_after(VectorTtl)
            .build();
        VectorCache { inner }
    }

    pub fn get(&self, key: &CacheKey) -> Option<Arc<[f32]>> {
        self.inner.get(key).map(|c| c.values.clone())
    }

    pub fn put(&self, key: CacheKey, values: Arc<[f32]>, ttl: Duration) {
        self.inner.insert(key, Arc::new(CachedVector { values, ttl }));
    }
}

/// The key of one input's vector: SHA-256 of the user, the model group, what shapes the vector
/// (dimensions, input type) and the input, so two users never share one and no text is kept.
pub fn embedding_key(
    user: Option<&str>,
    group: &str,
    dims: Option<u32>,
    input_type: Option<&str>,
    item: crate::embed::Item<'_>,
) -> CacheKey {
    let mut h = Sha256::new();
    h.update(b"llmux-embedding-v1\0");
    for part in [user.unwrap_or(""), group, input_type.unwrap_or("")] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.update(dims.unwrap_or(0).to_le_bytes());
    match item {
        crate::embed::Item::Text(t) => {
            h.update([b't']);
            h.update(t.as_bytes());
        }
        crate::embed::Item::Tokens(t) => {
            h.update([b'k']);
            for x in t {
                h.update(x.to_le_bytes());
            }
        }
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::StreamAccumulator;

    fn request(text: &str) -> ChatRequest {
        ChatRequest::from_json(&serde_json::json!({"model": "g", "messages": [{"role": "user", "content": text}]}).to_string()).unwrap()
    }

    fn answer(text: &str) -> ChatCompletion {
        let mut c = StreamAccumulator::default().into_completion();
        c.choices[0].message.content = Some(text.to_owned());
        c
    }

    #[test]
    fn two_users_never_see_each_others_entries() {
        let cache = ResponseCache::new(64 << 20);
        let mut entries = Vec::new();
        for _ in 0..500 {
            let user = format!("user-{}", fastrand::u8(..20));
            let text = format!("question {}", fastrand::u8(..30));
            let k = key(Some(&user), &request(&text));
            cache.put(k, answer(&format!("{user}:{text}")), None, Duration::from_secs(60));
            entries.push((user, text));
        }
        for (user, text) in &entries {
            let hit = cache.get(&key(Some(user), &request(text))).expect("own entry");
            assert_eq!(hit.completion.text(), format!("{user}:{text}"));
            let other = format!("{user}-other");
            assert!(cache.get(&key(Some(&other), &request(text))).is_none(), "another user must miss");
            assert!(cache.get(&key(None, &request(text))).is_none(), "an anonymous caller must miss");
        }
    }

    #[test]
    fn entries_expire_and_the_byte_bound_holds() {
        let cache = ResponseCache::new(64 << 20);
        let k = key(None, &request("a"));
        // A TTL long enough that a descheduled test thread still reads before it passes.
        cache.put(k, answer("x"), None, Duration::from_millis(1000));
        assert!(cache.get(&k).is_some());
        std::thread::sleep(Duration::from_millis(1100));
        assert!(cache.get(&k).is_none());
        let small = ResponseCache::new(10_000);
        for i in 0..200 {
            small.put(key(None, &request(&i.to_string())), answer(&"y".repeat(500)), None, Duration::from_secs(60));
        }
        small.inner.run_pending_tasks();
        assert!(small.inner.weighted_size() <= 10_000, "{}", small.inner.weighted_size());
    }

    #[test]
    fn a_plain_answer_replays_as_chunks() {
        let c = answer("hello");
        let chunks = chunks_of(&c);
        let mut acc = StreamAccumulator::default();
        chunks.iter().for_each(|ch| acc.push(ch));
        assert_eq!(acc.text(), "hello");
    }
}
