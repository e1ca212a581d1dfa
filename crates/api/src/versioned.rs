//! The read, change and conditional write back of the Update* operations on versioned records
//! (things, thing groups, certificates, CA certificates).

use std::future::Future;

use thingd_registry::{CaCertificate, Certificate, StoreError, Thing, ThingGroup};

use crate::error::ApiError;

/// A record the store replaces only while its version is the one a change was made from.
pub(crate) trait Versioned: Clone {
    /// The stored version.
    fn version(&self) -> i64;
}

impl Versioned for Thing {
    fn version(&self) -> i64 {
        self.version
    }
}

impl Versioned for ThingGroup {
    fn version(&self) -> i64 {
        self.version
    }
}

impl Versioned for Certificate {
    fn version(&self) -> i64 {
        self.version
    }
}

impl Versioned for CaCertificate {
    fn version(&self) -> i64 {
        self.version
    }
}

/// Changes a stored record: `read` reads it, `change` says what it should become (`None`: what
/// it is, so nothing is written), and `replace` writes that back only if nobody changed the
/// record meanwhile (it gets the version the change was made from). When a concurrent update
/// wins, the record is read and the change decided again, unless the request expected a
/// version: `expected` is that version with the error to answer when the record has another
/// (as it has after losing to a concurrent update). Answers the record as it is now.
pub(crate) async fn update_versioned<R, ReadFut, ReplaceFut>(
    mut expected: Option<(i64, ApiError)>,
    mut read: impl FnMut() -> ReadFut,
    mut change: impl FnMut(&R) -> Result<Option<R>, ApiError>,
    mut replace: impl FnMut(R, i64) -> ReplaceFut,
) -> Result<R, ApiError>
where
    R: Versioned,
    ReadFut: Future<Output = Result<R, ApiError>>,
    ReplaceFut: Future<Output = Result<bool, StoreError>>,
{
    loop {
        let current = read().await?;
        if let Some((_, conflict)) = expected.take_if(|(version, _)| *version != current.version())
        {
            return Err(conflict);
        }
        let Some(updated) = change(&current)? else {
            return Ok(current);
        };
        if replace(updated.clone(), current.version()).await? {
            return Ok(updated);
        }
        if let Some((_, conflict)) = expected {
            return Err(conflict);
        }
        // Changed meanwhile: read again and decide on the new state.
    }
}
