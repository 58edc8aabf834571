//! Private SoftHSM tokens for tests. SoftHSM reads `SOFTHSM2_CONF` once, at C_Initialize,
//! and only sees tokens that exist then, so the test binary gets one configuration and
//! token directory and creates every token of [`LABELS`] before the first test touches
//! the module. A missing SoftHSM fails the tests loudly; they are never skipped.
#![allow(dead_code)]

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::session::{Session, UserType};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const PIN: &str = "1234-test";
pub const SO_PIN: &str = "5678-test";

pub struct Tokens {
    _dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub tokendir: PathBuf,
    dirs: HashMap<String, PathBuf>,
}

static TOKENS: OnceLock<Tokens> = OnceLock::new();

/// The tokens the tests use, one a test (or a group of tests) so none sees another's keys.
pub const LABELS: &[&str] = &[
    "gen", "sign", "adopt", "refuse", "pin", "server", "cli", "relogin", "uri", "fault",
    "rotation", "bench",
];

/// Creates the configuration and one token per label of [`LABELS`] (with [`PIN`]) on
/// the first call.
pub fn tokens() -> &'static Tokens {
    TOKENS.get_or_init(|| {
        assert!(
            Path::new(MODULE).exists(),
            "{MODULE} is missing: install SoftHSM (apt-get install softhsm2); \
             scripts/test.sh does this"
        );
        let dir = tempfile::tempdir().unwrap();
        let tokendir = dir.path().join("tokens");
        std::fs::create_dir(&tokendir).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokendir.display()
            ),
        )
        .unwrap();
        let mut dirs = HashMap::new();
        for label in LABELS {
            let before = token_dirs(&tokendir);
            let out = Command::new("softhsm2-util")
                .env("SOFTHSM2_CONF", &conf)
                .args(["--init-token", "--free", "--label", label])
                .args(["--pin", PIN, "--so-pin", SO_PIN])
                .output()
                .expect("softhsm2-util runs (apt-get install softhsm2)");
            assert!(
                out.status.success(),
                "softhsm2-util --init-token: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let new = token_dirs(&tokendir)
                .into_iter()
                .find(|d| !before.contains(d))
                .expect("a new token directory");
            dirs.insert(label.to_string(), new);
        }
        // Set before any test loads the module, and only here, once per process.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        std::env::set_var("THREADLOG_PKCS11_PIN", PIN);
        Tokens {
            _dir: dir,
            conf,
            tokendir,
            dirs,
        }
    })
}

impl Tokens {
    /// The directory holding the token's files.
    pub fn dir(&self, label: &str) -> &Path {
        &self.dirs[label]
    }

    /// A logged-in read-write session on the token, through the test's own handle on the
    /// module (the same library instance the signer uses), to make or inspect objects.
    pub fn session(&self, label: &str) -> Session {
        // One handle for the whole test binary, never dropped: dropping a cryptoki
        // context finalizes the module, which would pull it from under every other
        // test's signer in this process.
        static CTX: OnceLock<Pkcs11> = OnceLock::new();
        let ctx = CTX.get_or_init(|| {
            let ctx = Pkcs11::new(MODULE).unwrap();
            match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
                Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
                Err(e) => panic!("C_Initialize: {e}"),
            }
            ctx
        });
        let slot = ctx
            .get_slots_with_token()
            .unwrap()
            .into_iter()
            .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == label)
            .expect("the token exists");
        let session = ctx.open_rw_session(slot).unwrap();
        match session.login(UserType::User, Some(&PIN.to_string().into())) {
            Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => panic!("C_Login: {e}"),
        }
        session
    }
}

fn token_dirs(tokendir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tokendir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// A `THREADLOG_SIGNER` spec for `key` in the token labelled `token`.
pub fn spec(token: &str, key: &str) -> String {
    format!("pkcs11:module={MODULE};token={token};key={key}")
}
