//! Who is calling, and may they do this: the one place every door (HTTP, gRPC, text) asks.
//!
//! A caller proves who it is with a password (checked against the user's Argon2id hash) or with a
//! token a node issued after such a check. Tokens are `user.revision.expiry.mac`: an HMAC-SHA256,
//! under the key the replicated auth store holds, over the user, the auth revision of its last
//! password change and the expiry time. Any node can check one without asking another, a
//! password change or a deleted user voids the user's tokens at once, and `auth disable` then
//! `enable` (a new key) voids them all.
//!
//! What a request may touch is decided from its [`Command`] by [`Authenticator::authorize`],
//! whatever door it came through. Students and stacks are guarded as if they were keys: a student
//! is `/raftkv/students/<roll>`, every stack is `/raftkv/stacks` (see the README).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::state::auth::{Access, AuthError, AuthStore};
use crate::state::mvcc::{
    DeleteRangeRequest, EtcdCommand, KeyRange, PutRequest, RequestOp, TxnRequest,
};
use crate::state::Command;

/// The pseudo-key prefix student records are guarded under.
pub const STUDENTS_KEY_PREFIX: &str = "/raftkv/students/";
/// The pseudo-key every stack is guarded under.
pub const STACKS_KEY: &str = "/raftkv/stacks";

/// Verified (user, password) pairs remembered, so a client that sends its password with every
/// request (HTTP basic auth) pays the slow hash once. Cleared whole when full.
const PASSWORD_CACHE_ENTRIES: usize = 1024;

/// Password hashes checked at once. Each Argon2 check holds ~19 MiB for tens of milliseconds,
/// and anyone who reaches a door can ask for one, so they wait their turn here instead of each
/// taking a blocking thread (tokio allows 512) and its memory.
const CONCURRENT_PASSWORD_CHECKS: usize = 4;

/// (user, SHA-256 of the password) → the password revision it was checked against.
type VerifiedPasswords = HashMap<(String, [u8; 32]), u64>;

/// Who a request comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No credentials were given.
    Anonymous,
    /// A user whose password or token was checked.
    User(String),
}

/// The node's judge of credentials and permissions, shared by every door (cheap to clone).
#[derive(Clone)]
pub struct Authenticator {
    /// The auth store as this node applied it, republished after every change.
    view: tokio::sync::watch::Receiver<Arc<AuthStore>>,
    token_ttl: Duration,
    verified: Arc<Mutex<VerifiedPasswords>>,
    /// Places for password checks in progress ([`CONCURRENT_PASSWORD_CHECKS`]).
    checking: Arc<tokio::sync::Semaphore>,
}

