//! hfkit-server: a server that answers like the Hugging Face Hub.
//!
//! It backs `hf serve` (a mirror for machines without internet) and every hfkit test: the
//! CLI, the library and the real Python client all talk to it over real sockets. Routes
//! answer with the Hub's status codes, bodies and error headers (`X-Error-Code`,
//! `X-Error-Message`), from the accounts, tokens, repo settings and grants of a
//! [`store::Store`] (seeded from an [`accounts::Accounts`] file) and the repositories of a
//! [`repos::RepoSource`]: repos built in code (tests) or a huggingface_hub cache read live
//! (`hf serve --cache`). Who may see what is decided by [`auth::access`]. A second listener
//! plays the CDN that LFS downloads are redirected to. With a [`mirror::Mirror`], a file the
//! cache lacks is fetched from an upstream Hub once and kept (pull-through).
//! [`web`] serves the pages a person uses in a browser (repos, sign-in, access tokens,
//! gated access requests). [`server`] accepts connections with the limits a public server needs (connection cap,
//! header and idle timeouts, header size).

pub mod accounts;
pub mod auth;
mod body;
pub mod faults;
mod hub_error;
mod log;
pub mod mirror;
pub mod oauth;
pub mod repos;
mod routes;
mod sendfile;
pub mod server;
mod signed_url;
pub mod store;
pub mod web;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;

pub use accounts::{AccessToken, Accounts, Org, RepoEntry, Role, TrustedPublisher, User};
pub use faults::{Fault, FaultKind};
pub use mirror::{Mirror, MirrorConfig};
pub use repos::memory::{MemoryRepos, RepoMap, StoredRepo};
pub use repos::{Content, FileEntry, RepoSource, RepoView, Visibility};
pub use server::Limits;
pub use store::sqlite::SqliteStore;
pub use store::{Store, StoreError};

/// A request as the server saw it, for tests that check what crossed the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `hub` or `cdn`: which listener answered.
    pub listener: &'static str,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The `Authorization` header's scheme and masked credentials (`Bearer hf_****wxyz`),
    /// if one was sent: the value itself is never kept.
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
            .field("authorization", &self.authorization)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// How many requests the in-memory record keeps (the oldest are dropped first).
pub const MAX_RECORDED_REQUESTS: usize = 10_000;

/// Default number of entries per page of a tree listing.
const TREE_PAGE_SIZE: usize = 1000;

/// The server's shared state.
#[derive(Debug)]
pub struct HubState {
    store: Arc<dyn Store>,
    publishers: RwLock<Vec<TrustedPublisher>>,
    anonymous: AtomicBool,
    memory: Arc<MemoryRepos>,
    source: Arc<dyn RepoSource>,
    mirror: RwLock<Option<Arc<Mirror>>>,
    renames: RwLock<HashMap<(String, String), String>>,
    cdn_url: RwLock<Option<String>>,
    /// Signs the CDN links handed out after an access check.
    cdn_key: signed_url::SigningKey,
    faults: Mutex<Vec<Fault>>,
    tree_page_size: RwLock<usize>,
    log: Mutex<VecDeque<RecordedRequest>>,
    recording: AtomicBool,
    record_limit: std::sync::atomic::AtomicUsize,
    access_log: AtomicBool,
    /// Failed web sign-ins, per user and per client address.
    sign_in_throttle: web::session::Throttle,
    device_flow: RwLock<oauth::DeviceFlowSettings>,
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A store in memory seeded with `accounts` (checked first).
fn memory_store(accounts: &Accounts) -> Result<Arc<dyn Store>, StoreError> {
    accounts.check().map_err(|p| StoreError::Invalid(p.detail))?;
    let store = SqliteStore::in_memory()?;
    store::import::seed(&store, accounts)?;
    Ok(Arc::new(store))
}

impl HubState {
    /// State serving `accounts` and no repositories.
    pub fn new(accounts: Accounts) -> Result<Arc<Self>, StoreError> {
        Self::with_repos(accounts, Vec::new())
    }

    /// State serving `accounts` (in a store in memory) and `repos` (held in memory).
    pub fn with_repos(accounts: Accounts, repos: Vec<StoredRepo>) -> Result<Arc<Self>, StoreError> {
        let memory = Arc::new(MemoryRepos::new(repos));
        let store = memory_store(&accounts)?;
        Ok(Self::build(store, accounts.trusted_publishers, Arc::clone(&memory) as Arc<dyn RepoSource>, memory))
    }

