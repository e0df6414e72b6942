//! Logging: env_logger, filtered by `RUST_LOG` (default `info`).

/// Initialises the global logger once; later calls do nothing.
pub fn init() {
    let env = env_logger::Env::default().default_filter_or("info");
    let _ = env_logger::Builder::from_env(env).format_timestamp_millis().try_init();
}
