//! The Auth service: users, roles and permissions (etcd's model), so `etcdctl user add`, `role
//! grant-permission`, `auth enable` and `--user` work unchanged. Changes go through the log (a
//! follower forwards them to the leader); the judging is [`crate::security::Authenticator`]'s.

use std::future::Future;

use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use super::context::{auth_status, client_status, EtcdContext};
use super::pb::authpb;
use super::pb::etcdserverpb::auth_client::AuthClient;
use super::pb::etcdserverpb::auth_server::Auth;
use super::pb::etcdserverpb::*;
use crate::replicator::{Answer, ClientError, Consistency};
use crate::security::auth::hash_password_async;
use crate::security::Caller;
use crate::state::auth::{Access, AuthCommand, AuthError, TOKEN_KEY_BYTES};
use crate::state::{ApplyResult, Command};

/// etcd's Auth service on this node.
pub struct AuthService(pub EtcdContext);

impl AuthService {
    /// Applies `change` through the log, or forwards `request` to the leader with `call`.
    async fn change<T, R, F, Fut>(
        &self,
        request: &Request<T>,
        change: AuthCommand,
        call: F,
    ) -> Result<Option<Response<R>>, Status>
    where
        T: Clone,
        F: FnOnce(AuthClient<Channel>, Request<T>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        match self.0.submit(Command::Auth(change), None).await? {
            Ok(Answer {
                result: ApplyResult::AuthChanged,
                ..
            }) => Ok(None),
            Ok(Answer {
                result: ApplyResult::AuthFailed(e),
                ..
            }) => Err(auth_status(e)),
            Ok(Answer { result, .. }) => Err(Status::internal(format!(
                "unexpected result of an auth change: {result:?}"
            ))),
            Err(ClientError::NotLeader {
                leader: Some(leader),
            }) => {
                let channel = self.0.leader_channel(leader, request)?;
                let forwarded = EtcdContext::forwarded(request);
                call(AuthClient::new(channel), forwarded).await.map(Some)
            }
            Err(e) => Err(client_status(e)),
        }
    }

    /// The caller, if it holds the root role (or auth is off).
    fn root<T>(&self, request: &Request<T>) -> Result<(), Status> {
        self.0.require_root(request.metadata())
    }

    /// The caller, if it is root or the user `name` itself (etcd lets users read their own
    /// record).
    fn root_or_self<T>(&self, request: &Request<T>, name: &str) -> Result<(), Status> {
        match self.0.caller(request.metadata())? {
            Caller::User(user) if user == name => Ok(()),
            caller => self.0.auth.require_root(&caller).map_err(auth_status),
        }
    }

    fn header(&self) -> Option<ResponseHeader> {
        self.0.current_header()
    }
}

/// Serves one change: checks that the caller is root, applies the change (or forwards), answers
/// the response with a header.
macro_rules! change {
    ($self:ident, $request:ident, $change:expr, $method:ident, $response:ident) => {{
        $self.root(&$request)?;
        let change = $change;
        match $self
            .change(
                &$request,
                change,
                |mut c, r| async move { c.$method(r).await },
            )
            .await?
        {
            Some(forwarded) => Ok(forwarded),
            None => Ok(Response::new($response {
                header: $self.header(),
            })),
        }
    }};
}

/// The hash stored for a new password: etcd's `no_password` option stores none.
async fn stored_hash(password: &str, no_password: bool) -> Result<String, Status> {
    if no_password {
        return Ok(String::new());
    }
    if password.is_empty() {
        return Err(Status::invalid_argument(
            "etcdserver: password is empty (use the no_password option for a user without one)",
        ));
    }
    Ok(hash_password_async(password.to_string()).await)
}

fn perm_type_of(access: Access) -> i32 {
    let t = match access {
        Access::Read => authpb::permission::Type::Read,
        Access::Write => authpb::permission::Type::Write,
        Access::ReadWrite => authpb::permission::Type::Readwrite,
    };
    t as i32
}

fn random_token_key() -> Vec<u8> {
    let mut key = vec![0u8; TOKEN_KEY_BYTES];
    rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut key)
        .expect("the OS random source works");
    key
}

