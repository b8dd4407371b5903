//! Object versioning (swift's `versioned_writes`): a container with `X-Versions-Location`
//! (stack mode) or `X-History-Location` (history mode) names an archive container. Replacing
//! an object first copies the current version there as `<3 hex digits of the name's
//! length><name>/<timestamp>`. Deleting in stack mode restores the newest archived version
//! (the object disappears only when none is left); in history mode it archives the current
//! version, then deletes.

use crate::error::SwiftResult;
use crate::listing::{ContainerInfo, Entry, ListQuery};
use crate::service::{body_of, NewObject, ObjectStorage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Stack,
    History,
}

fn archive_of(cont: &ContainerInfo) -> Option<(Mode, &str)> {
    let get = |k: &str| cont.metadata.get(k).map(String::as_str).filter(|v| !v.is_empty());
    get("x-versions-location")
        .map(|c| (Mode::Stack, c))
        .or_else(|| get("x-history-location").map(|c| (Mode::History, c)))
}

/// The archive's name prefix of an object's versions.
pub fn version_prefix(object: &str) -> String {
    format!("{:03x}{object}/", object.len())
}

/// Copies the current version of `object` into the archive (if there is one).
async fn archive_current(
    service: &ObjectStorage,
    account: &str,
    container: &str,
    archive: &str,
    object: &str,
) -> SwiftResult<bool> {
    if service.listings.container(account, archive).await?.is_none() {
        return Ok(false);
    }
    let current = match service.get_object(account, container, object).await {
        Ok(o) => o,
        Err(e) if e.status == 404 => return Ok(false),
        Err(e) => return Err(e),
    };
    let name = format!("{}{}", version_prefix(object), current.meta.timestamp.normal());
    let new = NewObject {
        content_type: current.meta.content_type.clone(),
        headers: current.meta.headers.clone(),
        etag: Some(current.meta.etag.clone()),
        content_length: Some(current.meta.size),
    };
    Box::pin(service.store(account, archive, &name, new, body_of(current, None), false)).await?;
    Ok(true)
}

/// Before an object of `cont` is replaced.
pub async fn before_overwrite(
    service: &ObjectStorage,
    account: &str,
    cont: &ContainerInfo,
    object: &str,
) -> SwiftResult<()> {
    if let Some((_, archive)) = archive_of(cont) {
        archive_current(service, account, &cont.name, archive, object).await?;
    }
    Ok(())
}

/// Before an object of `cont` is deleted; true when versioning handled the delete.
pub async fn on_delete(
    service: &ObjectStorage,
    account: &str,
    cont: &ContainerInfo,
    object: &str,
) -> SwiftResult<bool> {
    let Some((mode, archive)) = archive_of(cont) else { return Ok(false) };
    match mode {
        Mode::History => {
            archive_current(service, account, &cont.name, archive, object).await?;
            Ok(false)
        }
        Mode::Stack => {
            let q =
                ListQuery { prefix: version_prefix(object), limit: 1, reverse: true, ..Default::default() };
            let newest = service.listings.list_objects(account, archive, &q).await?;
            let Some(Entry::Item(row)) = newest.into_iter().next() else { return Ok(false) };
            let old = service.get_object(account, archive, &row.name).await?;
            let new = NewObject {
                content_type: old.meta.content_type.clone(),
                headers: old.meta.headers.clone(),
                etag: Some(old.meta.etag.clone()),
                content_length: Some(old.meta.size),
            };
            Box::pin(service.store(account, &cont.name, object, new, body_of(old, None), false)).await?;
            service.remove_object(account, archive, &row.name).await?;
            Ok(true)
        }
    }
}
