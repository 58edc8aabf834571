//! PostgreSQL for tests: a fresh database per test on the server named by
//! `THREADLOG_TEST_DATABASE_URL`, or else on a private temporary cluster started from the
//! installed server binaries (Debian: /usr/lib/postgresql/<version>/bin). Never skipped:
//! without either, the test fails and says what to install.

use sqlx::Connection;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// A private cluster in a temporary directory, stopped when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|d| {
            let v = d.file_name().to_str()?.parse().ok()?;
            let bin = d.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b).expect(
        "PostgreSQL server binaries not found under /usr/lib/postgresql: \
         install the `postgresql` package or set THREADLOG_TEST_DATABASE_URL",
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// initdb + pg_ctl start on a free port. `durable: false` turns fsync off, for
    /// tests that crash the server process but never the machine under it.
    pub fn start(durable: bool) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("threadlog-pg-")
            .tempdir()
            .unwrap();
        if is_root() {
            // The server refuses to run as root; its files belong to `postgres`.
            run(Command::new("chown").arg("postgres:").arg(dir.path()));
        }
        let bin = bin_dir();
        let c = Cluster {
            dir,
            bin,
            port: free_port(),
        };
        c.pg(
            "initdb",
            &[
                "-D",
                &c.data().to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let mut conf = format!(
            "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             max_connections = 200\nshared_buffers = 256MB\n",
            c.port,
            c.dir.path().display()
        );
        if !durable {
            // synchronous_commit = off as a hostile default: the store must turn it on
            // for its own commits, or the replica fault test loses acknowledged batches.
            conf.push_str("fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n");
        }
        let conf_path = c.data().join("postgresql.conf");
        let mut all = std::fs::read_to_string(&conf_path).unwrap();
        all.push_str(&conf);
        std::fs::write(&conf_path, all).unwrap();
        c.ctl("start");
        c
    }

    /// A streaming replica of this cluster (hot standby), started on its own port.
    pub fn replica(&self) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("threadlog-pg-")
            .tempdir()
            .unwrap();
        if is_root() {
            run(Command::new("chown").arg("postgres:").arg(dir.path()));
        }
        let r = Cluster {
            dir,
            bin: self.bin.clone(),
            port: free_port(),
        };
        let port = self.port.to_string();
        r.pg(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &r.data().to_string_lossy(),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
            ],
        );
        // The copied configuration names the primary's port and socket; the last
        // setting wins.
        let conf_path = r.data().join("postgresql.conf");
        let mut conf = std::fs::read_to_string(&conf_path).unwrap();
        conf.push_str(&format!(
            "port = {}\nunix_socket_directories = '{}'\nhot_standby = on\n",
            r.port,
            r.dir.path().display()
        ));
        std::fs::write(&conf_path, conf).unwrap();
        r.ctl("start");
        r
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A path inside the cluster's directory, writable by the server's tools.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// Runs one of the server's tools (pg_dump, pg_restore, …) against this cluster.
    pub fn tool(&self, tool: &str, args: &[&str]) {
        let port = self.port.to_string();
        let mut all = vec!["-h", "127.0.0.1", "-p", &port, "-U", "postgres"];
        all.extend_from_slice(args);
        self.pg(tool, &all);
    }

    fn pg(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        run(cmd.args(args).current_dir(self.dir.path()));
    }

    /// `pg_ctl start|stop|restart`, waiting until done. Stops are immediate (a crash,
    /// as far as the server's clients can tell).
    pub fn ctl(&self, action: &str) {
        let data = self.data().to_string_lossy().into_owned();
        let log = self
            .dir
            .path()
            .join("server.log")
            .to_string_lossy()
            .into_owned();
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-l",
                &log,
                "-m",
                "immediate",
                "-w",
                "-t",
                "60",
                action,
            ],
        );
    }

    /// A URL for database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.data().join("postmaster.pid").exists() {
            self.ctl("stop");
        }
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The cluster shared by the tests of one binary, stopped when the binary exits.
static SHARED: OnceLock<Mutex<Option<Cluster>>> = OnceLock::new();

extern "C" fn stop_shared() {
    if let Some(m) = SHARED.get() {
        if let Ok(mut c) = m.lock() {
            c.take();
        }
    }
}

extern "C" {
    fn atexit(f: extern "C" fn()) -> i32;
}

/// The admin URL: the given server, or the shared private cluster's `postgres` database.
fn admin_url() -> String {
    if let Ok(url) = std::env::var("THREADLOG_TEST_DATABASE_URL") {
        return url;
    }
    let m = SHARED.get_or_init(|| {
        // SAFETY: registers a plain function with no arguments; runs once at exit.
        unsafe { atexit(stop_shared) };
        Mutex::new(Some(Cluster::start(false)))
    });
    m.lock().unwrap().as_ref().unwrap().url("postgres")
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let path = base[host_start..].find('/').map(|i| host_start + i);
    let root = path.map_or(base, |i| &base[..i]);
    format!("{root}/{db}{query}")
}

/// A new, empty database; returns its URL.
pub async fn fresh_database() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let admin = tokio::task::spawn_blocking(admin_url).await.unwrap();
    let name = format!(
        "tl_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        rand_suffix()
    );
    create_database(&admin, &name).await;
    with_database(&admin, &name)
}

/// Creates database `name` on the server at `admin`.
pub async fn create_database(admin: &str, name: &str) {
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}
