//! The Auth service: raftkv has no users or roles yet (see the client security issue), so every
//! method answers `Unimplemented`, naming itself. etcdctl calls none of them unless given
//! `--user`.

use tonic::{Request, Response, Status};

use super::pb::etcdserverpb::auth_server::Auth;
use super::pb::etcdserverpb::*;

/// etcd's Auth service on this node: none of it is served yet.
pub struct AuthService;

fn unimplemented(method: &str) -> Status {
    Status::unimplemented(format!(
        "Auth.{method} is not served by raftkv: it has no users or roles yet"
    ))
}

macro_rules! auth_stubs {
    ($($method:ident($request:ident) -> $response:ident = $name:literal;)*) => {
        #[tonic::async_trait]
        impl Auth for AuthService {
            $(
                async fn $method(
                    &self,
                    _: Request<$request>,
                ) -> Result<Response<$response>, Status> {
                    Err(unimplemented($name))
                }
            )*
        }
    };
}

auth_stubs! {
    auth_enable(AuthEnableRequest) -> AuthEnableResponse = "AuthEnable";
    auth_disable(AuthDisableRequest) -> AuthDisableResponse = "AuthDisable";
    auth_status(AuthStatusRequest) -> AuthStatusResponse = "AuthStatus";
    authenticate(AuthenticateRequest) -> AuthenticateResponse = "Authenticate";
    user_add(AuthUserAddRequest) -> AuthUserAddResponse = "UserAdd";
    user_get(AuthUserGetRequest) -> AuthUserGetResponse = "UserGet";
    user_list(AuthUserListRequest) -> AuthUserListResponse = "UserList";
    user_delete(AuthUserDeleteRequest) -> AuthUserDeleteResponse = "UserDelete";
    user_change_password(AuthUserChangePasswordRequest) -> AuthUserChangePasswordResponse = "UserChangePassword";
    user_grant_role(AuthUserGrantRoleRequest) -> AuthUserGrantRoleResponse = "UserGrantRole";
    user_revoke_role(AuthUserRevokeRoleRequest) -> AuthUserRevokeRoleResponse = "UserRevokeRole";
    role_add(AuthRoleAddRequest) -> AuthRoleAddResponse = "RoleAdd";
    role_get(AuthRoleGetRequest) -> AuthRoleGetResponse = "RoleGet";
    role_list(AuthRoleListRequest) -> AuthRoleListResponse = "RoleList";
    role_delete(AuthRoleDeleteRequest) -> AuthRoleDeleteResponse = "RoleDelete";
    role_grant_permission(AuthRoleGrantPermissionRequest) -> AuthRoleGrantPermissionResponse = "RoleGrantPermission";
    role_revoke_permission(AuthRoleRevokePermissionRequest) -> AuthRoleRevokePermissionResponse = "RoleRevokePermission";
}
