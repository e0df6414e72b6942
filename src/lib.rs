//! wecom-relay: turns application events into WeCom (企业微信) messages.

pub mod api;
pub mod check;
pub mod commands;
pub mod config;
pub mod delivery;
pub mod emulator;
pub mod metrics;
pub mod render;
pub mod startup;
pub mod telemetry;
pub mod wecom;
