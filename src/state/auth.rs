//! Users, roles and key permissions: etcd's auth model, replicated through the log like every other
//! collection, so every node judges a request against the same rules.
//!
//! The store holds only what must agree across nodes: whether auth is on, each user's password
//! hash and roles, each role's permissions, and the key tokens are signed with. Checking a password
//! or a token, and deciding what a request may touch, happen at the doors ([`crate::security`]);
//! the rules for *what a permission covers* live here, in [`AuthStore::permits`], so they are one
//! function whatever door asked.
//!
//! Keys are bytes compared lexicographically. A permission covers `[key, range_end)`: an empty
//! `range_end` means the single key, `"\0"` means every key from `key` on (etcd's conventions, so
//! `etcdctl role grant-permission --prefix` works unchanged).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The user that must exist, holding [`ROOT_ROLE`], before auth can be turned on; it may do
/// everything, including managing users and roles.
pub const ROOT_USER: &str = "root";
/// The role that permits everything. It needs no `role add`: granting it is enough.
pub const ROOT_ROLE: &str = "root";

/// Bytes of the key tokens are signed with.
pub const TOKEN_KEY_BYTES: usize = 32;

/// Most users the store keeps: with the other limits below, the whole store stays a few MiB, so it
/// fits in a snapshot's header record (80 MiB at most) with room to spare.
pub const MAX_USERS: usize = 10_000;
/// Most roles.
pub const MAX_ROLES: usize = 1_000;
/// Most permissions of one role.
pub const MAX_PERMISSIONS_PER_ROLE: usize = 1_000;
/// Longest user or role name, and longest permission key or range end, in bytes.
pub const MAX_NAME_BYTES: usize = 1_024;

/// Read, write, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Access {
    /// Reads only.
    Read,
    /// Writes only.
    Write,
    /// Both.
    ReadWrite,
}

impl Access {
    /// True when a permission of this kind allows `wanted` (which is `Read` or `Write`).
    fn allows(self, wanted: Access) -> bool {
        self == Access::ReadWrite || self == wanted
    }
}

/// One key, one range or one prefix a role may read or write.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Permission {
    /// What the role may do there.
    pub access: Access,
    /// The first key.
    pub key: Vec<u8>,
    /// The end of the range, exclusive; empty: `key` alone; `"\0"`: every key from `key` on.
    pub range_end: Vec<u8>,
}

/// A user: its password hash (an Argon2id PHC string; empty for a user that cannot log in with a
/// password) and its roles.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Argon2id PHC string, made at the door; never the password.
    pub password_hash: String,
    /// Role names, sorted.
    pub roles: BTreeSet<String>,
    /// The auth revision of the user's last password change: tokens issued before it are void.
    pub password_revision: u64,
}

/// Changes to the store; each is one log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthCommand {
    /// Turn checking on. `token_key` is fresh random bytes from the door; a store already on
    /// keeps the key it has, so tokens issued earlier stay valid.
    Enable {
        /// The key tokens are signed with while auth stays on.
        token_key: Vec<u8>,
    },
    /// Turn checking off.
    Disable,
    /// Add a user.
    UserAdd {
        /// Its name.
        name: String,
        /// Its password's hash (empty: no password).
        password_hash: String,
    },
    /// Remove a user.
    UserDelete {
        /// Its name.
        name: String,
    },
    /// Replace a user's password hash (voiding its tokens).
    UserChangePassword {
        /// Its name.
        name: String,
        /// The new hash.
        password_hash: String,
    },
    /// Give a user a role.
    UserGrantRole {
        /// The user.
        user: String,
        /// The role.
        role: String,
    },
    /// Take a role from a user.
    UserRevokeRole {
        /// The user.
        user: String,
        /// The role.
        role: String,
    },
    /// Add a role with no permissions.
    RoleAdd {
        /// Its name.
        name: String,
    },
    /// Remove a role, and take it from every user.
    RoleDelete {
        /// Its name.
        name: String,
    },
    /// Give a role a permission (replacing one on the same key and range).
    RoleGrantPermission {
        /// The role.
        role: String,
        /// What it may do, and where.
        permission: Permission,
    },
    /// Take the permission on exactly this key and range from a role.
    RoleRevokePermission {
        /// The role.
        role: String,
        /// The permission's key.
        key: Vec<u8>,
        /// The permission's range end.
        range_end: Vec<u8>,
    },
}

