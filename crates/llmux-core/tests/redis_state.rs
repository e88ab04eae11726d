//! The shared state against a real `redis-server` (started here on a free loopback port, so it
//! can be killed and restarted): two `RedisState`s stand for two instances. Without
//! `redis-server` on the PATH every test says it skipped, unless LLMUX_REQUIRE_REDIS=1 (CI),
//! where that is a failure.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use llmux_core::cache::Cached;
use llmux_core::chat::{ChatCompletion, Usage};
use llmux_core::router::config::UserLimits;
use llmux_core::router::ledger::Record;
use llmux_core::state::{Admission, DeploymentLimits, Finish, RedisConfig, RedisState, Refusal, RouterState, Subject};

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start_on(port: u16) -> Server {
        Server::spawn(None, port, &["--port", &port.to_string()])
    }

    /// A redis-server listening (plainly or by TLS, as `args` say) on `port`, run in `dir`; it
    /// returns once the port takes connections.
    fn spawn(dir: Option<&std::path::Path>, port: u16, args: &[&str]) -> Server {
        let mut cmd = Command::new("redis-server");
        if let Some(d) = dir {
            cmd.current_dir(d);
        }
        let child = cmd
            .args(args)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let s = Server { child, port };
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(10), "redis-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh server, or `None` (said aloud) when this machine has no redis-server.
fn server() -> Option<Server> {
    let found = Command::new("redis-server").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var("LLMUX_REQUIRE_REDIS").is_err(), "LLMUX_REQUIRE_REDIS is set but redis-server is not on the PATH");
        eprintln!("SKIPPED: redis-server is not installed (apt install redis-server)");
        return None;
    }
    Some(Server::start_on(free_port()))
}

/// A state at `url`; the deadline is generous, so a loaded machine never makes a test fall back.
fn state(url: &str, ns: &str) -> Arc<RedisState> {
    let mut cfg = RedisConfig::at(url, ns);
    cfg.timeout = Duration::from_millis(500);
    Arc::new(RedisState::new(cfg, 1 << 20))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn user(key: &str, limits: UserLimits) -> Vec<Subject> {
    vec![Subject { key: key.into(), limits }]
}

fn ask<'a>(subjects: &'a [Subject], reserve: f64) -> Admission<'a> {
    Admission { subjects, tokens: 10, reserve, cache: None, candidates: &[] }
}

#[test]
fn a_rate_limit_holds_across_instances() {
    let Some(srv) = server() else { return };
    rt().block_on(async {
        let (a, b) = (state(&srv.url(), "t1"), state(&srv.url(), "t1"));
        let subjects = user("alice", UserLimits { rpm: Some(20), ..Default::default() });
        let mut tasks = Vec::new();
        for i in 0..60 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            let subjects = subjects.clone();
            tasks.push(tokio::spawn(async move {
                let r = s.admit(ask(&subjects, 0.0)).await;
                (r.as_ref().map(|a| a.warning.is_none()).unwrap_or(true), r.is_ok())
            }));
        }
        let mut admitted = 0;
        for t in tasks {
            let (shared, ok) = t.await.unwrap();
            assert!(shared, "answered by Redis, not a fallback");
            admitted += usize::from(ok);
        }
        assert_eq!(admitted, 20, "20 rpm across two instances admits 20");
        let e = a.admit(ask(&subjects, 0.0)).await.err().unwrap();
        assert!(e.message.contains("requests-per-minute") && e.retry_after.is_some(), "{}", e.message);
        // Another user and another namespace have their own.
        assert!(a.admit(ask(&user("bob", UserLimits { rpm: Some(20), ..Default::default() }), 0.0)).await.is_ok());
        assert!(state(&srv.url(), "t2").admit(ask(&subjects, 0.0)).await.is_ok());
    });
}