impl Authenticator {
    /// A judge reading `view`, issuing tokens that last `token_ttl`.
    pub fn new(view: tokio::sync::watch::Receiver<Arc<AuthStore>>, token_ttl: Duration) -> Self {
        Authenticator {
            view,
            token_ttl,
            verified: Arc::new(Mutex::new(HashMap::new())),
            checking: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_PASSWORD_CHECKS)),
        }
    }

    /// The auth store as applied here now.
    pub fn store(&self) -> Arc<AuthStore> {
        Arc::clone(&self.view.borrow())
    }

    /// Whether requests are checked.
    pub fn enabled(&self) -> bool {
        self.view.borrow().enabled()
    }

    /// Checks `password` against `user`'s hash (slow: run it off the event loop, as
    /// [`Authenticator::check_password`] does).
    fn check_password_blocking(&self, user: &str, password: &str) -> Result<(), AuthError> {
        let store = self.store();
        let record = store.user(user).ok_or(AuthError::AuthFailed)?;
        if record.password_hash.is_empty() {
            return Err(AuthError::AuthFailed);
        }
        let digest: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        let cache_key = (user.to_string(), digest);
        let mut cache = self.verified.lock().expect("never poisoned");
        if cache.get(&cache_key) == Some(&record.password_revision) {
            return Ok(());
        }
        drop(cache);
        verify_password(password, &record.password_hash)?;
        cache = self.verified.lock().expect("never poisoned");
        if cache.len() >= PASSWORD_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(cache_key, record.password_revision);
        Ok(())
    }

    /// Checks `password` against `user`'s hash on a blocking thread.
    pub async fn check_password(&self, user: &str, password: &str) -> Result<(), AuthError> {
        let Ok(_turn) = self.checking.acquire().await else {
            return Err(AuthError::AuthFailed);
        };
        let me = self.clone();
        let (user, password) = (user.to_string(), password.to_string());
        tokio::task::spawn_blocking(move || me.check_password_blocking(&user, &password))
            .await
            .unwrap_or(Err(AuthError::AuthFailed))
    }

    /// Checks a password and returns a token for `user` (etcd's `Authenticate`).
    pub async fn authenticate(&self, user: &str, password: &str) -> Result<String, AuthError> {
        if !self.enabled() {
            return Err(AuthError::AuthNotEnabled);
        }
        self.check_password(user, password).await?;
        self.issue_token(user)
    }

    /// A token for `user`, valid for the configured time to live.
    pub(crate) fn issue_token(&self, user: &str) -> Result<String, AuthError> {
        let store = self.store();
        let record = store.user(user).ok_or(AuthError::AuthFailed)?;
        let expiry = unix_secs() + self.token_ttl.as_secs().max(1);
        let body = format!(
            "{}.{}.{expiry}",
            URL_SAFE_NO_PAD.encode(user),
            record.password_revision
        );
        let mac = token_mac(store.token_key(), &body).finalize().into_bytes();
        Ok(format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac)))
    }

    /// The user a token was issued to, if it is genuine, unexpired, and its user still exists
    /// with the same password.
    pub fn verify_token(&self, token: &str) -> Result<Caller, AuthError> {
        let invalid = AuthError::InvalidAuthToken;
        let (body, mac) = token.rsplit_once('.').ok_or(invalid)?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| invalid)?;
        let store = self.store();
        if store.token_key().is_empty() {
            return Err(invalid);
        }
        token_mac(store.token_key(), body)
            .verify_slice(&mac)
            .map_err(|_| invalid)?;
        let mut parts = body.split('.');
        let (Some(user), Some(revision), Some(expiry), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid);
        };
        let user = URL_SAFE_NO_PAD.decode(user).map_err(|_| invalid)?;
        let user = String::from_utf8(user).map_err(|_| invalid)?;
        let revision: u64 = revision.parse().map_err(|_| invalid)?;
        let expiry: u64 = expiry.parse().map_err(|_| invalid)?;
        if expiry <= unix_secs() {
            return Err(invalid);
        }
        match store.user(&user) {
            Some(record) if record.password_revision == revision => Ok(Caller::User(user)),
            _ => Err(invalid),
        }
    }

    /// Whether `caller` may run `command` (always, while auth is off).
    pub fn authorize(&self, caller: &Caller, command: &Command) -> Result<(), AuthError> {
        let store = self.store();
        if !store.enabled() {
            return Ok(());
        }
        let Caller::User(user) = caller else {
            return Err(AuthError::UserEmpty);
        };
        let mut allowed = true;
        needs(command, &mut |need| {
            allowed &= match need {
                Need::Root => store.is_root(user),
                Need::Key(access, key, end) => store.permits(user, access, &key, &end),
            };
        });
        if allowed {
            Ok(())
        } else {
            Err(AuthError::PermissionDenied)
        }
    }

    /// Whether `caller` may manage the cluster (users, roles, members, snapshots): the root role,
    /// or anyone while auth is off.
    pub fn require_root(&self, caller: &Caller) -> Result<(), AuthError> {
        let store = self.store();
        if !store.enabled() {
            return Ok(());
        }
        match caller {
            Caller::Anonymous => Err(AuthError::UserEmpty),
            Caller::User(user) if store.is_root(user) => Ok(()),
            Caller::User(_) => Err(AuthError::PermissionDenied),
        }
    }
}

/// One thing a command needs permission for.
enum Need {
    /// The root role.
    Root,
    /// `Read` or `Write` on `[key, range_end)`.
    Key(Access, Vec<u8>, Vec<u8>),
}