    /// State serving `accounts` (in a store in memory) and the repositories of `source` (a
    /// live cache, say). The request record of tests is off; turn it on with
    /// [`Self::set_recording`].
    pub fn with_source(accounts: Accounts, source: Arc<dyn RepoSource>) -> Result<Arc<Self>, StoreError> {
        let store = memory_store(&accounts)?;
        Ok(Self::with_store(store, accounts.trusted_publishers, source))
    }

    /// State serving the accounts of `store` (already seeded), the trusted `publishers` and
    /// the repositories of `source`. The request record of tests is off.
    pub fn with_store(
        store: Arc<dyn Store>,
        publishers: Vec<TrustedPublisher>,
        source: Arc<dyn RepoSource>,
    ) -> Arc<Self> {
        let state = Self::build(store, publishers, source, Arc::default());
        state.set_recording(false);
        state
    }

    fn build(
        store: Arc<dyn Store>,
        publishers: Vec<TrustedPublisher>,
        source: Arc<dyn RepoSource>,
        memory: Arc<MemoryRepos>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            publishers: RwLock::new(publishers),
            anonymous: AtomicBool::new(true),
            memory,
            source,
            mirror: RwLock::default(),
            renames: RwLock::default(),
            cdn_url: RwLock::default(),
            cdn_key: signed_url::SigningKey::generate(),
            faults: Mutex::default(),
            tree_page_size: RwLock::new(TREE_PAGE_SIZE),
            log: Mutex::default(),
            recording: AtomicBool::new(true),
            record_limit: std::sync::atomic::AtomicUsize::new(MAX_RECORDED_REQUESTS),
            access_log: AtomicBool::new(false),
            sign_in_throttle: web::session::Throttle::default(),
            device_flow: RwLock::default(),
        })
    }

    /// The repositories built in memory (none when serving another source).
    pub fn repos(&self) -> RwLockReadGuard<'_, RepoMap> {
        self.memory.read()
    }

    /// Adds or replaces an in-memory repository, or changes one while serving.
    pub fn update_repos(&self, change: impl FnOnce(&mut RepoMap)) {
        self.memory.update(change);
    }

    /// Where routes read repositories.
    pub(crate) fn source(&self) -> &dyn RepoSource {
        self.source.as_ref()
    }

    /// Fetches what the source lacks from an upstream Hub through `mirror` (`None`: serve
    /// the source only).
    pub fn set_mirror(&self, mirror: Option<Arc<Mirror>>) {
        *write(&self.mirror) = mirror;
    }

    /// The pull-through mirror, if one is set.
    pub fn mirror(&self) -> Option<Arc<Mirror>> {
        read(&self.mirror).clone()
    }

    /// Keeps (or stops keeping) the in-memory record of requests that tests read.
    pub fn set_recording(&self, on: bool) {
        self.recording.store(on, Ordering::Relaxed);
    }

    /// Keeps at most `limit` requests in the record (default [`MAX_RECORDED_REQUESTS`]).
    pub fn set_record_limit(&self, limit: usize) {
        self.record_limit.store(limit.max(1), Ordering::Relaxed);
    }

    /// Writes (or stops writing) one access-log line per request to standard error.
    pub fn set_access_log(&self, on: bool) {
        self.access_log.store(on, Ordering::Relaxed);
    }

    /// Makes `old` (of `kind`) answer with a redirect to `new`, like a renamed repo.
    pub fn rename(&self, kind: &str, old: &str, new: &str) {
        write(&self.renames).insert((kind.to_owned(), old.to_owned()), new.to_owned());
    }

    /// Where a request for `id` is redirected: a renamed repo's new id; on a mirror, also the
    /// spelling the operator gave a repo's settings when `id` differs from it only in case
    /// (upstream may find the repo whatever the case, and the settings must still hold).
    pub(crate) fn renamed(&self, kind: &str, id: &str) -> Option<String> {
        if let Some(new) = read(&self.renames).get(&(kind.to_owned(), id.to_owned())) {
            return Some(new.clone());
        }
        if self.mirror().is_none() || self.store().repo(kind, id).ok().flatten().is_some() {
            return None;
        }
        let declared = self.store().repos().ok()?;
        declared.into_iter().find(|r| r.kind == kind && r.id != id && r.id.eq_ignore_ascii_case(id)).map(|r| r.id)
    }

    /// Sets the CDN base URL that LFS files redirect to (`None`: serve them directly).
    pub fn set_cdn_url(&self, url: Option<String>) {
        *write(&self.cdn_url) = url;
    }

    pub(crate) fn cdn_url(&self) -> Option<String> {
        read(&self.cdn_url).clone()
    }

    /// The key of the CDN's signed links.
    pub(crate) fn cdn_key(&self) -> &signed_url::SigningKey {
        &self.cdn_key
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
        self.source.lfs_object(sha256)
    }

    /// The accounts, tokens, repo settings and grants (change them while serving: the next
    /// request sees the change).
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The trusted publishers of the token exchange.
    pub(crate) fn publishers(&self) -> RwLockReadGuard<'_, Vec<TrustedPublisher>> {
        read(&self.publishers)
    }

    /// Answers (or refuses with 401) requests without a token; on by default.
    pub fn set_anonymous_access(&self, allowed: bool) {
        self.anonymous.store(allowed, Ordering::Relaxed);
    }

    pub(crate) fn anonymous_allowed(&self) -> bool {
        self.anonymous.load(Ordering::Relaxed)
    }

    /// The counts of failed web sign-ins.
    pub(crate) fn sign_in_throttle(&self) -> &web::session::Throttle {
        &self.sign_in_throttle
    }

    /// Sets the lifetimes of the browser login's device codes and tokens (short ones make
    /// tests fast).
    pub fn set_device_flow(&self, settings: oauth::DeviceFlowSettings) {
        *write(&self.device_flow) = settings;
    }

    /// The lifetimes of the browser login.
    pub fn device_flow(&self) -> oauth::DeviceFlowSettings {
        *read(&self.device_flow)
    }

    /// The requests served so far (the newest [`MAX_RECORDED_REQUESTS`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().cloned().collect()
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
    server::run(listener, cdn_router(state), &Limits::default(), shutdown).await
}

