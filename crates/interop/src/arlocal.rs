//! A real local Arweave node for tests: the npm package `arlocal`, installed (with `npm ci`
//! from `crates/interop/arlocal`'s lock file) into a cache folder outside the repository, keyed
//! by the lock file's hash, since its sqlite3 dependency compiles from source for minutes.
//! Each [`ArLocal`] is a fresh node on its own loopback port and database, stopped on drop.

use std::fs::{self, File};
use std::hash::{Hash as _, Hasher as _};
use std::io::{self, BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The folder holding arlocal's `package.json`, lock and start script.
fn source_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("arlocal")
}

/// `${AORTA_CACHE:-~/.cache/aorta}`.
fn cache_root() -> PathBuf {
    std::env::var_os("AORTA_CACHE").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
                .join(".cache/aorta")
        },
        PathBuf::from,
    )
}

/// Installs arlocal unless the cache already holds this lock file's install; answers the
/// folder to run it from.
///
/// # Errors
/// When npm is missing or `npm ci` fails (its output is in the error).
pub fn ensure_arlocal() -> io::Result<PathBuf> {
    let src = source_dir();
    let lock_text = fs::read(src.join("package-lock.json"))?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    lock_text.hash(&mut hasher);
    fs::read(src.join("start.cjs"))?.hash(&mut hasher);
    let dir = cache_root().join(format!("arlocal-{:016x}", hasher.finish()));
    fs::create_dir_all(&dir)?;
    let lock = File::create(dir.join(".install.lock"))?;
    lock.lock()?;
    let done = dir.join(".installed");
    if !done.exists() {
        for name in ["package.json", "package-lock.json", "start.cjs"] {
            fs::copy(src.join(name), dir.join(name))?;
        }
        crate::npm_ci(&dir)?;
        File::create(&done)?;
    }
    Ok(dir)
}

/// A running arlocal node.
pub struct ArLocal {
    child: Child,
    port: u16,
    host: String,
    wrapper: Vec<String>,
    _db: tempfile::TempDir,
}

impl ArLocal {
    /// Starts a fresh node on a free loopback port and waits until it answers.
    ///
    /// # Errors
    /// When it cannot be installed or does not start within a minute.
    pub fn start() -> io::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        Self::start_on(port)
    }

    /// Starts a fresh node on `port` (a node restarted on its old port keeps nothing: tests
    /// of a gateway outage stop and start the same [`ArLocal`] with [`Self::restart`]).
    ///
    /// # Errors
    /// As [`Self::start`].
    pub fn start_on(port: u16) -> io::Result<Self> {
        Self::start_with(&[], port)
    }

    /// Starts a fresh node on `port` through `wrapper` (e.g. `ip netns exec NAME`, to run it
    /// on another network namespace's host).
    ///
    /// # Errors
    /// As [`Self::start`].
    pub fn start_with(wrapper: &[&str], port: u16) -> io::Result<Self> {
        let db = tempfile::tempdir()?;
        let wrapper: Vec<String> = wrapper.iter().map(|w| (*w).to_owned()).collect();
        let child = spawn(&wrapper, port, &db.path().join("db"))?;
        Ok(Self {
            child,
            port,
            host: "127.0.0.1".into(),
            wrapper,
            _db: db,
        })
    }

    /// The same node reached at `host` instead of 127.0.0.1 (it listens on every interface,
    /// so a node started inside a network namespace is reached at that namespace's address).
    #[must_use]
    pub fn at(mut self, host: &str) -> Self {
        self.host = host.to_owned();
        self
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://{host}:{port}` (the host is 127.0.0.1 unless [`Self::at`] said otherwise).
    pub fn url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    /// Stops the node, keeping its database (arlocal keeps it only when told to persist,
    /// which [`spawn`] does), for [`Self::resume`].
    pub fn pause(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the node again on the same port and database.
    ///
    /// # Errors
    /// As [`Self::start`].
    pub fn resume(&mut self) -> io::Result<()> {
        self.child = spawn(&self.wrapper, self.port, &self._db.path().join("db"))?;
        Ok(())
    }

    /// `GET {url}{path}` as text.
    ///
    /// # Errors
    /// When the node does not answer 2xx.
    pub fn get(&self, path: &str) -> io::Result<String> {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect((self.host.as_str(), self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {}:{}\r\n\r\n",
            self.host, self.port
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        if !head.starts_with("HTTP/1.1 2") && !head.starts_with("HTTP/1.0 2") {
            return Err(io::Error::other(format!(
                "GET {path}: {}",
                head.lines().next().unwrap_or("")
            )));
        }
        Ok(body.to_owned())
    }

    /// Mines a block (`/mine`).
    ///
    /// # Errors
    /// When the node does not answer.
    pub fn mine(&self) -> io::Result<()> {
        self.get("/mine").map(drop)
    }

    /// Gives `address` `winston` (`/mint/{address}/{winston}`).
    ///
    /// # Errors
    /// When the node does not answer.
    pub fn mint(&self, address: &str, winston: u64) -> io::Result<()> {
        self.get(&format!("/mint/{address}/{winston}")).map(drop)
    }
}

fn spawn(wrapper: &[String], port: u16, db: &std::path::Path) -> io::Result<Child> {
    let dir = ensure_arlocal()?;
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg("node");
            c
        }
        None => Command::new("node"),
    };
    let mut child = command
        .arg(dir.join("start.cjs"))
        .arg(port.to_string())
        .arg(db)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        // arlocal logs every refused duplicate as an error; keep that beside its database.
        .stderr(log_file(db)?)
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("running node: {e}")))?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.trim() == "ready" {
                let _ = tx.send(());
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if rx.try_recv().is_ok() {
            return Ok(child);
        }
        if let Some(status) = child.try_wait()? {
            let log = std::fs::read_to_string(log_path(db)).unwrap_or_default();
            return Err(io::Error::other(format!("arlocal exited: {status}\n{log}")));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(io::Error::other("arlocal did not start within a minute"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where arlocal's stderr goes: `arlocal.log` beside its database folder.
fn log_path(db: &std::path::Path) -> PathBuf {
    db.with_file_name("arlocal.log")
}

fn log_file(db: &std::path::Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(db))
}

impl Drop for ArLocal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