fn key_need(access: Access, key: &str) -> Need {
    Need::Key(access, key.as_bytes().to_vec(), Vec::new())
}

fn range_need(access: Access, r: &KeyRange) -> Need {
    Need::Key(access, r.key.as_bytes().to_vec(), r.range_end.to_vec())
}

/// Calls `f` with everything `command` needs.
fn needs(command: &Command, f: &mut dyn FnMut(Need)) {
    use Access::{Read, Write};
    let student = |roll_no: u64| format!("{STUDENTS_KEY_PREFIX}{roll_no}");
    match command {
        Command::StudentPut { roll_no, .. } | Command::StudentDelete { roll_no } => {
            f(key_need(Write, &student(*roll_no)))
        }
        Command::StudentGet { roll_no } => f(key_need(Read, &student(*roll_no))),
        // The prefix's range end: the prefix with its last byte ('/') raised by one.
        Command::StudentList => f(Need::Key(
            Read,
            STUDENTS_KEY_PREFIX.as_bytes().to_vec(),
            b"/raftkv/students0".to_vec(),
        )),
        Command::KvPut { key, .. }
        | Command::KvSet { key, .. }
        | Command::KvCas { key, .. }
        | Command::KvDelete { key } => f(key_need(Write, key)),
        Command::KvGet { key } | Command::KvGetMeta { key } => f(key_need(Read, key)),
        Command::StackCreate { .. } | Command::StackPush { .. } | Command::StackPop { .. } => {
            f(key_need(Write, STACKS_KEY))
        }
        Command::StackId { .. } | Command::StackTop { .. } | Command::StackSize { .. } => {
            f(key_need(Read, STACKS_KEY))
        }
        Command::KvPurge | Command::Auth(_) => f(Need::Root),
        Command::Etcd(etcd) => etcd_needs(etcd, f),
    }
}

/// What an etcd operation needs, as etcd checks it: reads of every range read (and of the old
/// values a `prev_kv` returns), writes of every key or range written, both branches of a
/// transaction and every key its compares read; compaction needs root.
fn etcd_needs(command: &EtcdCommand, f: &mut dyn FnMut(Need)) {
    match command {
        EtcdCommand::Range(r) => f(range_need(Access::Read, &r.range)),
        EtcdCommand::Put(p) => put_needs(p, f),
        EtcdCommand::DeleteRange(d) => delete_needs(d, f),
        EtcdCommand::Txn(t) => txn_needs(t, f),
        EtcdCommand::Compact { .. } => f(Need::Root),
        // etcd lets any authenticated user grant, list and inspect leases. Revoking one deletes
        // its keys: the Lease service checks write permission on each before it proposes
        // (`LeaseService::authorize_revoke`), since the command alone does not name them.
        EtcdCommand::LeaseGrant { .. }
        | EtcdCommand::LeaseRevoke { .. }
        | EtcdCommand::LeaseLeases
        | EtcdCommand::LeaseInfo { .. } => {}
    }
}

fn put_needs(p: &PutRequest, f: &mut dyn FnMut(Need)) {
    f(key_need(Access::Write, &p.key));
    if p.prev_kv {
        f(key_need(Access::Read, &p.key));
    }
}

fn delete_needs(d: &DeleteRangeRequest, f: &mut dyn FnMut(Need)) {
    f(range_need(Access::Write, &d.range));
    if d.prev_kv {
        f(range_need(Access::Read, &d.range));
    }
}

fn txn_needs(t: &TxnRequest, f: &mut dyn FnMut(Need)) {
    for compare in &t.compare {
        f(range_need(Access::Read, &compare.range));
    }
    for op in t.success.iter().chain(&t.failure) {
        match op {
            RequestOp::Range(r) => f(range_need(Access::Read, &r.range)),
            RequestOp::Put(p) => put_needs(p, f),
            RequestOp::DeleteRange(d) => delete_needs(d, f),
            RequestOp::Txn(inner) => txn_needs(inner, f),
        }
    }
}