#[test]
fn a_budget_counts_what_is_in_flight_and_settles_at_the_real_cost() {
    let Some(srv) = server() else { return };
    rt().block_on(async {
        let (a, b) = (state(&srv.url(), "b"), state(&srv.url(), "b"));
        let subjects =
            user("u", UserLimits { budget_usd: Some(1.0), budget_duration: Some(Duration::from_secs(3600)), ..Default::default() });
        let spend = vec![("u".to_owned(), Some(Duration::from_secs(3600)))];
        let t1 = a.admit(ask(&subjects, 0.4)).await.unwrap().ticket;
        let t2 = b.admit(ask(&subjects, 0.4)).await.unwrap().ticket;
        let t3 = a.admit(ask(&subjects, 0.4)).await.unwrap().ticket;
        assert!(t1.shared && t1.reserved == 0.4);
        let e = b.admit(ask(&subjects, 0.4)).await.err().expect("1.2 reserved of 1.0");
        assert!(e.message.contains("reserved by requests in flight") && !e.retryable, "{}", e.message);
        for (s, t) in [(&a, t1), (&b, t2)] {
            s.finish(Finish { ticket: t, cost: 0.05, spend: spend.clone(), ..Default::default() }).await;
        }
        assert!(b.admit(ask(&subjects, 0.4)).await.is_ok(), "settled at 0.05 each: room again");
        a.finish(Finish { ticket: t3, cost: 0.95, spend: spend.clone(), ..Default::default() }).await;
        let e = b.admit(ask(&subjects, 0.0)).await.err().expect("spent 1.05 of 1.0");
        assert!(e.message.contains("spent its budget"), "{}", e.message);
        // A restart of an instance forgets nothing: the total is in Redis.
        let c = state(&srv.url(), "b");
        assert!(c.admit(ask(&subjects, 0.0)).await.is_err());
        // A window that ends starts the spend again from nothing, by the server's clock.
        // Long enough that a loaded machine still asks again within it.
        let window = Some(Duration::from_millis(1500));
        let short = user("w", UserLimits { budget_usd: Some(1.0), budget_duration: window, ..Default::default() });
        let t = a.admit(ask(&short, 0.0)).await.unwrap().ticket;
        a.finish(Finish { ticket: t, cost: 1.5, spend: vec![("w".into(), window)], ..Default::default() }).await;
        assert!(b.admit(ask(&short, 0.0)).await.is_err());
        tokio::time::sleep(Duration::from_millis(1600)).await;
        assert!(b.admit(ask(&short, 0.0)).await.is_ok(), "a new window");
    });
}

#[test]
fn a_cooldown_set_by_one_instance_is_seen_by_the_others() {
    let Some(srv) = server() else { return };
    rt().block_on(async {
        let (a, b) = (state(&srv.url(), "c"), state(&srv.url(), "c"));
        let none = DeploymentLimits::default();
        assert_eq!(b.admit_deployment(&[("d1", none), ("d2", none)], 1).await, Ok(0));
        assert!(!a.record_failure("d1", 2, Duration::from_secs(30)).await);
        assert!(a.record_failure("d1", 2, Duration::from_secs(30)).await, "the second failure cools it");
        let t0 = Instant::now();
        assert_eq!(b.admit_deployment(&[("d1", none), ("d2", none)], 1).await, Ok(1), "the other instance skips it at once");
        assert!(t0.elapsed() < Duration::from_secs(1));
        match b.admit_deployment(&[("d1", none)], 1).await {
            Err(r) => assert!(matches!(r[..], [Refusal::Cooling(w)] if w > Duration::from_secs(25))),
            Ok(_) => panic!("d1 is cooling"),
        }
        let subjects: Vec<Subject> = Vec::new();
        let a2 = Admission { subjects: &subjects, tokens: 1, reserve: 0.0, cache: None, candidates: &[("d2", none)] };
        b.admit(a2).await.unwrap();
        assert!(b.cooling_for("d1").is_some(), "the admission's reply mirrors the cooldowns for health reports");
        // Deployment limits are shared too.
        let one = DeploymentLimits { rpm: Some(1), tpm: None };
        assert_eq!(a.admit_deployment(&[("d3", one)], 1).await, Ok(0));
        assert!(b.admit_deployment(&[("d3", one)], 1).await.is_err());
    });
}

