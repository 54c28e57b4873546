//! SoftHSM2 tokens for the PKCS#11 key provider's tests and the release
//! benchmark (also compiled into the crate's unit tests and the benches by
//! `#[path]`). SoftHSM2 reads `SOFTHSM2_CONF` (set by `.cargo/config.toml`)
//! when the module is loaded; the file and its token directory are written
//! here on first use. Each call makes a new token with a label of its own,
//! so tests running in parallel (and several test processes) never share one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

/// Debian's and Ubuntu's path of the SoftHSM2 module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const PIN: &str = "4711-test-pin";
pub const SO_PIN: &str = "0815-test-so-pin";

/// Token directories older than this are left-overs of earlier runs.
const STALE_AFTER: Duration = Duration::from_secs(6 * 60 * 60);

/// The configuration file SoftHSM2 will read, written if missing.
pub fn config_file() -> PathBuf {
    let conf =
        PathBuf::from(std::env::var_os("SOFTHSM2_CONF").expect(
            "SOFTHSM2_CONF is not set: run the tests through cargo (see .cargo/config.toml) or set it yourself",
        ));
    if !conf.exists() {
        let dir = conf.parent().expect("SOFTHSM2_CONF names a file").to_path_buf();
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).expect("create the SoftHSM2 token directory");
        let text = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.canonicalize().expect("token directory").display()
        );
        // Written aside and renamed: test processes starting together never
        // read half a file.
        let temporary = dir.join(format!("softhsm2.conf.{}", std::process::id()));
        std::fs::write(&temporary, text).expect("write the SoftHSM2 configuration");
        std::fs::rename(&temporary, &conf).expect("install the SoftHSM2 configuration");
    }
    remove_stale_tokens(&conf);
    conf
}

/// A fresh, empty token (user PIN [`PIN`]); returns its label.
///
/// Made through PKCS#11 in this process (C_InitToken on SoftHSM2's free
/// slot): SoftHSM2 reads its token directory once, when it is initialised,
/// so a token that `softhsm2-util` made after that would stay invisible.
pub fn new_token(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    static CONTEXT: OnceLock<Pkcs11> = OnceLock::new();
    // One token at a time: they all start on the one free slot.
    static CREATING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = CREATING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    config_file();
    let context = CONTEXT.get_or_init(|| {
        let context = Pkcs11::new(MODULE).expect("SoftHSM2 module (Debian package softhsm2)");
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(error) => panic!("C_Initialize: {error}"),
        }
        context
    });
    let label = format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
    assert!(label.len() <= 32, "token labels have at most 32 characters: {label}");
    let slot = context
        .get_all_slots()
        .expect("slots")
        .into_iter()
        .find(|slot| context.get_token_info(*slot).is_ok_and(|info| !info.token_initialized()))
        .expect("SoftHSM2 always offers a free slot");
    let so_pin = AuthPin::new(SO_PIN.into());
    context.init_token(slot, &so_pin, &label).expect("C_InitToken");
    let session = context.open_rw_session(slot).expect("session");
    session.login(UserType::So, Some(&so_pin)).expect("SO login");
    session.init_pin(&AuthPin::new(PIN.into())).expect("C_InitPIN");
    label
}

fn remove_stale_tokens(conf: &Path) {
    let Some(tokens) = conf.parent().map(|dir| dir.join("tokens")) else { return };
    let Ok(entries) = std::fs::read_dir(tokens) else { return };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .is_some_and(|age| age > STALE_AFTER);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