#[tonic::async_trait]
impl Auth for AuthService {
    async fn auth_enable(
        &self,
        request: Request<AuthEnableRequest>,
    ) -> Result<Response<AuthEnableResponse>, Status> {
        let token_key = random_token_key();
        change!(
            self,
            request,
            AuthCommand::Enable { token_key },
            auth_enable,
            AuthEnableResponse
        )
    }

    async fn auth_disable(
        &self,
        request: Request<AuthDisableRequest>,
    ) -> Result<Response<AuthDisableResponse>, Status> {
        change!(
            self,
            request,
            AuthCommand::Disable,
            auth_disable,
            AuthDisableResponse
        )
    }

    async fn auth_status(
        &self,
        _: Request<AuthStatusRequest>,
    ) -> Result<Response<AuthStatusResponse>, Status> {
        let store = self.0.auth.store();
        Ok(Response::new(AuthStatusResponse {
            header: self.header(),
            enabled: store.enabled(),
            auth_revision: store.revision(),
        }))
    }

    async fn authenticate(
        &self,
        request: Request<AuthenticateRequest>,
    ) -> Result<Response<AuthenticateResponse>, Status> {
        // A read barrier first: a user added a moment ago through another node is known here.
        let barrier = Command::KvGet { key: String::new() };
        if let Err(e) = self
            .0
            .submit(barrier, Some(Consistency::Linearizable))
            .await?
        {
            return Err(client_status(e));
        }
        let r = request.get_ref();
        let token = self
            .0
            .auth
            .authenticate(&r.name, &r.password)
            .await
            .map_err(auth_status)?;
        Ok(Response::new(AuthenticateResponse {
            header: self.header(),
            token,
        }))
    }

    async fn user_add(
        &self,
        request: Request<AuthUserAddRequest>,
    ) -> Result<Response<AuthUserAddResponse>, Status> {
        // Checked before hashing (as `change!` checks again), so no one else makes the node hash.
        self.root(&request)?;
        let r = request.get_ref();
        if !r.hashed_password.is_empty() {
            return Err(Status::invalid_argument(
                "etcdserver: raftkv stores Argon2id hashes it makes itself; send the password",
            ));
        }
        let no_password = r.options.as_ref().is_some_and(|o| o.no_password);
        let password_hash = stored_hash(&r.password, no_password).await?;
        let name = r.name.clone();
        change!(
            self,
            request,
            AuthCommand::UserAdd {
                name,
                password_hash
            },
            user_add,
            AuthUserAddResponse
        )
    }

    async fn user_get(
        &self,
        request: Request<AuthUserGetRequest>,
    ) -> Result<Response<AuthUserGetResponse>, Status> {
        let name = &request.get_ref().name;
        self.root_or_self(&request, name)?;
        let store = self.0.auth.store();
        let user = store
            .user(name)
            .ok_or(auth_status(AuthError::UserNotFound))?;
        Ok(Response::new(AuthUserGetResponse {
            header: self.header(),
            roles: user.roles.iter().cloned().collect(),
        }))
    }

    async fn user_list(
        &self,
        request: Request<AuthUserListRequest>,
    ) -> Result<Response<AuthUserListResponse>, Status> {
        self.root(&request)?;
        let store = self.0.auth.store();
        Ok(Response::new(AuthUserListResponse {
            header: self.header(),
            users: store.user_names().map(str::to_string).collect(),
        }))
    }

    async fn user_delete(
        &self,
        request: Request<AuthUserDeleteRequest>,
    ) -> Result<Response<AuthUserDeleteResponse>, Status> {
        let name = request.get_ref().name.clone();
        change!(
            self,
            request,
            AuthCommand::UserDelete { name },
            user_delete,
            AuthUserDeleteResponse
        )
    }

    async fn user_change_password(
        &self,
        request: Request<AuthUserChangePasswordRequest>,
    ) -> Result<Response<AuthUserChangePasswordResponse>, Status> {
        self.root(&request)?;
        let r = request.get_ref();
        let password_hash = stored_hash(&r.password, false).await?;
        let name = r.name.clone();
        change!(
            self,
            request,
            AuthCommand::UserChangePassword {
                name,
                password_hash
            },
            user_change_password,
            AuthUserChangePasswordResponse
        )
    }

