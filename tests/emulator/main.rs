//! Integration tests for the WeCom emulator: one test per documented rule, over real HTTP.

mod agent;
mod config;
mod control;
mod duplicate;
mod gettoken;
mod helpers;
mod inbox;
mod media;
mod rate;
mod recall;
mod recipients;
mod robot;
mod send_auth;
mod send_cards;
mod send_text;
mod send_types;