/// The token MAC over `body` under `key`.
fn token_mac(key: &[u8], body: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body.as_bytes());
    mac
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An Argon2id hash of `password` with a fresh random salt, as a PHC string (slow by design: run
/// it off the event loop).
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut salt)
        .expect("the OS random source works");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 with default parameters hashes any password")
        .to_string()
}

/// Checks `password` against a PHC string made by [`hash_password`].
fn verify_password(password: &str, hash: &str) -> Result<(), AuthError> {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let parsed = PasswordHash::new(hash).map_err(|_| AuthError::AuthFailed)?;
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .map_err(|_| AuthError::AuthFailed)
}

/// [`hash_password`] on a blocking thread.
pub async fn hash_password_async(password: String) -> String {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .expect("hashing never panics")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::auth::{AuthCommand, Permission, TOKEN_KEY_BYTES};

    fn judge() -> (Authenticator, tokio::sync::watch::Sender<Arc<AuthStore>>) {
        let mut store = AuthStore::default();
        let hash = hash_password("pw");
        for c in [
            AuthCommand::UserAdd {
                name: "root".into(),
                password_hash: hash.clone(),
            },
            AuthCommand::UserGrantRole {
                user: "root".into(),
                role: "root".into(),
            },
            AuthCommand::UserAdd {
                name: "reader".into(),
                password_hash: hash,
            },
            AuthCommand::RoleAdd { name: "r".into() },
            AuthCommand::RoleGrantPermission {
                role: "r".into(),
                permission: Permission {
                    access: Access::Read,
                    key: b"k".to_vec(),
                    range_end: vec![],
                },
            },
            AuthCommand::UserGrantRole {
                user: "reader".into(),
                role: "r".into(),
            },
            AuthCommand::Enable {
                token_key: vec![9; TOKEN_KEY_BYTES],
            },
        ] {
            store.apply(&c).unwrap();
        }
        let (tx, rx) = tokio::sync::watch::channel(Arc::new(store));
        (Authenticator::new(rx, Duration::from_secs(60)), tx)
    }

    #[tokio::test]
    async fn a_token_names_its_user_until_the_password_changes() {
        let (judge, tx) = judge();
        assert_eq!(
            judge.authenticate("reader", "wrong").await,
            Err(AuthError::AuthFailed)
        );
        let token = judge.authenticate("reader", "pw").await.unwrap();
        assert_eq!(
            judge.verify_token(&token),
            Ok(Caller::User("reader".into()))
        );
        let forged = token.replacen("cmVhZGVy", "cm9vdA", 1);
        assert_eq!(
            judge.verify_token(&forged),
            Err(AuthError::InvalidAuthToken)
        );
        let mut store = (*judge.store()).clone();
        let change = AuthCommand::UserChangePassword {
            name: "reader".into(),
            password_hash: hash_password("new"),
        };
        store.apply(&change).unwrap();
        tx.send(Arc::new(store)).unwrap();
        assert_eq!(judge.verify_token(&token), Err(AuthError::InvalidAuthToken));
        assert_eq!(
            judge.authenticate("reader", "pw").await,
            Err(AuthError::AuthFailed)
        );
    }

    #[test]
    fn commands_are_judged_by_the_keys_they_touch() {
        let (judge, _tx) = judge();
        let reader = Caller::User("reader".into());
        let get = Command::KvGet { key: "k".into() };
        let put = Command::KvPut {
            key: "k".into(),
            value: bytes::Bytes::new(),
        };
        assert_eq!(judge.authorize(&reader, &get), Ok(()));
        assert_eq!(
            judge.authorize(&reader, &put),
            Err(AuthError::PermissionDenied)
        );
        assert_eq!(
            judge.authorize(&Caller::Anonymous, &get),
            Err(AuthError::UserEmpty)
        );
        let root = Caller::User("root".into());
        assert_eq!(judge.authorize(&root, &put), Ok(()));
        let students = Command::StudentList;
        assert_eq!(
            judge.authorize(&reader, &students),
            Err(AuthError::PermissionDenied)
        );
        assert_eq!(
            judge.require_root(&reader),
            Err(AuthError::PermissionDenied)
        );
    }
}