impl AuthCommand {
    /// The length of the longest name or key the change carries.
    fn longest_name(&self) -> usize {
        match self {
            AuthCommand::Enable { .. } | AuthCommand::Disable => 0,
            AuthCommand::UserAdd { name, .. }
            | AuthCommand::UserDelete { name }
            | AuthCommand::UserChangePassword { name, .. }
            | AuthCommand::RoleAdd { name }
            | AuthCommand::RoleDelete { name } => name.len(),
            AuthCommand::UserGrantRole { user, role }
            | AuthCommand::UserRevokeRole { user, role } => user.len().max(role.len()),
            AuthCommand::RoleGrantPermission { role, permission } => role
                .len()
                .max(permission.key.len())
                .max(permission.range_end.len()),
            AuthCommand::RoleRevokePermission {
                role,
                key,
                range_end,
            } => role.len().max(key.len()).max(range_end.len()),
        }
    }

    /// The change as one line of the transaction log: names and keys, never a password hash.
    pub fn describe(&self) -> String {
        match self {
            AuthCommand::Enable { .. } => "auth enable".into(),
            AuthCommand::Disable => "auth disable".into(),
            AuthCommand::UserAdd { name, .. } => format!("user add {name:?}"),
            AuthCommand::UserDelete { name } => format!("user delete {name:?}"),
            AuthCommand::UserChangePassword { name, .. } => format!("user passwd {name:?}"),
            AuthCommand::UserGrantRole { user, role } => format!("user grant {user:?} {role:?}"),
            AuthCommand::UserRevokeRole { user, role } => format!("user revoke {user:?} {role:?}"),
            AuthCommand::RoleAdd { name } => format!("role add {name:?}"),
            AuthCommand::RoleDelete { name } => format!("role delete {name:?}"),
            AuthCommand::RoleGrantPermission { role, permission } => format!(
                "role grant {role:?} {:?} {:?} {:?}",
                permission.access,
                String::from_utf8_lossy(&permission.key),
                String::from_utf8_lossy(&permission.range_end)
            ),
            AuthCommand::RoleRevokePermission {
                role,
                key,
                range_end,
            } => format!(
                "role revoke {role:?} {:?} {:?}",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(range_end)
            ),
        }
    }
}

/// Why an auth change or check failed: etcd's errors, with etcd's texts (its clients match them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AuthError {
    /// `auth enable` without a root user.
    #[error("etcdserver: root user does not exist")]
    RootUserNotExist,
    /// `auth enable` with a root user that lacks the root role.
    #[error("etcdserver: root user does not have root role")]
    RootRoleNotExist,
    /// `user add` of an existing name.
    #[error("etcdserver: user name already exists")]
    UserAlreadyExist,
    /// An empty user name, or a request without credentials while auth is on.
    #[error("etcdserver: user name is empty")]
    UserEmpty,
    /// No such user.
    #[error("etcdserver: user name not found")]
    UserNotFound,
    /// `role add` of an existing name.
    #[error("etcdserver: role name already exists")]
    RoleAlreadyExist,
    /// No such role.
    #[error("etcdserver: role name not found")]
    RoleNotFound,
    /// An empty role name.
    #[error("etcdserver: role name is empty")]
    RoleEmpty,
    /// Wrong user or password.
    #[error("etcdserver: authentication failed, invalid user ID or password")]
    AuthFailed,
    /// The user may not do this.
    #[error("etcdserver: permission denied")]
    PermissionDenied,
    /// `user revoke-role` of a role the user does not have.
    #[error("etcdserver: role is not granted to the user")]
    RoleNotGranted,
    /// `role revoke-permission` of a permission the role does not have.
    #[error("etcdserver: permission is not granted to the role")]
    PermissionNotGranted,
    /// `authenticate` while auth is off.
    #[error("etcdserver: authentication is not enabled")]
    AuthNotEnabled,
    /// A token that is malformed, forged, expired, or of a deleted user or an old password.
    #[error("etcdserver: invalid auth token")]
    InvalidAuthToken,
    /// A change that would lock everyone out (deleting root, or its root role, while auth is on).
    #[error("etcdserver: invalid auth management")]
    InvalidAuthMgmt,
    /// Too many users, roles or permissions, or a name or key too long.
    #[error("etcdserver: too many users, roles or permissions, or a name too long")]
    TooMany,
}

/// The replicated auth state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthStore {
    enabled: bool,
    /// Rises with every change applied, as etcd's auth revision.
    revision: u64,
    /// Empty while auth has never been on.
    token_key: Vec<u8>,
    users: BTreeMap<String, User>,
    /// Each role's permissions, sorted and without duplicates of one (key, range_end).
    roles: BTreeMap<String, Vec<Permission>>,
}

