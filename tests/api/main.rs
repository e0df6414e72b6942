//! Integration tests: the real relay on port 0 against a fake WeCom.

mod durable;
mod emu;
mod emulated;
mod helpers;
mod retries;
mod startup;
mod tokens;
mod user_added;
mod validation;
