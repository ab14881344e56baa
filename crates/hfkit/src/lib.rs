//! hfkit: a Hugging Face Hub client, drop-in compatible with huggingface_hub 2.4.
//!
//! It reads the same environment variables, finds the token the same way, and reads and
//! writes the same files (`token`, `stored_tokens`, the cache), so a program using hfkit and
//! Python's `huggingface_hub` can share one machine.
//!
//! ```no_run
//! # async fn demo() -> hfkit::Result<()> {
//! // Token from HF_TOKEN, the token file, …, exactly as huggingface_hub finds it:
//! let hub = hfkit::Hub::from_env()?;
//! let me = hub.whoami().await?;
//! println!("{} ({})", me.name, me.token_role().unwrap_or("unknown role"));
//!
//! // Or an explicit token, ignoring the environment:
//! let hub = hfkit::Hub::builder().token("hf_xxxxxxxxxxxxxxxx").build()?;
//! # Ok(()) }
//! ```
//!
//! Tokens are [`Token`]s: they print masked (`hf_****wxyz`) and leave the type only through
//! [`Token::expose`].

pub mod api;
pub mod auth;
pub mod cache;
pub mod config;
pub mod download;
pub mod env_vars;
pub mod envfile;
mod error;
pub mod fs;
pub mod hashes;
mod hub;
pub mod leaks;
pub mod pyjson;
pub mod repo;
pub mod secret;
pub mod text;
pub mod time;

pub use api::WhoAmI;
pub use auth::{ResolvedToken, TokenSource};
pub use config::Config;
pub use error::{Error, Result};
pub use hub::{Hub, HubBuilder, Login, blocking};
pub use secret::Token;
