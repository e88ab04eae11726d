//! The standalone gateway: `llmux-server serve --config litellm_config.yaml [--host 127.0.0.1]
//! [--port 4000]`, for services that are not Node. Prints `llmux listening on http://HOST:PORT`
//! when ready; SIGTERM or SIGINT drain requests in progress, then exit.

use std::sync::Arc;

use llmux_core::engine::Engine;
use llmux_core::router::config::RouterConfig;

const USAGE: &str = "usage: llmux-server serve --config <litellm_config.yaml> [--host 127.0.0.1] [--port 4000] [--no-access-log]";

fn fail(msg: &str) -> ! {
    eprintln!("llmux-server: {msg}");
    std::process::exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("serve") {
        args.next();
    }
    let (mut config, mut host, mut port, mut access) = (None, "127.0.0.1".to_owned(), 4000u16, true);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().unwrap_or_else(|| fail(&format!("{name} needs a value\n{USAGE}")));
        match a.as_str() {
            "--config" | "-c" => config = Some(value("--config")),
            "--host" => host = value("--host"),
            "--port" | "-p" => port = value("--port").parse().unwrap_or_else(|_| fail("--port must be a number from 0 to 65535")),
            "--no-access-log" => access = false,
            "--help" | "-h" => {
                println!("{USAGE}");
                return;
            }
            other => fail(&format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let path = config.unwrap_or_else(|| fail(&format!("--config is required\n{USAGE}")));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| fail(&format!("cannot read {path}: {e}")));
    let value = RouterConfig::yaml_to_json(&text).unwrap_or_else(|e| fail(&format!("{path}: {}", e.message)));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap_or_else(|e| fail(&e.to_string()));
    rt.block_on(async move {
        let engine = Arc::new(Engine::new());
        let (router, gw, warnings) = llmux_server::from_config(engine, value).unwrap_or_else(|e| fail(&format!("{path}: {}", e.message)));
        for w in warnings {
            eprintln!("llmux-server: warning: {w}");
        }
        let log = if access { llmux_server::AccessLog::Stdout } else { llmux_server::AccessLog::Off };
        let served = llmux_server::serve(router, gw, &host, port, log).await.unwrap_or_else(|e| fail(&e.message));
        println!("llmux listening on {}", served.url());
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap_or_else(|e| fail(&e.to_string()));
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        served.close().await;
    });
}