impl AuthStore {
    /// Applies one change; a refused change leaves the store as it was.
    pub fn apply(&mut self, command: &AuthCommand) -> Result<(), AuthError> {
        if command.longest_name() > MAX_NAME_BYTES {
            return Err(AuthError::TooMany);
        }
        self.check_and_apply(command)?;
        self.revision += 1;
        Ok(())
    }

    fn check_and_apply(&mut self, command: &AuthCommand) -> Result<(), AuthError> {
        match command {
            AuthCommand::Enable { token_key } => {
                let root = self
                    .users
                    .get(ROOT_USER)
                    .ok_or(AuthError::RootUserNotExist)?;
                if !root.roles.contains(ROOT_ROLE) {
                    return Err(AuthError::RootRoleNotExist);
                }
                if !self.enabled || self.token_key.len() != TOKEN_KEY_BYTES {
                    if token_key.len() != TOKEN_KEY_BYTES {
                        return Err(AuthError::InvalidAuthMgmt);
                    }
                    self.token_key = token_key.clone();
                }
                self.enabled = true;
            }
            AuthCommand::Disable => self.enabled = false,
            AuthCommand::UserAdd {
                name,
                password_hash,
            } => {
                if name.is_empty() {
                    return Err(AuthError::UserEmpty);
                }
                if self.users.contains_key(name) {
                    return Err(AuthError::UserAlreadyExist);
                }
                if self.users.len() >= MAX_USERS {
                    return Err(AuthError::TooMany);
                }
                let user = User {
                    password_hash: password_hash.clone(),
                    roles: BTreeSet::new(),
                    password_revision: self.revision + 1,
                };
                self.users.insert(name.clone(), user);
            }
            AuthCommand::UserDelete { name } => {
                if self.enabled && name == ROOT_USER {
                    return Err(AuthError::InvalidAuthMgmt);
                }
                self.users.remove(name).ok_or(AuthError::UserNotFound)?;
            }
            AuthCommand::UserChangePassword {
                name,
                password_hash,
            } => {
                let revision = self.revision + 1;
                let user = self.users.get_mut(name).ok_or(AuthError::UserNotFound)?;
                user.password_hash = password_hash.clone();
                user.password_revision = revision;
            }
            AuthCommand::UserGrantRole { user, role } => {
                if role != ROOT_ROLE && !self.roles.contains_key(role) {
                    return Err(AuthError::RoleNotFound);
                }
                let user = self.users.get_mut(user).ok_or(AuthError::UserNotFound)?;
                user.roles.insert(role.clone());
            }
            AuthCommand::UserRevokeRole { user, role } => {
                if self.enabled && user == ROOT_USER && role == ROOT_ROLE {
                    return Err(AuthError::InvalidAuthMgmt);
                }
                let user = self.users.get_mut(user).ok_or(AuthError::UserNotFound)?;
                if !user.roles.remove(role) {
                    return Err(AuthError::RoleNotGranted);
                }
            }
            AuthCommand::RoleAdd { name } => {
                if name.is_empty() {
                    return Err(AuthError::RoleEmpty);
                }
                if self.roles.contains_key(name) {
                    return Err(AuthError::RoleAlreadyExist);
                }
                if self.roles.len() >= MAX_ROLES {
                    return Err(AuthError::TooMany);
                }
                self.roles.insert(name.clone(), Vec::new());
            }
            AuthCommand::RoleDelete { name } => {
                if self.enabled && name == ROOT_ROLE {
                    return Err(AuthError::InvalidAuthMgmt);
                }
                self.roles.remove(name).ok_or(AuthError::RoleNotFound)?;
                for user in self.users.values_mut() {
                    user.roles.remove(name);
                }
            }
            AuthCommand::RoleGrantPermission { role, permission } => {
                let permissions = self.roles.get_mut(role).ok_or(AuthError::RoleNotFound)?;
                let same =
                    |p: &Permission| p.key == permission.key && p.range_end == permission.range_end;
                let full = permissions.len() >= MAX_PERMISSIONS_PER_ROLE;
                match permissions.iter_mut().find(|p| same(p)) {
                    Some(existing) => existing.access = permission.access,
                    None if full => return Err(AuthError::TooMany),
                    None => {
                        permissions.push(permission.clone());
                        permissions.sort();
                    }
                }
            }
            AuthCommand::RoleRevokePermission {
                role,
                key,
                range_end,
            } => {
                let permissions = self.roles.get_mut(role).ok_or(AuthError::RoleNotFound)?;
                let before = permissions.len();
                permissions.retain(|p| !(&p.key == key && &p.range_end == range_end));
                if permissions.len() == before {
                    return Err(AuthError::PermissionNotGranted);
                }
            }
        }
        Ok(())
    }