fn answer(text: &str) -> ChatCompletion {
    serde_json::from_value(serde_json::json!({
        "id": "x", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]
    }))
    .unwrap()
}

#[test]
fn the_cache_is_shared_per_user_with_a_ttl_and_a_size_limit() {
    let Some(srv) = server() else { return };
    rt().block_on(async {
        let (a, b) = (state(&srv.url(), "k"), state(&srv.url(), "k"));
        let req: llmux_core::chat::ChatRequest =
            serde_json::from_value(serde_json::json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]})).unwrap();
        let (ka, kb) = (llmux_core::cache::key(Some("alice"), &req), llmux_core::cache::key(Some("bob"), &req));
        let entry = Arc::new(Cached::new(answer("cached for alice"), None, Duration::from_millis(1500)));
        a.finish(Finish { cache: Some((ka, entry)), ..Default::default() }).await;
        let none: Vec<Subject> = Vec::new();
        let look = |k| Admission { subjects: &none, tokens: 0, reserve: 0.0, cache: Some(k), candidates: &[] };
        let hit = b.admit(look(&ka)).await.unwrap().cached.expect("a hit in the other instance");
        assert_eq!(hit.completion.choices[0].message.content.as_deref(), Some("cached for alice"));
        assert!(!hit.chunks.is_empty(), "chunks to replay as a stream");
        assert!(b.admit(look(&kb)).await.unwrap().cached.is_none(), "another user: a miss");
        tokio::time::sleep(Duration::from_millis(1600)).await;
        assert!(b.admit(look(&ka)).await.unwrap().cached.is_none(), "expired");
        // An entry over redis_max_item_bytes stays out of Redis.
        let mut cfg = RedisConfig::at(&srv.url(), "k");
        cfg.max_item_bytes = 64;
        let small = RedisState::new(cfg, 1 << 20);
        small
            .finish(Finish { cache: Some((ka, Arc::new(Cached::new(answer("big"), None, Duration::from_secs(60))))), ..Default::default() })
            .await;
        assert!(b.admit(look(&ka)).await.unwrap().cached.is_none());
    });
}

#[test]
fn usage_and_metrics_are_every_instances() {
    let Some(srv) = server() else { return };
    rt().block_on(async {
        let (a, b) = (state(&srv.url(), "u"), state(&srv.url(), "u"));
        let t0 = llmux_core::state::redis::unix_ms() as f64 / 1000.0 - 1.0;
        for (s, who) in [(&a, "alice"), (&b, "bob"), (&b, "alice")] {
            let usage = Usage { prompt_tokens: 10, completion_tokens: 5, ..Default::default() };
            let metrics = vec![("req\u{1f}g\u{1f}g#1".to_owned(), 1.0)];
            s.finish(Finish { record: Some(Record::new("g", Some(who), usage, 0.25)), metrics, ..Default::default() }).await;
        }
        let records = a.records_since(t0).await.unwrap();
        assert_eq!(records.len(), 3);
        let v = llmux_core::router::ledger::summarise(records.iter(), t0);
        assert_eq!(v["by_user"]["alice"]["requests"], 2);
        assert_eq!(v["total"]["prompt_tokens"], 30);
        assert!((v["total"]["cost_usd"].as_f64().unwrap() - 0.75).abs() < 1e-9);
        let fields = b.metric_fields().await.unwrap();
        assert_eq!(fields, vec![("req\u{1f}g\u{1f}g#1".to_owned(), 3.0)]);
    });
}

