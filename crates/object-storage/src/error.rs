//! Errors of the object-storage API: core's [`ApiError`], rendered as swift does (a short HTML
//! or text body, see `ErrorStyle::ObjectStore`), with the constructors swift's statuses need.

use axum::http::StatusCode;
pub use stratus_core::error::ApiError as SwiftError;

pub type SwiftResult<T> = Result<T, SwiftError>;

pub fn bad_request(message: impl Into<String>) -> SwiftError {
    SwiftError::new(StatusCode::BAD_REQUEST, message)
}
pub fn not_found() -> SwiftError {
    SwiftError::new(StatusCode::NOT_FOUND, "The resource could not be found.")
}
pub fn precondition_failed(message: impl Into<String>) -> SwiftError {
    SwiftError::new(StatusCode::PRECONDITION_FAILED, message)
}
pub fn unprocessable(message: impl Into<String>) -> SwiftError {
    SwiftError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}
pub fn too_large(message: impl Into<String>) -> SwiftError {
    SwiftError::new(StatusCode::PAYLOAD_TOO_LARGE, message)
}
pub fn conflict(message: impl Into<String>) -> SwiftError {
    SwiftError::new(StatusCode::CONFLICT, message)
}
pub fn unauthorized() -> SwiftError {
    SwiftError::new(
        StatusCode::UNAUTHORIZED,
        "This server could not verify that you are authorized to access the document you requested.",
    )
}
pub fn forbidden() -> SwiftError {
    SwiftError::new(StatusCode::FORBIDDEN, "Access was denied to this resource.")
}
pub fn io(e: std::io::Error) -> SwiftError {
    SwiftError::internal(format!("object storage disk: {e}"))
}