    /// Whether requests are checked.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The auth revision: the number of changes applied.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The key tokens are signed with (empty before auth was first enabled).
    pub fn token_key(&self) -> &[u8] {
        &self.token_key
    }

    /// A user, by name.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// Every user name, sorted.
    pub fn user_names(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// A role's permissions, by name (the root role has none listed: it permits everything).
    pub fn role(&self, name: &str) -> Option<&[Permission]> {
        self.roles.get(name).map(Vec::as_slice)
    }

    /// Every role name, sorted.
    pub fn role_names(&self) -> impl Iterator<Item = &str> {
        self.roles.keys().map(String::as_str)
    }

    /// True when `user` holds the root role (it may do anything, including managing auth).
    pub fn is_root(&self, user: &str) -> bool {
        self.users
            .get(user)
            .is_some_and(|u| u.roles.contains(ROOT_ROLE))
    }

    /// True when `user` may do `wanted` (`Read` or `Write`) on every key of `[key, range_end)`
    /// (etcd's range conventions, see the module docs). Always true while auth is off.
    ///
    /// The permitted ranges of all the user's roles are merged first, so a range split across two
    /// permissions is covered as a whole.
    pub fn permits(&self, user: &str, wanted: Access, key: &[u8], range_end: &[u8]) -> bool {
        if !self.enabled {
            return true;
        }
        let Some(u) = self.users.get(user) else {
            return false;
        };
        if u.roles.contains(ROOT_ROLE) {
            return true;
        }
        let mut ranges: Vec<(Vec<u8>, Bound)> = u
            .roles
            .iter()
            .filter_map(|r| self.roles.get(r))
            .flatten()
            .filter(|p| p.access.allows(wanted))
            .map(|p| (p.key.clone(), Bound::end_of(&p.key, &p.range_end)))
            .collect();
        ranges.sort();
        let want_end = Bound::end_of(key, range_end);
        // Walk the merged ranges from the left, extending the covered prefix of the request.
        let mut covered = key.to_vec();
        for (start, end) in ranges {
            if start.as_slice() > covered.as_slice() {
                // Ranges are sorted by start: no later one reaches back over this gap.
                break;
            }
            if end.after(&covered) {
                match end {
                    Bound::Infinite => return true,
                    Bound::Before(e) => covered = e,
                }
            }
            if !want_end.after(&covered) {
                return true;
            }
        }
        !want_end.after(&covered)
    }
}

/// The exclusive end of a key range.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Bound {
    /// Keys below this one.
    Before(Vec<u8>),
    /// Every key.
    Infinite,
}

impl Bound {
    /// The end of `[key, range_end)` in etcd's conventions: empty `range_end` is `key` alone
    /// (whose exclusive end is `key + "\0"`), `"\0"` is no end.
    fn end_of(key: &[u8], range_end: &[u8]) -> Bound {
        match range_end {
            [] => {
                let mut next = key.to_vec();
                next.push(0);
                Bound::Before(next)
            }
            [0] => Bound::Infinite,
            end => Bound::Before(end.to_vec()),
        }
    }

