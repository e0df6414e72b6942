//! wecom-relay: turns application events into WeCom (企业微信) messages.

pub mod emulator;
