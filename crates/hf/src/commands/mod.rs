//! One module per command group.

pub(crate) mod auth;
pub(crate) mod auth_check;
pub(crate) mod cache;
pub(crate) mod cache_rm;
pub(crate) mod cache_verify;
pub(crate) mod completion;
pub(crate) mod download;
pub(crate) mod env;
pub(crate) mod git_credential;
pub(crate) mod scan;
pub(crate) mod serve;
pub(crate) mod serve_admin;
pub(crate) mod serve_config;
pub(crate) mod status;
pub(crate) mod version;
