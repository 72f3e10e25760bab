//! [`Uploader`]: carries a unit's weave to Arweave in the background.
//!
//! The queue is the local weave itself: items get consecutive local heights when they are
//! stored, so "everything after height H" is exactly what is not yet uploaded, and H is the
//! only state the uploader keeps (a file, replaced atomically after each accepted upload). An
//! item is acknowledged once it is in the local weave; a gateway that is down only delays it.
//! A crash between an upload and the cursor write uploads the same items again, which Arweave
//! and bundlers answer as already known.

use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use aorta_api::{Cursor, Query, Sort, Weave};
use aorta_types::{DataItem, Signer};

use crate::{ArweaveNode, GatewayClient};

/// Where items go.
pub enum Target {
    /// Each item to a bundler's `POST /tx/arweave`.
    Bundler(GatewayClient),
    /// Items batched into ANS-104 bundles, each posted as a base-layer transaction signed by
    /// an Arweave wallet (`POST /tx` + `POST /chunk`).
    Arweave {
        /// The node.
        node: ArweaveNode,
        /// The wallet paying for and signing the transactions.
        signer: Arc<dyn Signer>,
        /// Where the bundle's items are looked for afterwards: items a gateway does not
        /// show within [`UploadConfig::confirm`] are posted again in a new bundle.
        gateway: GatewayClient,
    },
}

/// Batching and pacing.
#[derive(Clone, Debug)]
pub struct UploadConfig {
    /// Where the uploaded height is kept.
    pub cursor_file: PathBuf,
    /// Bytes of items per bundle, at most (a single larger item goes alone).
    pub max_bundle_bytes: u64,
    /// Items per bundle, at most.
    pub max_items: usize,
    /// Pause when there is nothing to upload.
    pub idle: Duration,
    /// Longest pause between retries.
    pub max_backoff: Duration,
    /// How long a bundle's items may take to appear on the gateway before the missing ones
    /// are posted again (`None`: never checked). Real gateways index bundles minutes after
    /// they are mined; a local node at once.
    pub confirm: Option<Duration>,
}

impl UploadConfig {
    /// Defaults with the cursor kept in `cursor_file`: bundles that fit one Arweave chunk, so
    /// that each goes to the node in one request.
    pub fn new(cursor_file: PathBuf) -> Self {
        Self {
            cursor_file,
            max_bundle_bytes: (aorta_types::arweave::MAX_CHUNK_SIZE - 32) as u64,
            max_items: 500,
            idle: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            confirm: None,
        }
    }
}

/// What the uploader has done, for `/metrics`-style reporting and tests.
#[derive(Debug, Default)]
pub struct UploadStatus {
    /// Every local height up to this one is uploaded.
    pub uploaded_height: AtomicU64,
    /// Uploads accepted (bundles or items).
    pub uploads: AtomicU64,
    /// Items carried.
    pub items: AtomicU64,
    /// Failed attempts (each retried).
    pub failures: AtomicU64,
    /// The last failure's reason.
    pub last_error: Mutex<Option<String>>,
}

/// The background uploader; stops (after its current attempt) when dropped.
pub struct Uploader {
    status: Arc<UploadStatus>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Uploader {
    /// Starts uploading what `source` holds after the height in the cursor file.
    ///
    /// # Errors
    /// The cursor file exists but cannot be read.
    pub fn start(
        source: Arc<dyn Weave>,
        target: Target,
        config: UploadConfig,
    ) -> std::io::Result<Self> {
        let uploaded = match fs::read_to_string(&config.cursor_file) {
            Ok(text) => text.trim().parse().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} holds no height", config.cursor_file.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        let status = Arc::new(UploadStatus::default());
        status.uploaded_height.store(uploaded, Ordering::SeqCst);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (status, stop) = (status.clone(), stop.clone());
            std::thread::Builder::new()
                .name("aorta-upload".into())
                .spawn(move || run(&*source, &target, &config, &status, &stop))?
        };
        Ok(Self {
            status,
            stop,
            thread: Some(thread),
        })
    }

