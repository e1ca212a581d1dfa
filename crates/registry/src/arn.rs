//! Amazon Resource Names of thingd's resources, in AWS IoT's forms
//! (`arn:aws:iot:{region}:{account}:thing/{name}` and alike).

use std::fmt;

/// The region and account id thingd presents itself as (from configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// The region, e.g. `us-east-1`.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
}

/// The kind of resource an ARN names: the part before the `/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArnKind {
    /// `thing/{thingName}`.
    Thing,
    /// `thingtype/{thingTypeName}`.
    ThingType,
    /// `thinggroup/{thingGroupName}`.
    ThingGroup,
    /// `cert/{certificateId}`.
    Certificate,
    /// `cacert/{caCertificateId}`.
    CaCertificate,
    /// `policy/{policyName}`.
    Policy,
    /// `rule/{ruleName}`.
    Rule,
    /// `ruledestination/http/{uuid}`: the name is `http/{uuid}`.
    RuleDestination,
}

impl ArnKind {
    /// The resource-type word of the ARN.
    pub const fn as_str(self) -> &'static str {
        match self {
            ArnKind::Thing => "thing",
            ArnKind::ThingType => "thingtype",
            ArnKind::ThingGroup => "thinggroup",
            ArnKind::Certificate => "cert",
            ArnKind::CaCertificate => "cacert",
            ArnKind::Policy => "policy",
            ArnKind::Rule => "rule",
            ArnKind::RuleDestination => "ruledestination",
        }
    }

    fn from_word(word: &str) -> Option<Self> {
        Some(match word {
            "thing" => ArnKind::Thing,
            "thingtype" => ArnKind::ThingType,
            "thinggroup" => ArnKind::ThingGroup,
            "cert" => ArnKind::Certificate,
            "cacert" => ArnKind::CaCertificate,
            "policy" => ArnKind::Policy,
            "rule" => ArnKind::Rule,
            "ruledestination" => ArnKind::RuleDestination,
            _ => return None,
        })
    }
}

/// A parsed ARN of one of thingd's resources.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Arn {
    /// The region.
    pub region: String,
    /// The account id.
    pub account: String,
    /// What it names.
    pub kind: ArnKind,
    /// The resource's name or id.
    pub name: String,
}

impl Partition {
    /// The ARN of a resource of this partition.
    pub fn arn(&self, kind: ArnKind, name: &str) -> String {
        format!(
            "arn:aws:iot:{}:{}:{}/{}",
            self.region,
            self.account,
            kind.as_str(),
            name
        )
    }
}

impl Arn {
    /// Parses `arn:aws:iot:{region}:{account}:{kind}/{name}`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Arn> {
        let rest = text.strip_prefix("arn:aws:iot:")?;
        let (region, rest) = rest.split_once(':')?;
        let (account, rest) = rest.split_once(':')?;
        let (word, name) = rest.split_once('/')?;
        let kind = ArnKind::from_word(word)?;
        if name.is_empty() {
            return None;
        }
        Some(Arn {
            region: region.to_owned(),
            account: account.to_owned(),
            kind,
            name: name.to_owned(),
        })
    }

    /// Whether the ARN belongs to `partition` (same region and account).
    pub fn is_in(&self, partition: &Partition) -> bool {
        self.region == partition.region && self.account == partition.account
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:aws:iot:{}:{}:{}/{}",
            self.region,
            self.account,
            self.kind.as_str(),
            self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_parses_every_kind() {
        let partition = Partition {
            region: "us-east-1".into(),
            account: "123456789012".into(),
        };
        for kind in [
            ArnKind::Thing,
            ArnKind::ThingType,
            ArnKind::ThingGroup,
            ArnKind::Certificate,
            ArnKind::CaCertificate,
            ArnKind::Policy,
            ArnKind::Rule,
            ArnKind::RuleDestination,
        ] {
            let text = partition.arn(kind, "name-1");
            let arn = Arn::parse(&text).unwrap();
            assert_eq!(arn.kind, kind);
            assert_eq!(arn.name, "name-1");
            assert!(arn.is_in(&partition));
            assert_eq!(arn.to_string(), text);
        }
    }

    #[test]
    fn rejects_other_services_and_shapes() {
        for text in [
            "",
            "arn:aws:s3:::bucket",
            "arn:aws:iot:us-east-1:123456789012:thing/",
            "arn:aws:iot:us-east-1:123456789012:unknown/x",
            "arn:aws:iot:us-east-1:thing/x",
        ] {
            assert_eq!(Arn::parse(text), None, "{text}");
        }
    }
}
