//! JSON request bodies with OpenStack-style errors instead of axum's plain-text rejections.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::Json`, but a bad body is a 400 with a message saying what is wrong.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(rejection_to_error(rejection)),
        }
    }
}

fn rejection_to_error(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected a request body with Content-Type: application/json.",
        ),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::bad_request(format!("Malformed JSON in request body: {}", inner(&e.body_text())))
        }
        JsonRejection::JsonDataError(e) => {
            ApiError::bad_request(format!("Invalid input for field/attribute: {}", inner(&e.body_text())))
        }
        JsonRejection::BytesRejection(e) => {
            let status = e.status();
            if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large("Request body is too large.")
            } else {
                ApiError::new(status, e.body_text())
            }
        }
        other => ApiError::bad_request(other.body_text()),
    }
}

/// axum prefixes its messages with its own wording; keep the part that names the problem.
fn inner(text: &str) -> String {
    text.split_once(": ").map(|(_, rest)| rest).unwrap_or(text).to_string()
}

/// A JSON body that may be absent (empty or no content type); present but bad is still a 400.
pub struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_body = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .map(|v| v.as_bytes() != b"0")
            .unwrap_or_else(|| req.headers().contains_key(header::TRANSFER_ENCODING));
        if !has_body {
            return Ok(OptionalJson(None));
        }
        Json::<T>::from_request(req, state).await.map(|Json(v)| OptionalJson(Some(v)))
    }
}