#[test]
fn redis_down_is_served_locally_and_recovers_by_itself() {
    let Some(mut srv) = server() else { return };
    rt().block_on(async {
        let a = state(&srv.url(), "f");
        let subjects = user("u", UserLimits { rpm: Some(1000), budget_usd: Some(10.0), ..Default::default() });
        let spend = vec![("u".to_owned(), None)];
        assert!(a.admit(ask(&subjects, 0.1)).await.unwrap().warning.is_none());
        srv.stop();
        let t0 = Instant::now();
        let admitted = a.admit(ask(&subjects, 0.1)).await.expect("served with local state");
        assert!(t0.elapsed() < Duration::from_millis(1500), "{:?}", t0.elapsed());
        let w = admitted.warning.expect("said on the answer");
        assert!(w.contains("unavailable") && w.contains("127.0.0.1"), "{w}");
        // While paused, no time is spent on Redis at all.
        let t0 = Instant::now();
        for _ in 0..100 {
            a.admit(ask(&subjects, 0.0)).await.unwrap();
        }
        assert!(t0.elapsed() < Duration::from_millis(1000), "{:?}", t0.elapsed());
        a.finish(Finish { ticket: admitted.ticket, cost: 1.5, spend: spend.clone(), ..Default::default() }).await;
        assert_eq!(a.backlog_len(), 1, "kept to write when Redis is back");
        let mut text = String::new();
        a.render_own_metrics(&mut text);
        // One failure, or more if the pause ended during the loop above on a slow machine.
        assert!(text.lines().any(|l| l.strip_prefix("llmux_redis_errors_total{op=\"admit\"} ").is_some_and(|n| n != "0")), "{text}");
        // Back on the same port: the connection recovers by itself, the backlog is written.
        let srv2 = Server::start_on(srv.port);
        let t0 = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let r = a.admit(ask(&subjects, 0.0)).await.unwrap();
            if r.warning.is_none() {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "did not recover");
        }
        a.finish(Finish { spend: spend.clone(), ..Default::default() }).await;
        assert_eq!(a.backlog_len(), 0);
        let b = state(&srv2.url(), "f");
        let tight = user("u", UserLimits { budget_usd: Some(1.0), ..Default::default() });
        assert!(b.admit(ask(&tight, 0.0)).await.is_err(), "the spend made while Redis was down reached it");
    });
}

#[test]
fn budgets_can_fail_closed() {
    let Some(mut srv) = server() else { return };
    rt().block_on(async {
        let mut cfg = RedisConfig::at(&srv.url(), "fc");
        cfg.fail_closed = true;
        let a = RedisState::new(cfg, 1 << 20);
        let budget = user("u", UserLimits { budget_usd: Some(1.0), ..Default::default() });
        let rpm = user("u", UserLimits { rpm: Some(5), ..Default::default() });
        srv.stop();
        let e = a.admit(ask(&budget, 0.0)).await.err().expect("refused");
        assert!(e.message.contains("fail closed") && e.retryable, "{}", e.message);
        assert!(a.admit(ask(&rpm, 0.0)).await.is_ok(), "limits without a budget go on locally");
    });
}

/// Three cluster nodes in a temporary directory, their slots assigned by `redis-cli --cluster`.
struct Cluster {
    nodes: Vec<Server>,
    _dir: std::path::PathBuf,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        let _probe = server()?;
        let dir = std::env::temp_dir().join(format!("llmux-cluster-{}-{}", std::process::id(), free_port()));
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let d = dir.join(port.to_string());
            std::fs::create_dir_all(&d).unwrap();
            let p = port.to_string();
            nodes.push(Server::spawn(Some(&d), port, &["--port", &p, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]));
        }
        let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let ok = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "redis-cli --cluster create");
        // The slots are assigned; the nodes still have to agree (gossip) before the cluster
        // takes commands everywhere.
        let t0 = Instant::now();
        for n in &nodes {
            loop {
                let out = Command::new("redis-cli").args(["-p", &n.port.to_string(), "cluster", "info"]).output().expect("redis-cli runs");
                if String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok") {
                    break;
                }
                assert!(t0.elapsed() < Duration::from_secs(20), "the cluster did not converge");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(Cluster { nodes, _dir: dir })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.stop();
        }
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

