//! Everything that talks to WeCom: the HTTP client, the access-token cache, the wire types and the
//! errcode table. Nothing outside this module builds WeCom JSON, reads an errcode or sees a token.

mod body;
mod client;
mod errcode;
mod error;
mod media;
mod message;
mod redact;
mod robot;
mod token;

pub use body::{Article, Body, BodyError, MsgType, strip_markdown};
pub use client::{SendOptions, WeComClient};
pub use errcode::ErrorClass;
pub use error::WeComError;
pub use message::{AgentInfo, Message, Recipients, RecipientsError, SendReceipt};
pub use robot::robot_accepts;
