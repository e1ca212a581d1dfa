//! Who is asking: the request context, and the condition keys and policy variables read from it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Everything known about who is asking (fixed for a connection's lifetime).
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The region in ARNs (`arn:aws:iot:{region}:...`).
    pub region: String,
    /// The account in ARNs.
    pub account: String,
    /// The MQTT client id (`iot:ClientId`).
    pub client_id: Option<String>,
    /// The client's address (`aws:SourceIp`).
    pub source_ip: Option<IpAddr>,
    /// The thing the connection resolves to, if any. Thing variables resolve only when the
    /// client id equals its name, as AWS IoT requires.
    pub thing: Option<ThingContext>,
    /// The certificate the client authenticated with.
    pub certificate: Option<CertificateContext>,
    /// `iot:ConnectAttributes`: "PersistentConnect", "LastWill".
    pub connect_attributes: Vec<String>,
    /// `iot:LastWillTopic`.
    pub last_will_topic: Option<String>,
}

/// The thing a connection resolves to.
#[derive(Clone, Debug, Default)]
pub struct ThingContext {
    /// The thing name.
    pub name: String,
    /// Its thing type, if it has one.
    pub thing_type: Option<String>,
    /// Its attributes.
    pub attributes: BTreeMap<String, String>,
}

/// The X.509 certificate a connection authenticated with.
#[derive(Clone, Debug, Default)]
pub struct CertificateContext {
    /// The certificate id (`iot:CertificateId`).
    pub id: String,
    /// Subject attributes as (AWS field name such as "CommonName", value), in certificate order;
    /// a field may repeat. Values are given unescaped.
    pub subject: Vec<(String, String)>,
    /// Issuer attributes, as `subject`.
    pub issuer: Vec<(String, String)>,
    /// Subject alternative names as (kind, value); kinds are "DNSName", "RFC822Name",
    /// "IPAddress", "UniformResourceIdentifier", "DirectoryName".
    pub subject_alternative_names: Vec<(String, String)>,
    /// Issuer alternative names, as `subject_alternative_names`.
    pub issuer_alternative_names: Vec<(String, String)>,
    /// The serial number in decimal, as AWS IoT substitutes `${iot:Certificate.SerialNumber}`
    /// (its documentation shows `92:12:85:cb:b7:a5:e0:86` as `10525622389124227206`).
    pub serial_number: String,
    /// The start of validity. Kept for callers; AWS IoT documents no policy variable for it,
    /// so policies cannot read it.
    pub not_before: Option<String>,
    /// The end of validity; see `not_before`.
    pub not_after: Option<String>,
}

/// The X.509 distinguished-name fields AWS IoT exposes as policy variables.
pub(crate) const DN_FIELDS: [&str; 14] = [
    "CommonName",
    "Country",
    "Organization",
    "OrganizationalUnit",
    "State",
    "Locality",
    "DistinguishedNameQualifier",
    "SerialNumber",
    "Title",
    "Surname",
    "GivenName",
    "Initials",
    "Pseudonym",
    "GenerationQualifier",
];

/// The alternative-name kinds AWS IoT exposes.
pub(crate) const ALT_NAME_KINDS: [&str; 5] = [
    "RFC822Name",
    "DNSName",
    "DirectoryName",
    "UniformResourceIdentifier",
    "IPAddress",
];

/// AWS IoT substitutes at most this many values of a multi-valued certificate attribute.
const MAX_CERT_VALUES: usize = 5;

/// A certificate attribute value longer than this is not substituted (AWS's limit).
const MAX_CERT_VALUE_LEN: usize = 1024;

/// Which value(s) of a multi-valued certificate attribute a key names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Select {
    /// The bare name: the first value.
    First,
    /// `.N`: the (N+1)-th value.
    Index(usize),
    /// `.List`: all values.
    List,
}

/// A condition key or policy variable, resolved from its name once at parse time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    ClientId,
    SourceIp,
    ConnectAttributes,
    LastWillTopic,
    ThingName,
    ThingTypeName,
    ThingAttribute(String),
    ThingIsAttached,
    CertificateId,
    CertificateSerialNumber,
    CertificateAvailableKeys,
    /// `iot:Certificate.{Subject|Issuer}.<field>[.N|.List]`; `field` indexes `DN_FIELDS`.
    CertificateName {
        issuer: bool,
        field: usize,
        select: Select,
    },
    /// `iot:Certificate.{Subject|Issuer}.AlternativeName.<kind>[.N|.List]`; `kind` indexes
    /// `ALT_NAME_KINDS`.
    CertificateAltName {
        issuer: bool,
        kind: usize,
        select: Select,
    },
    /// A key thingd does not know: never present in the context.
    Unknown,
}