    async fn user_grant_role(
        &self,
        request: Request<AuthUserGrantRoleRequest>,
    ) -> Result<Response<AuthUserGrantRoleResponse>, Status> {
        let AuthUserGrantRoleRequest { user, role } = request.get_ref().clone();
        change!(
            self,
            request,
            AuthCommand::UserGrantRole { user, role },
            user_grant_role,
            AuthUserGrantRoleResponse
        )
    }

    async fn user_revoke_role(
        &self,
        request: Request<AuthUserRevokeRoleRequest>,
    ) -> Result<Response<AuthUserRevokeRoleResponse>, Status> {
        let AuthUserRevokeRoleRequest { name, role } = request.get_ref().clone();
        let change = AuthCommand::UserRevokeRole { user: name, role };
        change!(
            self,
            request,
            change,
            user_revoke_role,
            AuthUserRevokeRoleResponse
        )
    }

    async fn role_add(
        &self,
        request: Request<AuthRoleAddRequest>,
    ) -> Result<Response<AuthRoleAddResponse>, Status> {
        let name = request.get_ref().name.clone();
        change!(
            self,
            request,
            AuthCommand::RoleAdd { name },
            role_add,
            AuthRoleAddResponse
        )
    }

    async fn role_get(
        &self,
        request: Request<AuthRoleGetRequest>,
    ) -> Result<Response<AuthRoleGetResponse>, Status> {
        let role = &request.get_ref().role;
        // Root, or a user reading one of its own roles.
        let store = self.0.auth.store();
        let own = match self.0.caller(request.metadata())? {
            Caller::User(user) => store.user(&user).is_some_and(|u| u.roles.contains(role)),
            Caller::Anonymous => false,
        };
        if !own {
            self.root(&request)?;
        }
        let perms = store
            .role(role)
            .ok_or(auth_status(AuthError::RoleNotFound))?;
        Ok(Response::new(AuthRoleGetResponse {
            header: self.header(),
            perm: perms
                .iter()
                .map(|p| authpb::Permission {
                    perm_type: perm_type_of(p.access),
                    key: p.key.clone(),
                    range_end: p.range_end.clone(),
                })
                .collect(),
        }))
    }

    async fn role_list(
        &self,
        request: Request<AuthRoleListRequest>,
    ) -> Result<Response<AuthRoleListResponse>, Status> {
        self.root(&request)?;
        let store = self.0.auth.store();
        Ok(Response::new(AuthRoleListResponse {
            header: self.header(),
            roles: store.role_names().map(str::to_string).collect(),
        }))
    }

    async fn role_delete(
        &self,
        request: Request<AuthRoleDeleteRequest>,
    ) -> Result<Response<AuthRoleDeleteResponse>, Status> {
        let name = request.get_ref().role.clone();
        change!(
            self,
            request,
            AuthCommand::RoleDelete { name },
            role_delete,
            AuthRoleDeleteResponse
        )
    }

    async fn role_grant_permission(
        &self,
        request: Request<AuthRoleGrantPermissionRequest>,
    ) -> Result<Response<AuthRoleGrantPermissionResponse>, Status> {
        let r = request.get_ref();
        let permission = super::convert::permission(r.perm.clone())?;
        let role = r.name.clone();
        change!(
            self,
            request,
            AuthCommand::RoleGrantPermission { role, permission },
            role_grant_permission,
            AuthRoleGrantPermissionResponse
        )
    }

    async fn role_revoke_permission(
        &self,
        request: Request<AuthRoleRevokePermissionRequest>,
    ) -> Result<Response<AuthRoleRevokePermissionResponse>, Status> {
        let AuthRoleRevokePermissionRequest {
            role,
            key,
            range_end,
        } = request.get_ref().clone();
        change!(
            self,
            request,
            AuthCommand::RoleRevokePermission {
                role,
                key,
                range_end
            },
            role_revoke_permission,
            AuthRoleRevokePermissionResponse
        )
    }
}