/// Serves until `shutdown` resolves, with the default [`Limits`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<HubState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::run(listener, router(state), &Limits::default(), shutdown).await
}

/// Serves until `shutdown` resolves, with `limits`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: Arc<HubState>,
    limits: &Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::run(listener, router(state), limits, shutdown).await
}

/// The address a listener is bound to, for printing.
pub fn local_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

async fn record_hub(state: State<Arc<HubState>>, request: Request, next: Next) -> Response {
    auth::once_per_request(record("hub", state, request, next)).await
}

async fn record_cdn(state: State<Arc<HubState>>, request: Request, next: Next) -> Response {
    auth::once_per_request(record("cdn", state, request, next)).await
}

async fn record(listener: &'static str, State(state): State<Arc<HubState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let headers = request.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let user = if state.access_log.load(Ordering::Relaxed) {
        auth::authenticate(state.store(), routes::bearer(headers)).ok().and_then(|c| c.name().map(str::to_owned))
    } else {
        None
    };
    let authorization = header("authorization").map(|value| match value.split_once(' ') {
        Some((scheme, secret)) => format!("{scheme} {}", hfkit::secret::mask(secret)),
        None => hfkit::secret::mask(&value),
    });
    let user_agent = header("user-agent");
    let range = header("range");
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let path_and_query = request.uri().path_and_query().map_or_else(|| path.clone(), ToString::to_string);
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let response = if state.access_log.load(Ordering::Relaxed) {
        let expected = (method != "HEAD")
            .then(|| response.headers().get(axum::http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok())
            .flatten();
        let access = log::Access { listener, user, method: method.clone(), path, status, started, expected };
        response.map(|body| access.around(body))
    } else {
        response
    };
    if state.recording.load(Ordering::Relaxed) {
        let entry =
            RecordedRequest { listener, method, path: path_and_query, authorization, user_agent, range, status };
        let mut log = state.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let limit = state.record_limit.load(Ordering::Relaxed);
        while log.len() >= limit {
            log.pop_front();
        }
        log.push_back(entry);
    }
    response
}