impl Key {
    /// Resolves a key name; names are case-insensitive, as in IAM (attribute names inside
    /// `Attributes[...]` excepted).
    pub(crate) fn parse(name: &str) -> Key {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "iot:clientid" => return Key::ClientId,
            "aws:sourceip" => return Key::SourceIp,
            "iot:connectattributes" => return Key::ConnectAttributes,
            "iot:lastwilltopic" => return Key::LastWillTopic,
            "iot:connection.thing.thingname" => return Key::ThingName,
            "iot:connection.thing.thingtypename" => return Key::ThingTypeName,
            "iot:connection.thing.isattached" => return Key::ThingIsAttached,
            "iot:certificateid" => return Key::CertificateId,
            "iot:certificate.serialnumber" => return Key::CertificateSerialNumber,
            "iot:certificate.availablekeys" => return Key::CertificateAvailableKeys,
            _ => {}
        }
        const ATTRIBUTES: &str = "iot:connection.thing.attributes[";
        if lower.starts_with(ATTRIBUTES) && lower.ends_with(']') && name.len() > ATTRIBUTES.len() {
            // ASCII lower-casing keeps byte offsets, so the original name can be sliced.
            return Key::ThingAttribute(name[ATTRIBUTES.len()..name.len() - 1].to_owned());
        }
        let (issuer, rest) = if let Some(rest) = lower.strip_prefix("iot:certificate.subject.") {
            (false, rest)
        } else if let Some(rest) = lower.strip_prefix("iot:certificate.issuer.") {
            (true, rest)
        } else {
            return Key::Unknown;
        };
        if let Some(rest) = rest.strip_prefix("alternativename.") {
            let Some((kind, select)) = split_select(rest, &ALT_NAME_KINDS) else {
                return Key::Unknown;
            };
            return Key::CertificateAltName {
                issuer,
                kind,
                select,
            };
        }
        match split_select(rest, &DN_FIELDS) {
            Some((field, select)) => Key::CertificateName {
                issuer,
                field,
                select,
            },
            None => Key::Unknown,
        }
    }

    /// The key's value(s) in `context`, or `None` when the context lacks it (AWS's "missing
    /// context value"). An empty multi-valued key counts as missing, as in IAM.
    pub(crate) fn values<'a>(&self, context: &'a Context) -> Option<Vec<Cow<'a, str>>> {
        let one = |v: Option<&'a str>| v.map(|v| vec![Cow::Borrowed(v)]);
        let values = match self {
            Key::ClientId => one(context.client_id.as_deref()),
            Key::SourceIp => context.source_ip.map(|ip| vec![Cow::Owned(ip.to_string())]),
            Key::ConnectAttributes => Some(
                context
                    .connect_attributes
                    .iter()
                    .map(|a| Cow::Borrowed(a.as_str()))
                    .collect(),
            ),
            Key::LastWillTopic => one(context.last_will_topic.as_deref()),
            Key::ThingName => one(resolved_thing(context).map(|t| t.name.as_str())),
            Key::ThingTypeName => {
                one(resolved_thing(context).and_then(|t| t.thing_type.as_deref()))
            }
            Key::ThingAttribute(name) => one(resolved_thing(context)
                .and_then(|t| t.attributes.get(name))
                .map(String::as_str)),
            Key::ThingIsAttached => {
                Some(vec![Cow::Borrowed(if resolved_thing(context).is_some() {
                    "true"
                } else {
                    "false"
                })])
            }
            Key::CertificateId => one(context.certificate.as_ref().map(|c| c.id.as_str())),
            Key::CertificateSerialNumber => one(context
                .certificate
                .as_ref()
                .map(|c| c.serial_number.as_str())),
            Key::CertificateAvailableKeys => context
                .certificate
                .as_ref()
                .map(|c| available_keys(c).into_iter().map(Cow::Owned).collect()),
            Key::CertificateName {
                issuer,
                field,
                select,
            } => context.certificate.as_ref().map(|c| {
                let names = if *issuer { &c.issuer } else { &c.subject };
                let wanted = DN_FIELDS[*field];
                select_values(
                    names
                        .iter()
                        .filter(|(f, _)| f.eq_ignore_ascii_case(wanted))
                        .map(|(_, v)| escape_dn_value(v)),
                    *select,
                )
            }),
            Key::CertificateAltName {
                issuer,
                kind,
                select,
            } => context.certificate.as_ref().map(|c| {
                let names = if *issuer {
                    &c.issuer_alternative_names
                } else {
                    &c.subject_alternative_names
                };
                let wanted = ALT_NAME_KINDS[*kind];
                select_values(
                    names
                        .iter()
                        .filter(|(k, _)| k.eq_ignore_ascii_case(wanted))
                        .map(|(_, v)| Cow::Borrowed(v.as_str())),
                    *select,
                )
            }),
            Key::Unknown => None,
        }?;
        let values: Vec<Cow<'a, str>> = values.into_iter().filter(|v| !v.is_empty()).collect();
        (!values.is_empty()).then_some(values)
    }

    /// The single value a policy variable `${...}` is replaced with, or `None` when there is none
    /// (missing, or a multi-valued `.List` form, which cannot be substituted into a string).
    pub(crate) fn variable<'a>(&self, context: &'a Context) -> Option<Cow<'a, str>> {
        match self {
            Key::ConnectAttributes | Key::CertificateAvailableKeys => None,
            Key::CertificateName {
                select: Select::List,
                ..
            }
            | Key::CertificateAltName {
                select: Select::List,
                ..
            } => None,
            _ => self.values(context)?.into_iter().next(),
        }
    }
}

