//! Two engines in one process keep their own secrets and timeouts: a loopback OpenAI-shaped
//! server records the key each request carries and answers slowly, and each engine's calls show
//! only that engine's key and deadline.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use llmux_core::call::{run_to_end, Call};
use llmux_core::chat::ChatRequest;
use llmux_core::engine::{Engine, Timeouts};
use llmux_core::error::ErrorKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const ANSWER: &str = r#"{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;

/// Serves every connection after `delay`, recording each request's Authorization header.
async fn server(delay: Duration) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then as many body bytes as content-length says.
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            let auth =
                                text[..end].lines().find(|l| l.to_ascii_lowercase().starts_with("authorization:")).unwrap_or("").to_owned();
                            log.lock().unwrap().push(auth);
                            break;
                        }
                    }
                }
                tokio::time::sleep(delay).await;
                let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{ANSWER}", ANSWER.len());
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    (url, seen)
}

fn request() -> ChatRequest {
    ChatRequest::from_json(r#"{"model":"openai/m","messages":[{"role":"user","content":"hello"}]}"#).unwrap()
}

#[tokio::test]
async fn two_engines_do_not_see_each_others_secrets_or_timeouts() {
    let (url, seen) = server(Duration::from_millis(300)).await;
    let a = Engine::isolated();
    a.set_secrets([("OPENAI_API_KEY".to_owned(), "key-a".to_owned()), ("OPENAI_BASE_URL".to_owned(), url.clone())].into());
    a.set_timeouts(Timeouts { total: Duration::from_millis(100), first_byte: Duration::from_millis(100), ..Timeouts::DEFAULT });
    let b = Engine::isolated();
    b.set_secrets([("OPENAI_API_KEY".to_owned(), "key-b".to_owned()), ("OPENAI_BASE_URL".to_owned(), url.clone())].into());

    let (_, out_a) = run_to_end(Call::prepare(&a, request()).unwrap(), false, CancellationToken::new()).await;
    let (_, out_b) = run_to_end(Call::prepare(&b, request()).unwrap(), false, CancellationToken::new()).await;
    assert_eq!(out_a.error.as_ref().map(|e| e.kind), Some(ErrorKind::Timeout), "engine a's 100 ms deadline");
    assert!(out_b.error.is_none(), "engine b keeps the default timeouts: {:?}", out_b.error);
    assert_eq!(out_b.completion.text(), "hi");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, vec!["authorization: Bearer key-a".to_owned(), "authorization: Bearer key-b".to_owned()]);

    // A third engine with neither key set has none to send: it refuses before any request.
    let c = Engine::isolated();
    c.set_secrets([("OPENAI_BASE_URL".to_owned(), "https://api.openai.com/v1".to_owned())].into());
    assert_eq!(Call::prepare(&c, request()).unwrap_err().kind, ErrorKind::Auth);
}
