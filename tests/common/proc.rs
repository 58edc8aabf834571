//! The real `threadlog` binary as a child process, for crash, replica and fault tests:
//! CLI calls, `serve` processes that can be killed with SIGKILL, and an auditor's walk
//! over the whole log.

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_threadlog");

/// Runs a CLI command with `--json` and extra environment; returns (exit code, output).
pub fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, Value, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--json")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(stdout.trim()).unwrap_or(Value::Null),
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

/// A new token of `role`, created through the CLI.
pub fn token(role: &str, env: &[(&str, &str)]) -> String {
    let (code, v, out) = cli(&["token", "create", "--role", role], env);
    assert_eq!(code, 0, "{out}");
    v["token"].as_str().unwrap().to_string()
}

/// A running `threadlog serve`.
pub struct Serve {
    pub child: Child,
    pub url: String,
    pub key: String,
    /// The server's log (stderr), from its start.
    log: std::fs::File,
}

impl Serve {
    /// Starts `threadlog serve` on a free port with `env`; waits until it listens.
    /// Panics with the server's own message if it refuses to start.
    pub fn start(env: &[(&str, &str)]) -> Serve {
        Self::try_start(env).unwrap_or_else(|e| panic!("server did not start: {e}"))
    }

    /// Like `start`, but a refusal to start is returned as the server's error output.
    /// Creates the log if the database holds none (`serve --init`).
    pub fn try_start(env: &[(&str, &str)]) -> Result<Serve, String> {
        Self::try_start_args(&["--init"], env)
    }

    /// `threadlog serve` with extra arguments; a refusal to start is returned as the
    /// server's error output.
    pub fn try_start_args(args: &[&str], env: &[(&str, &str)]) -> Result<Serve, String> {
        // Logs go to a file, never to a pipe nobody reads (a full pipe would stall the
        // server mid-test).
        let mut log = tempfile::tempfile().unwrap();
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(args)
            .env("THREADLOG_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log.try_clone().unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut key = None;
        while let Some(Ok(line)) = lines.next() {
            if let Some(k) = line.strip_prefix("verifier key: ") {
                key = Some(k.to_string());
            }
            if let Some(url) = line.strip_prefix("listening on ") {
                std::thread::spawn(move || lines.for_each(drop));
                return Ok(Serve {
                    child,
                    url: url.to_string(),
                    key: key.expect("the verifier key is printed before the address"),
                    log,
                });
            }
        }
        child.wait().unwrap();
        let mut err = String::new();
        log.seek(SeekFrom::Start(0)).unwrap();
        log.read_to_string(&mut err).unwrap();
        Err(err)
    }

    /// What the server has logged so far.
    pub fn log_text(&self) -> String {
        // Positioned reads: the server writes through the same file offset.
        use std::os::unix::fs::FileExt;
        let mut bytes = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match self.log.read_at(&mut buf, bytes.len() as u64).unwrap() {
                0 => break,
                n => bytes.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the log holds, read through the API page by page.
pub struct Walk {
    /// index → (event_id, leaf hash in base64)
    pub entries: HashMap<u64, (String, String)>,
}

/// Reads every entry through the one HTTP client; fails on an event logged twice.
pub async fn walk(url: &str, auditor: &str) -> Walk {
    let client = threadlog_client::Client::new(url, Some(auditor)).unwrap();
    let mut ids = HashSet::new();
    let mut entries = HashMap::new();
    let mut after: Option<u64> = None;
    loop {
        let page = client.entries(after, 1000).await.unwrap();
        for e in page.entries {
            let id = e.entry["body"]["event_id"].as_str().unwrap().to_string();
            assert!(ids.insert(id.clone()), "duplicate event_id {id}");
            entries.insert(e.index, (id, e.leaf_hash));
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Walk { entries }
}

impl Walk {
    /// Every acknowledged (index → event_id, leaf hash) is in the log as acknowledged.
    pub fn holds(&self, acked: &HashMap<u64, (String, String)>) {
        for (index, ack) in acked {
            let logged = self
                .entries
                .get(index)
                .unwrap_or_else(|| panic!("acknowledged entry {index} is gone"));
            assert_eq!(logged, ack, "entry {index}");
        }
    }
}
