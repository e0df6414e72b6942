//! Integration tests: the real relay on port 0 against a fake WeCom.

mod check;
mod durable;
mod emu;
mod emulated;
mod helpers;
mod operations;
mod retries;
mod startup;
mod targets;
mod tokens;
mod user_added;
mod validation;
