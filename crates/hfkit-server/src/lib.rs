//! hfkit-server: a server that answers like the Hugging Face Hub.
//!
//! It backs `hf serve` (a mirror for machines without internet) and every hfkit test: the
//! CLI, the library and the real Python client all talk to it over real sockets. Routes
//! answer with the Hub's status codes, bodies and error headers (`X-Error-Code`,
//! `X-Error-Message`), from the [`accounts::Accounts`] and [`repos::StoredRepo`]s it is
//! given. A second listener plays the CDN that LFS downloads are redirected to.

pub mod accounts;
mod body;
pub mod faults;
mod hub_error;
pub mod repos;
mod routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;

pub use accounts::{AccessToken, Accounts, Org, Role, TrustedPublisher, User};
pub use faults::{Fault, FaultKind};
pub use repos::{Content, FileEntry, StoredRepo, Visibility};

/// A request as the server saw it, for tests that check what crossed the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `hub` or `cdn`: which listener answered.
    pub listener: &'static str,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// The response status.
    pub status: u16,
}

impl std::fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedRequest")
            .field("listener", &self.listener)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("range", &self.range)
            .field("authorization", &self.authorization.as_ref().map(|_| "<present>"))
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Repositories by (type, id).
pub type RepoMap = HashMap<(String, String), StoredRepo>;

/// Default number of entries per page of a tree listing.
const TREE_PAGE_SIZE: usize = 1000;

/// The server's shared state.
#[derive(Debug)]
pub struct HubState {
    accounts: RwLock<Accounts>,
    repos: RwLock<RepoMap>,
    renames: RwLock<HashMap<(String, String), String>>,
    cdn_url: RwLock<Option<String>>,
    faults: Mutex<Vec<Fault>>,
    tree_page_size: RwLock<usize>,
    log: Mutex<Vec<RecordedRequest>>,
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl HubState {
    /// State serving `accounts` and no repositories.
    pub fn new(accounts: Accounts) -> Arc<Self> {
        Self::with_repos(accounts, Vec::new())
    }

    /// State serving `accounts` and `repos`.
    pub fn with_repos(accounts: Accounts, repos: Vec<StoredRepo>) -> Arc<Self> {
        let repos = repos.into_iter().map(|r| ((r.kind.clone(), r.id.clone()), r)).collect();
        Arc::new(Self {
            accounts: RwLock::new(accounts),
            repos: RwLock::new(repos),
            renames: RwLock::default(),
            cdn_url: RwLock::default(),
            faults: Mutex::default(),
            tree_page_size: RwLock::new(TREE_PAGE_SIZE),
            log: Mutex::default(),
        })
    }

    /// The repositories.
    pub fn repos(&self) -> RwLockReadGuard<'_, RepoMap> {
        read(&self.repos)
    }

    /// Adds or replaces a repository, or changes one while serving.
    pub fn update_repos(&self, change: impl FnOnce(&mut RepoMap)) {
        change(&mut write(&self.repos));
    }

    /// Makes `old` (of `kind`) answer with a redirect to `new`, like a renamed repo.
    pub fn rename(&self, kind: &str, old: &str, new: &str) {
        write(&self.renames).insert((kind.to_owned(), old.to_owned()), new.to_owned());
    }

    pub(crate) fn renamed(&self, kind: &str, id: &str) -> Option<String> {
        read(&self.renames).get(&(kind.to_owned(), id.to_owned())).cloned()
    }

    /// Sets the CDN base URL that LFS files redirect to (`None`: serve them directly).
    pub fn set_cdn_url(&self, url: Option<String>) {
        *write(&self.cdn_url) = url;
    }

    pub(crate) fn cdn_url(&self) -> Option<String> {
        read(&self.cdn_url).clone()
    }

    /// Entries per page of tree listings (small values exercise pagination).
    pub fn set_tree_page_size(&self, size: usize) {
        *write(&self.tree_page_size) = size.max(1);
    }

    pub(crate) fn tree_page_size(&self) -> usize {
        *read(&self.tree_page_size)
    }

    /// Injects a fault into upcoming file downloads (tests only).
    pub fn inject(&self, fault: Fault) {
        self.faults.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(fault);
    }

    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        self.faults.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    pub(crate) fn take_fault(&self, path: &str) -> Option<FaultKind> {
        faults::take(&mut self.faults.lock().unwrap_or_else(std::sync::PoisonError::into_inner), path)
    }

    pub(crate) fn lfs_file(&self, sha256: &str) -> Option<FileEntry> {
        read(&self.repos).values().find_map(|repo| {
            repo.commits
                .values()
                .find_map(|files| files.values().find(|f| f.lfs_sha256.as_deref() == Some(sha256)).cloned())
        })
    }

    /// Reads the accounts.
    pub fn accounts(&self) -> std::sync::RwLockReadGuard<'_, Accounts> {
        self.accounts.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes the accounts while serving (revoke a token, add a user…).
    pub fn update_accounts(&self, change: impl FnOnce(&mut Accounts)) {
        change(&mut self.accounts.write().unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// Every request served so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// The Hub's routes over `state`.
pub fn router(state: Arc<HubState>) -> Router {
    routes::routes().layer(middleware::from_fn_with_state(Arc::clone(&state), record_hub)).with_state(state)
}

/// The CDN's routes over `state`.
pub fn cdn_router(state: Arc<HubState>) -> Router {
    routes::cdn_routes().layer(middleware::from_fn_with_state(Arc::clone(&state), record_cdn)).with_state(state)
}

/// Serves the CDN until `shutdown` resolves.
pub async fn serve_cdn(
    listener: tokio::net::TcpListener,
    state: Arc<HubState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(no_delay(listener), cdn_router(state)).with_graceful_shutdown(shutdown).await
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<HubState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(no_delay(listener), router(state)).with_graceful_shutdown(shutdown).await
}

/// Sends small responses at once: without `TCP_NODELAY`, a response written as headers then
/// body waits for the client's delayed ACK (about 40 ms) on every reused connection.
fn no_delay(listener: tokio::net::TcpListener) -> impl axum::serve::Listener<Addr = SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    })
}

/// The address a listener is bound to, for printing.
pub fn local_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

async fn record_hub(state: State<Arc<HubState>>, request: Request, next: Next) -> Response {
    record("hub", state, request, next).await
}

async fn record_cdn(state: State<Arc<HubState>>, request: Request, next: Next) -> Response {
    record("cdn", state, request, next).await
}

async fn record(listener: &'static str, State(state): State<Arc<HubState>>, request: Request, next: Next) -> Response {
    let mut entry = {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        RecordedRequest {
            listener,
            method: request.method().to_string(),
            path: request.uri().path_and_query().map_or_else(|| request.uri().path().to_owned(), ToString::to_string),
            authorization: header("authorization"),
            user_agent: header("user-agent"),
            range: header("range"),
            status: 0,
        }
    };
    let response = next.run(request).await;
    entry.status = response.status().as_u16();
    state.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(entry);
    response
}