#[test]
fn a_redis_cluster_takes_every_script_without_crossslot() {
    let Some(cluster) = Cluster::start() else { return };
    rt().block_on(async {
        let mut cfg = RedisConfig::at(&format!("redis://127.0.0.1:{}", cluster.nodes[0].port), "cl");
        cfg.nodes = cluster.nodes.iter().map(|n| format!("redis://127.0.0.1:{}", n.port)).collect();
        cfg.cluster = true;
        // A loaded two-core machine: the point here is CROSSSLOT, not latency.
        cfg.timeout = Duration::from_secs(3);
        let (a, b) = (RedisState::new(cfg.clone(), 1 << 20), RedisState::new(cfg, 1 << 20));
        let limits =
            UserLimits { rpm: Some(100), tpm: Some(100_000), budget_usd: Some(5.0), budget_duration: Some(Duration::from_secs(60)) };
        // The router, a tag and a user in one admission, with the cache and two deployments:
        // keys of many kinds in one script.
        let subjects = vec![
            Subject { key: llmux_core::state::GLOBAL_KEY.into(), limits: limits.clone() },
            Subject { key: llmux_core::state::tag_key("search"), limits: limits.clone() },
            Subject { key: "alice".into(), limits },
        ];
        let req: llmux_core::chat::ChatRequest =
            serde_json::from_value(serde_json::json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]})).unwrap();
        let key = llmux_core::cache::key(Some("alice"), &req);
        let lim = DeploymentLimits { rpm: Some(10), tpm: Some(10_000) };
        let admission =
            Admission { subjects: &subjects, tokens: 10, reserve: 0.5, cache: Some(&key), candidates: &[("g#1", lim), ("g#2", lim)] };
        let admitted = a.admit(admission).await.unwrap();
        assert!(admitted.warning.is_none(), "{:?}", admitted.warning);
        assert_eq!(admitted.deployment, Some(Ok(0)));
        assert!(admitted.ticket.shared);
        let spend: Vec<(String, Option<Duration>)> = subjects.iter().map(|s| (s.key.clone(), Some(Duration::from_secs(60)))).collect();
        let record = Record::new("g", Some("alice"), Usage { prompt_tokens: 10, completion_tokens: 2, ..Default::default() }, 0.01);
        let entry = Arc::new(Cached::new(answer("from the cluster"), None, Duration::from_secs(60)));
        let f = Finish {
            ticket: admitted.ticket,
            cost: 0.01,
            spend,
            record: Some(record),
            cache: Some((key, entry)),
            metrics: vec![("req\u{1f}g\u{1f}g#1".to_owned(), 1.0)],
        };
        b.finish(f).await;
        assert_eq!(b.backlog_len(), 0, "the settlement was written");
        let again = Admission { subjects: &subjects, tokens: 10, reserve: 0.5, cache: Some(&key), candidates: &[] };
        let hit = b.admit(again).await.unwrap();
        assert!(hit.warning.is_none() && hit.cached.is_some(), "a hit through the cluster");
        assert!(a.record_failure("g#1", 1, Duration::from_secs(30)).await);
        assert_eq!(b.admit_deployment(&[("g#1", lim), ("g#2", lim)], 1).await, Ok(1));
        b.vectors_put(vec![(key, Arc::from(vec![1.0f32, 2.0]))], Duration::from_secs(60)).await;
        let got = a.vectors_get(&[key, [7u8; 32]]).await;
        assert_eq!(got[0].as_deref(), Some(&[1.0f32, 2.0][..]));
        assert!(got[1].is_none());
        assert_eq!(a.records_since(0.0).await.map(|r| r.len()), Some(1));
        assert!(a.metric_fields().await.is_some());
        let mut text = String::new();
        a.render_own_metrics(&mut text);
        let errors = text.lines().filter(|l| l.starts_with("llmux_redis_errors_total{") && !l.ends_with(" 0")).count();
        assert_eq!(errors, 0, "no command failed (a CROSSSLOT would have): {text}");
    });
}

