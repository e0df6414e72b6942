//! Integration tests: the real relay on port 0 against a fake WeCom.

mod helpers;
mod retries;
mod startup;
mod tokens;
mod user_added;
mod validation;
