//! Everything that talks to WeCom: the HTTP client, the access-token cache, the wire types and the
//! errcode table. Nothing outside this module builds WeCom JSON, reads an errcode or sees a token.

mod client;
mod errcode;
mod error;
mod message;
mod redact;
mod token;

pub use client::{SendOptions, WeComClient};
pub use errcode::ErrorClass;
pub use error::WeComError;
pub use message::{AgentInfo, Content, Message, MsgType, Recipients, RecipientsError, SendReceipt};