/// Splits `field[.N|.list]` (lower-cased) against a table of names.
fn split_select(rest: &str, table: &[&str]) -> Option<(usize, Select)> {
    let (name, select) = match rest.split_once('.') {
        None => (rest, Select::First),
        Some((name, "list")) => (name, Select::List),
        Some((name, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (name, Select::Index(n.parse().ok()?))
        }
        Some(_) => return None,
    };
    let index = table.iter().position(|f| f.eq_ignore_ascii_case(name))?;
    Some((index, select))
}

/// The thing whose variables apply: only when the client id is the thing's name.
fn resolved_thing(context: &Context) -> Option<&ThingContext> {
    let thing = context.thing.as_ref()?;
    (context.client_id.as_deref() == Some(thing.name.as_str())).then_some(thing)
}

/// Applies AWS's limits on certificate attribute values: at most five values are visible, and a
/// value over 1024 characters or containing `*`, `$`, `+`, `?` or `#` is not substituted (we treat
/// it as absent, everywhere: as a variable and as a condition key).
fn select_values<'a>(
    values: impl Iterator<Item = Cow<'a, str>>,
    select: Select,
) -> Vec<Cow<'a, str>> {
    let usable = |v: &Cow<'a, str>| {
        v.chars().count() <= MAX_CERT_VALUE_LEN && !v.contains(['*', '$', '+', '?', '#'])
    };
    let mut values = values.take(MAX_CERT_VALUES);
    match select {
        Select::First => values.next().filter(usable).into_iter().collect(),
        Select::Index(n) => values.nth(n).filter(usable).into_iter().collect(),
        Select::List => values.filter(usable).collect(),
    }
}

/// AWS IoT presents distinguished-name attribute values with the characters `,` `"` `\` `+` `=`
/// `<` `>` `;` escaped by a backslash (RFC 4514 style), so policies must write them that way.
fn escape_dn_value(value: &str) -> Cow<'_, str> {
    const SPECIAL: [char; 8] = [',', '"', '\\', '+', '=', '<', '>', ';'];
    if !value.contains(SPECIAL) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        if SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// `iot:Certificate.AvailableKeys`: the full names of the certificate keys that have a value,
/// without duplicates, in a fixed order.
fn available_keys(certificate: &CertificateContext) -> Vec<String> {
    let mut keys = Vec::new();
    if !certificate.id.is_empty() {
        keys.push("iot:CertificateId".to_owned());
    }
    if !certificate.serial_number.is_empty() {
        keys.push("iot:Certificate.SerialNumber".to_owned());
    }
    for (part, names) in [
        ("Subject", &certificate.subject),
        ("Issuer", &certificate.issuer),
    ] {
        for field in DN_FIELDS {
            if names
                .iter()
                .any(|(f, v)| f.eq_ignore_ascii_case(field) && !v.is_empty())
            {
                keys.push(format!("iot:Certificate.{part}.{field}"));
            }
        }
    }
    for (part, names) in [
        ("Subject", &certificate.subject_alternative_names),
        ("Issuer", &certificate.issuer_alternative_names),
    ] {
        for kind in ALT_NAME_KINDS {
            if names
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(kind) && !v.is_empty())
            {
                keys.push(format!("iot:Certificate.{part}.AlternativeName.{kind}"));
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_names() {
        assert_eq!(Key::parse("iot:ClientId"), Key::ClientId);
        assert_eq!(Key::parse("IOT:CLIENTID"), Key::ClientId);
        assert_eq!(
            Key::parse("iot:Connection.Thing.Attributes[Color]"),
            Key::ThingAttribute("Color".into())
        );
        assert_eq!(
            Key::parse("iot:Certificate.Subject.Organization.List"),
            Key::CertificateName {
                issuer: false,
                field: 2,
                select: Select::List
            }
        );
        assert_eq!(
            Key::parse("iot:Certificate.Issuer.CommonName.1"),
            Key::CertificateName {
                issuer: true,
                field: 0,
                select: Select::Index(1)
            }
        );
        assert_eq!(
            Key::parse("iot:Certificate.Subject.AlternativeName.DNSName"),
            Key::CertificateAltName {
                issuer: false,
                kind: 1,
                select: Select::First
            }
        );
        assert_eq!(Key::parse("iot:Certificate.Subject.Nope"), Key::Unknown);
        assert_eq!(
            Key::parse("iot:Certificate.Subject.CommonName.x"),
            Key::Unknown
        );
        assert_eq!(
            Key::parse("iot:Certificate.Subject.CommonName.99999999999999999999999"),
            Key::Unknown
        );
        assert_eq!(Key::parse("aws:username"), Key::Unknown);
    }

    #[test]
    fn escapes_dn_values() {
        assert_eq!(escape_dn_value("Example, Inc"), "Example\\, Inc");
        assert_eq!(escape_dn_value("plain"), "plain");
    }
}
