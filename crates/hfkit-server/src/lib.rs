//! hfkit-server: a server that answers like the Hugging Face Hub.
//!
//! It backs `hf serve` (a mirror for machines without internet) and every hfkit test: the
//! CLI, the library and the real Python client all talk to it over real sockets. Routes
//! answer with the Hub's status codes, bodies and error headers (`X-Error-Code`,
//! `X-Error-Message`), from the [`accounts::Accounts`] it is given.

pub mod accounts;
mod hub_error;
mod routes;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;

pub use accounts::{AccessToken, Accounts, Org, Role, TrustedPublisher, User};

/// A request as the server saw it, for tests that check what crossed the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// The response status.
    pub status: u16,
}

impl std::fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<present>"),
            )
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// The server's shared state.
#[derive(Debug, Default)]
pub struct HubState {
    accounts: RwLock<Accounts>,
    log: Mutex<Vec<RecordedRequest>>,
}

impl HubState {
    /// State serving `accounts`.
    pub fn new(accounts: Accounts) -> Arc<Self> {
        Arc::new(Self {
            accounts: RwLock::new(accounts),
            log: Mutex::default(),
        })
    }

    /// Reads the accounts.
    pub fn accounts(&self) -> std::sync::RwLockReadGuard<'_, Accounts> {
        self.accounts
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes the accounts while serving (revoke a token, add a user…).
    pub fn update_accounts(&self, change: impl FnOnce(&mut Accounts)) {
        change(
            &mut self
                .accounts
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
    }

    /// Every request served so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The Hub's routes over `state`.
pub fn router(state: Arc<HubState>) -> Router {
    routes::routes()
        .layer(middleware::from_fn_with_state(Arc::clone(&state), record))
        .with_state(state)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<HubState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The address a listener is bound to, for printing.
pub fn local_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

async fn record(State(state): State<Arc<HubState>>, request: Request, next: Next) -> Response {
    let mut entry = {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        RecordedRequest {
            method: request.method().to_string(),
            path: request
                .uri()
                .path_and_query()
                .map_or_else(|| request.uri().path().to_owned(), ToString::to_string),
            authorization: header("authorization"),
            user_agent: header("user-agent"),
            status: 0,
        }
    };
    let response = next.run(request).await;
    entry.status = response.status().as_u16();
    state
        .log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(entry);
    response
}