/// A private CA and a certificate for 127.0.0.1 signed by it, made by the openssl CLI.
fn certificates(dir: &std::path::Path) -> Option<()> {
    let run = |args: &[&str]| Command::new("openssl").current_dir(dir).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if run(&["version"]).is_err() {
        eprintln!("SKIPPED: the TLS test needs the openssl CLI");
        return None;
    }
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    for args in [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=llmux test CA",
        ][..],
        &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    ] {
        assert!(run(args).is_ok_and(|s| s.success()), "openssl {args:?}");
    }
    Some(())
}

#[test]
fn rediss_with_a_private_ca() {
    let Some(_probe) = server() else { return };
    let dir = std::env::temp_dir().join(format!("llmux-tls-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    if certificates(&dir).is_none() {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let tls = ["--port", "0", "--tls-port", &p, "--tls-cert-file", "server.pem", "--tls-key-file", "server.key"];
    let _srv = Server::spawn(Some(&dir), port, &[&tls[..], &["--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no"]].concat());
    rt().block_on(async {
        let url = format!("rediss://127.0.0.1:{port}");
        let subjects = user("u", UserLimits { rpm: Some(10), ..Default::default() });
        let mut cfg = RedisConfig::at(&url, "tls");
        cfg.ca_certs = Some(std::fs::read(dir.join("ca.pem")).unwrap());
        cfg.timeout = Duration::from_millis(500);
        let trusted = RedisState::new(cfg, 1 << 20);
        let a = trusted.admit(ask(&subjects, 0.0)).await.unwrap();
        assert!(a.warning.is_none(), "TLS with the private CA: {:?}", a.warning);
        // The public roots do not know this CA: the certificate is refused, and the request is
        // served locally, saying so.
        let untrusted = RedisState::new(RedisConfig::at(&url, "tls"), 1 << 20);
        let a = untrusted.admit(ask(&subjects, 0.0)).await.unwrap();
        assert!(a.warning.is_some_and(|w| w.contains("unavailable")));
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_hung_redis_costs_a_timeout_then_local_state_until_it_answers_again() {
    let Some(srv) = server() else { return };
    rt().block_on(async {
        let a = RedisState::new(RedisConfig::at(&srv.url(), "hung"), 1 << 20);
        let subjects = user("u", UserLimits { rpm: Some(1000), ..Default::default() });
        // The default 50 ms deadline is the point of this test; the first admission (connect,
        // load the script) may miss it on a loaded machine, so it is tried until Redis answers.
        let t0 = Instant::now();
        while a.admit(ask(&subjects, 0.0)).await.unwrap().warning.is_some() {
            assert!(t0.elapsed() < Duration::from_secs(10), "Redis never answered within 50 ms");
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
        let pid = srv.child.id().to_string();
        assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
        let t0 = Instant::now();
        let r = a.admit(ask(&subjects, 0.0)).await.unwrap();
        let took = t0.elapsed();
        assert!(r.warning.as_deref().is_some_and(|w| w.contains("no answer within 50 ms")), "{:?}", r.warning);
        assert!(took >= Duration::from_millis(45) && took < Duration::from_secs(1), "{took:?}");
        // Paused: the next requests do not wait on it.
        let t0 = Instant::now();
        for _ in 0..50 {
            assert!(a.admit(ask(&subjects, 0.0)).await.unwrap().warning.is_some());
        }
        assert!(t0.elapsed() < Duration::from_millis(500), "{:?}", t0.elapsed());
        assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
        let t0 = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if a.admit(ask(&subjects, 0.0)).await.unwrap().warning.is_none() {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "did not come back");
        }
    });
}