    /// What it has done so far.
    pub fn status(&self) -> &Arc<UploadStatus> {
        &self.status
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn sleep_unless_stopped(stop: &AtomicBool, total: Duration) {
    let step = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(step.min(total - slept));
        slept += step;
    }
}

/// The next batch after `uploaded`: items and the height of the last one.
fn next_batch(
    source: &dyn Weave,
    uploaded: u64,
    config: &UploadConfig,
) -> Result<(Vec<DataItem>, u64), aorta_api::Error> {
    let page = source.query(&Query {
        sort: Sort::HeightAsc,
        after: (uploaded > 0).then_some(Cursor(uploaded)),
        limit: config.max_items,
        ..Query::default()
    })?;
    let (mut items, mut last, mut bytes) = (Vec::new(), uploaded, 0u64);
    for edge in page.edges {
        let Some(item) = source.get(edge.header.id())? else {
            return Err(aorta_api::Error::NotFound {
                id: edge.header.id(),
            });
        };
        // Each item also takes 64 bytes of the bundle's header.
        let size = item.as_bytes().len() as u64 + 64;
        if !items.is_empty() && bytes + size > config.max_bundle_bytes {
            break;
        }
        items.push(item);
        bytes += size;
        last = edge.cursor.0;
    }
    Ok((items, last))
}

fn upload(
    target: &Target,
    items: &[DataItem],
    config: &UploadConfig,
    stop: &AtomicBool,
) -> Result<(), aorta_api::Error> {
    match target {
        Target::Bundler(bundler) => {
            for item in items {
                bundler.put(item)?;
            }
            Ok(())
        }
        Target::Arweave {
            node,
            signer,
            gateway,
        } => {
            let mut missing: Vec<DataItem> = items.to_vec();
            for round in 0.. {
                let tx = node.post_bundle(signer.as_ref(), &missing)?;
                tracing::debug!(tx = %tx.id, items = missing.len(), round, "bundle posted");
                let Some(confirm) = config.confirm else {
                    return Ok(());
                };
                let deadline = std::time::Instant::now() + confirm;
                loop {
                    let ids: Vec<_> = missing.iter().map(DataItem::id).collect();
                    let shown = gateway.query(&Query::new().ids(ids).limit(missing.len()))?;
                    missing.retain(|i| !shown.edges.iter().any(|e| e.header.id() == i.id()));
                    if missing.is_empty() {
                        return Ok(());
                    }
                    if std::time::Instant::now() >= deadline || stop.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                tracing::warn!(tx = %tx.id, missing = missing.len(), "the gateway does not show items of a bundle; posting them again");
            }
            Ok(())
        }
    }
}

fn save(path: &PathBuf, height: u64) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::File::create(&tmp)?;
    file.write_all(height.to_string().as_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn run(
    source: &dyn Weave,
    target: &Target,
    config: &UploadConfig,
    status: &UploadStatus,
    stop: &AtomicBool,
) {
    let mut backoff = Duration::from_millis(100);
    let fail = |reason: String, backoff: &mut Duration| {
        tracing::warn!(%reason, retry_in = ?*backoff, "upload failed");
        status.failures.fetch_add(1, Ordering::SeqCst);
        *status
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
        sleep_unless_stopped(stop, *backoff);
        *backoff = (*backoff * 2).min(config.max_backoff);
    };
    while !stop.load(Ordering::SeqCst) {
        let uploaded = status.uploaded_height.load(Ordering::SeqCst);
        let (items, last) = match next_batch(source, uploaded, config) {
            Ok(batch) => batch,
            Err(e) => {
                fail(format!("reading the local weave: {e}"), &mut backoff);
                continue;
            }
        };
        if items.is_empty() {
            sleep_unless_stopped(stop, config.idle);
            continue;
        }
        if let Err(e) = upload(target, &items, config, stop) {
            fail(e.to_string(), &mut backoff);
            continue;
        }
        if let Err(e) = save(&config.cursor_file, last) {
            fail(format!("saving the upload cursor: {e}"), &mut backoff);
            continue;
        }
        backoff = Duration::from_millis(100);
        status.uploaded_height.store(last, Ordering::SeqCst);
        status.uploads.fetch_add(1, Ordering::SeqCst);
        status.items.fetch_add(items.len() as u64, Ordering::SeqCst);
    }
}