    /// True when this end lies beyond `key` (some key at or above `key` is below it).
    fn after(&self, key: &[u8]) -> bool {
        match self {
            Bound::Infinite => true,
            Bound::Before(end) => end.as_slice() > key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(perms: &[(Access, &str, &str)]) -> AuthStore {
        let mut s = AuthStore::default();
        let ok = |s: &mut AuthStore, c: AuthCommand| s.apply(&c).unwrap();
        ok(
            &mut s,
            AuthCommand::UserAdd {
                name: "root".into(),
                password_hash: String::new(),
            },
        );
        ok(
            &mut s,
            AuthCommand::UserGrantRole {
                user: "root".into(),
                role: "root".into(),
            },
        );
        ok(
            &mut s,
            AuthCommand::UserAdd {
                name: "u".into(),
                password_hash: String::new(),
            },
        );
        ok(&mut s, AuthCommand::RoleAdd { name: "r".into() });
        ok(
            &mut s,
            AuthCommand::UserGrantRole {
                user: "u".into(),
                role: "r".into(),
            },
        );
        for (access, key, end) in perms {
            let permission = Permission {
                access: *access,
                key: key.as_bytes().to_vec(),
                range_end: end.as_bytes().to_vec(),
            };
            ok(
                &mut s,
                AuthCommand::RoleGrantPermission {
                    role: "r".into(),
                    permission,
                },
            );
        }
        ok(
            &mut s,
            AuthCommand::Enable {
                token_key: vec![7; TOKEN_KEY_BYTES],
            },
        );
        s
    }

    #[test]
    fn a_single_key_permission_covers_that_key_only() {
        let s = store_with(&[(Access::Write, "k", "")]);
        assert!(s.permits("u", Access::Write, b"k", b""));
        assert!(!s.permits("u", Access::Read, b"k", b""));
        assert!(!s.permits("u", Access::Write, b"k0", b""));
        assert!(!s.permits("u", Access::Write, b"k", b"l"));
        assert!(s.permits("root", Access::Write, b"anything", b"\0"));
        assert!(!s.permits("nobody", Access::Read, b"k", b""));
    }

    #[test]
    fn ranges_split_across_permissions_are_merged() {
        let s = store_with(&[(Access::Read, "a", "c"), (Access::ReadWrite, "c", "e")]);
        assert!(s.permits("u", Access::Read, b"a", b"e"));
        assert!(s.permits("u", Access::Read, b"b", b"d"));
        assert!(!s.permits("u", Access::Read, b"a", b"f"));
        assert!(!s.permits("u", Access::Write, b"b", b""));
        assert!(s.permits("u", Access::Write, b"d", b""));
        let gap = store_with(&[(Access::Read, "a", "b"), (Access::Read, "c", "e")]);
        assert!(!gap.permits("u", Access::Read, b"a", b"d"));
    }

    #[test]
    fn a_prefix_and_an_open_range_cover_what_etcdctl_asks_for() {
        // `--prefix foo/` is [foo/, foo0); `--from-key m` is [m, "\0").
        let s = store_with(&[(Access::Read, "foo/", "foo0"), (Access::Write, "m", "\0")]);
        assert!(s.permits("u", Access::Read, b"foo/", b"foo0"));
        assert!(s.permits("u", Access::Read, b"foo/bar", b""));
        assert!(!s.permits("u", Access::Read, b"foo", b""));
        assert!(s.permits("u", Access::Write, b"zzz", b"\0"));
        assert!(!s.permits("u", Access::Write, b"a", b"\0"));
    }

    #[test]
    fn off_permits_everything_and_enable_needs_a_root_user_with_the_root_role() {
        let mut s = AuthStore::default();
        assert!(s.permits("nobody", Access::Write, b"k", b""));
        let key = vec![1; TOKEN_KEY_BYTES];
        let enable = AuthCommand::Enable {
            token_key: key.clone(),
        };
        assert_eq!(s.apply(&enable), Err(AuthError::RootUserNotExist));
        let add = AuthCommand::UserAdd {
            name: "root".into(),
            password_hash: String::new(),
        };
        s.apply(&add).unwrap();
        assert_eq!(s.apply(&enable), Err(AuthError::RootRoleNotExist));
        let grant = AuthCommand::UserGrantRole {
            user: "root".into(),
            role: "root".into(),
        };
        s.apply(&grant).unwrap();
        s.apply(&enable).unwrap();
        assert!(s.enabled());
        assert_eq!(s.token_key(), key.as_slice());
        // Enabling again keeps the key, so tokens already issued stay valid.
        s.apply(&AuthCommand::Enable {
            token_key: vec![2; TOKEN_KEY_BYTES],
        })
        .unwrap();
        assert_eq!(s.token_key(), key.as_slice());
        let del = AuthCommand::UserDelete {
            name: "root".into(),
        };
        assert_eq!(s.apply(&del), Err(AuthError::InvalidAuthMgmt));
        let revision = s.revision();
        let revoke = AuthCommand::UserRevokeRole {
            user: "root".into(),
            role: "root".into(),
        };
        assert_eq!(s.apply(&revoke), Err(AuthError::InvalidAuthMgmt));
        assert_eq!(s.revision(), revision, "a refused change is not a revision");
    }

    #[test]
    fn deleting_a_role_takes_it_from_its_users() {
        let mut s = store_with(&[(Access::Read, "k", "")]);
        assert!(s.permits("u", Access::Read, b"k", b""));
        s.apply(&AuthCommand::RoleDelete { name: "r".into() })
            .unwrap();
        assert!(!s.permits("u", Access::Read, b"k", b""));
        assert!(s.user("u").unwrap().roles.is_empty());
        let revoke = AuthCommand::RoleRevokePermission {
            role: "missing".into(),
            key: b"k".to_vec(),
            range_end: vec![],
        };
        assert_eq!(s.apply(&revoke), Err(AuthError::RoleNotFound));
    }
}
