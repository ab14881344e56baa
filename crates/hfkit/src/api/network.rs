//! Corporate networks: proxies from the environment (resolved in [`crate::Config`]) and a
//! custom CA bundle that replaces the system's roots, as Python's requests does.

use std::path::Path;

use super::ApiError;
use crate::config::NetworkSettings;

/// Routes requests through the configured proxies, except hosts listed in `NO_PROXY`.
pub(super) fn apply_proxies(
    mut builder: reqwest::ClientBuilder,
    net: &NetworkSettings,
) -> Result<reqwest::ClientBuilder, ApiError> {
    let no_proxy = net.no_proxy.as_deref().and_then(reqwest::NoProxy::from_string);
    let bad = |var: &str, e: reqwest::Error| ApiError::Client(format!("{var} is not a usable proxy URL: {e}"));
    if let Some(url) = net.https_proxy.as_deref().or(net.all_proxy.as_deref()) {
        let proxy = reqwest::Proxy::https(url).map_err(|e| bad("HTTPS_PROXY", e))?.no_proxy(no_proxy.clone());
        builder = builder.proxy(proxy);
    }
    if let Some(url) = net.http_proxy.as_deref().or(net.all_proxy.as_deref()) {
        let proxy = reqwest::Proxy::http(url).map_err(|e| bad("HTTP_PROXY", e))?.no_proxy(no_proxy);
        builder = builder.proxy(proxy);
    }
    Ok(builder)
}

/// Trusts exactly the certificates of a PEM bundle.
pub(super) fn apply_ca_bundle(
    builder: reqwest::ClientBuilder,
    path: &Path,
) -> Result<reqwest::ClientBuilder, ApiError> {
    let pem = std::fs::read(path).map_err(|e| {
        ApiError::Client(format!("cannot read the CA file {} (SSL_CERT_FILE/REQUESTS_CA_BUNDLE): {e}", path.display()))
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| ApiError::Client(format!("the CA file {} is not a PEM bundle: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ApiError::Client(format!("the CA file {} holds no certificate", path.display())));
    }
    Ok(certs.into_iter().fold(builder.tls_built_in_root_certs(false), reqwest::ClientBuilder::add_root_certificate))
}
