//! `AppError` responses: handlers return `ApiError`; the middleware renders the JSON body
//! (it knows the request id).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A Mattermost `AppError` (status, id, English message).
#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub id: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, id: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            id,
            message: message.into(),
        }
    }
    pub fn session_expired() -> ApiError {
        Self::new(
            401,
            "api.context.session_expired.app_error",
            "Invalid or expired session, please login again.",
        )
    }
    pub fn forbidden() -> ApiError {
        Self::new(
            403,
            "api.context.permissions.app_error",
            "You do not have the appropriate permissions.",
        )
    }
    pub fn invalid_url_param(name: &str) -> ApiError {
        Self::new(
            400,
            "api.context.invalid_url_param.app_error",
            format!("Invalid or missing {name} parameter in request URL."),
        )
    }
    pub fn invalid_param(name: &str) -> ApiError {
        Self::new(
            400,
            "api.context.invalid_body_param.app_error",
            format!("Invalid or missing {name} in request body."),
        )
    }
    pub fn not_found_route() -> ApiError {
        Self::new(
            404,
            "api.context.404.app_error",
            "Sorry, we could not find the page.",
        )
    }
    pub fn channel_not_found() -> ApiError {
        Self::new(
            404,
            "app.channel.get.existing.app_error",
            "Unable to find the existing channel.",
        )
    }
    pub fn post_not_found() -> ApiError {
        Self::new(404, "app.post.get.app_error", "Unable to get the post.")
    }
    pub fn user_not_found() -> ApiError {
        Self::new(
            404,
            "app.user.missing_account.const",
            "Unable to find the user.",
        )
    }
    pub fn team_not_found() -> ApiError {
        Self::new(
            404,
            "app.team.get.find.app_error",
            "Unable to find the existing team.",
        )
    }
    pub fn file_not_found() -> ApiError {
        Self::new(
            404,
            "app.file_info.get.app_error",
            "Unable to get the file info.",
        )
    }
    pub fn emoji_disabled() -> ApiError {
        Self::new(
            501,
            "api.emoji.disabled.app_error",
            "Custom emoji have been disabled by the system admin.",
        )
    }
    pub fn emoji_not_found() -> ApiError {
        Self::new(404, "app.emoji.get.no_result", "Unable to find the emoji.")
    }
    pub fn channels_not_found() -> ApiError {
        Self::new(
            404,
            "app.channel.get_channels.not_found.app_error",
            "No channels were found.",
        )
    }

    /// The JSON body with the given request id.
    pub fn body(&self, request_id: &str) -> String {
        json!({
            "id": self.id,
            "message": self.message,
            "detailed_error": "",
            "request_id": request_id,
            "status_code": self.status.as_u16(),
        })
        .to_string()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = self.status.into_response();
        r.extensions_mut().insert(self);
        r
    }
}

/// Result type of the API handlers.
pub type ApiResult = Result<Response, ApiError>;
