//! The router config parser on arbitrary YAML (and so JSON): no panic, every bad value a typed
//! error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use llmux_core::router::config::RouterConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(v) = RouterConfig::yaml_to_json(text) {
        let _ = RouterConfig::parse(&v);
    }
});
