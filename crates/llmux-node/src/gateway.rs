//! `serve()`'s native half: starts the gateway (`llmux-server`) on the addon's runtime, from a
//! LiteLLM proxy config or over an existing router, and stops it.

use std::sync::Arc;

use napi_derive::napi;

use crate::router::RouterHandle;
use llmux_server::{AccessLog, Served};

#[napi]
pub struct GatewayHandle {
    served: Arc<Served>,
    url: String,
    port: u32,
    warnings: Vec<String>,
}

#[napi]
impl GatewayHandle {
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.port
    }

    #[napi(getter)]
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    /// Stops accepting, lets requests in progress finish (the configured grace), then ends.
    #[napi]
    pub async fn close(&self) {
        self.served.close().await;
    }
}

fn handle(served: Served, warnings: Vec<String>) -> GatewayHandle {
    GatewayHandle { url: served.url(), port: u32::from(served.local_addr.port()), served: Arc::new(served), warnings }
}

fn log(access_log: bool) -> AccessLog {
    if access_log {
        AccessLog::Stdout
    } else {
        AccessLog::Off
    }
}

fn port(p: u32) -> napi::Result<u16> {
    u16::try_from(p).map_err(|_| napi::Error::from_reason(format!("port must be from 0 to 65535 (got {p})")))
}

/// Serves a LiteLLM proxy config (JSON): its own router, its `general_settings` keys.
#[napi]
pub async fn serve_config(config_json: String, host: String, port_number: u32, access_log: bool) -> napi::Result<GatewayHandle> {
    let value = crate::api::parse_json("config", &config_json).map_err(|e| napi::Error::from_reason(e.message))?;
    let (router, gw, warnings) =
        llmux_server::from_config(crate::engine().clone(), value).map_err(|e| napi::Error::from_reason(e.message))?;
    let served = llmux_server::serve(router, gw, &host, port(port_number)?, log(access_log))
        .await
        .map_err(|e| napi::Error::from_reason(e.message))?;
    Ok(handle(served, warnings))
}

#[napi]
impl RouterHandle {
    /// Serves this router (its state, its cache, its metrics) with the given `general_settings`.
    #[napi]
    pub async fn serve(
        &self,
        general_settings_json: String,
        host: String,
        port_number: u32,
        access_log: bool,
    ) -> napi::Result<GatewayHandle> {
        let mut config = serde_json::json!({ "general_settings": crate::api::parse_json("general_settings", &general_settings_json).map_err(|e| napi::Error::from_reason(e.message))? });
        let (gw, warnings) =
            llmux_server::GatewayConfig::from_config(&mut config, &**crate::engine()).map_err(|e| napi::Error::from_reason(e.message))?;
        if config.get("router_settings").is_some() {
            return Err(napi::Error::from_reason(
                "keys with their own rpm, tpm or budget need serve({ config }) or serve({ configPath }): an existing router's limits are fixed",
            ));
        }
        let served = llmux_server::serve(self.router().clone(), gw, &host, port(port_number)?, log(access_log))
            .await
            .map_err(|e| napi::Error::from_reason(e.message))?;
        Ok(handle(served, warnings))
    }
}
