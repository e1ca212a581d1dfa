//! The attributes of things and thing groups: `AttributePayload`, the checks of its names and
//! values, and the merge semantics UpdateThing and UpdateThingGroup share.

use serde::Deserialize;
use thingd_registry::{ATTRIBUTE_NAME, ATTRIBUTE_VALUE, Attributes};

use crate::error::ApiError;

/// `attributePayload` of CreateThing, UpdateThing and of a thing group's properties.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttributePayload {
    #[serde(default)]
    pub(crate) attributes: Option<Attributes>,
    #[serde(default)]
    pub(crate) merge: Option<bool>,
}

impl AttributePayload {
    /// Applies the payload's attributes, if it has any, to a record's: merged with `merge`
    /// (where an empty value removes an attribute), else replacing them all.
    pub(crate) fn apply_to(&self, record: &mut Attributes) {
        let Some(attributes) = &self.attributes else {
            return;
        };
        if self.merge.unwrap_or(false) {
            for (key, value) in attributes {
                if value.is_empty() {
                    record.remove(key);
                } else {
                    record.insert(key.clone(), value.clone());
                }
            }
        } else {
            *record = attributes.clone();
        }
    }
}

/// Checks the names and values of attributes; `field` is the member that holds them
/// (`attributePayload.attributes`).
pub(crate) fn check_attributes(field: &str, attributes: &Attributes) -> Result<(), ApiError> {
    for (name, value) in attributes {
        ATTRIBUTE_NAME.check_as(field, name)?;
        ATTRIBUTE_VALUE.check_as(&format!("{field}.{name}"), value)?;
    }
    Ok(())
}
