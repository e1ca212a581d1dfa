//! The AWS IoT data-plane actions thingd authorizes, and sets of them as policy `Action`
//! patterns select.

use crate::error::quoted;
use crate::glob::Glob;

/// An AWS IoT data-plane action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `iot:Connect`, on `client/{clientId}`.
    Connect,
    /// `iot:Publish`, on `topic/{topic}`.
    Publish,
    /// `iot:RetainPublish`, on `topic/{topic}` (a retained publish also needs Publish).
    RetainPublish,
    /// `iot:Subscribe`, on `topicfilter/{filter}`.
    Subscribe,
    /// `iot:Receive`, on `topic/{topic}`.
    Receive,
    /// `iot:GetRetainedMessage`, on `topic/{topic}`.
    GetRetainedMessage,
    /// `iot:ListRetainedMessages`, on `*`.
    ListRetainedMessages,
    /// `iot:GetThingShadow`, on `thing/{name}[/{shadow}]`.
    GetThingShadow,
    /// `iot:UpdateThingShadow`, on `thing/{name}[/{shadow}]`.
    UpdateThingShadow,
    /// `iot:DeleteThingShadow`, on `thing/{name}[/{shadow}]`.
    DeleteThingShadow,
    /// `iot:ListNamedShadowsForThing`, on `thing/{name}`.
    ListNamedShadowsForThing,
}

impl Action {
    /// Every action, in declaration order (the index is `self as usize`).
    pub const ALL: [Action; 11] = [
        Action::Connect,
        Action::Publish,
        Action::RetainPublish,
        Action::Subscribe,
        Action::Receive,
        Action::GetRetainedMessage,
        Action::ListRetainedMessages,
        Action::GetThingShadow,
        Action::UpdateThingShadow,
        Action::DeleteThingShadow,
        Action::ListNamedShadowsForThing,
    ];

    /// The action's name in policies, e.g. `"iot:Connect"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Connect => "iot:Connect",
            Action::Publish => "iot:Publish",
            Action::RetainPublish => "iot:RetainPublish",
            Action::Subscribe => "iot:Subscribe",
            Action::Receive => "iot:Receive",
            Action::GetRetainedMessage => "iot:GetRetainedMessage",
            Action::ListRetainedMessages => "iot:ListRetainedMessages",
            Action::GetThingShadow => "iot:GetThingShadow",
            Action::UpdateThingShadow => "iot:UpdateThingShadow",
            Action::DeleteThingShadow => "iot:DeleteThingShadow",
            Action::ListNamedShadowsForThing => "iot:ListNamedShadowsForThing",
        }
    }

    /// Parses an action name (case-insensitive, as IAM compares actions).
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of actions, as a statement's `Action` (or the complement of its `NotAction`) selects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ActionSet(u16);

impl ActionSet {
    pub(crate) const ALL: ActionSet = ActionSet((1 << Action::ALL.len()) - 1);

    pub(crate) fn contains(self, action: Action) -> bool {
        self.0 & (1 << action.index()) != 0
    }

    pub(crate) fn union(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 | other.0)
    }

    pub(crate) fn complement(self) -> ActionSet {
        ActionSet(!self.0 & ActionSet::ALL.0)
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL.into_iter().filter(move |a| self.contains(*a))
    }

    /// The actions an `Action` entry selects: `*`, or `iot:` followed by a name made of
    /// letters and digits with the wildcards `*` and `?`, matched case-insensitively. A valid
    /// pattern naming an action thingd does not authorize (e.g. `iot:CreateThing`) selects none.
    /// Errors are the detail of a `PolicyError`.
    pub(crate) fn parse_pattern(field: &str, pattern: &str) -> Result<ActionSet, String> {
        if pattern == "*" {
            return Ok(ActionSet::ALL);
        }
        let invalid = || {
            format!(
                "{field} {} is not a valid action: an action is \"*\" or \"iot:\" followed by an action name (letters, digits and the wildcards * and ?)",
                quoted(pattern)
            )
        };
        let Some((service, name)) = pattern.split_once(':') else {
            return Err(invalid());
        };
        if !service.eq_ignore_ascii_case("iot")
            || name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
        {
            return Err(invalid());
        }
        let mut glob = Glob::default();
        for c in name.to_ascii_lowercase().chars() {
            match c {
                '*' => glob.push_many(),
                '?' => glob.push_one(),
                c => glob.push_char(c),
            }
        }
        let mut set = ActionSet::default();
        for action in Action::ALL {
            let name = action.as_str()["iot:".len()..].to_ascii_lowercase();
            if glob.matches(&name) {
                set.0 |= 1 << action.index();
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
            assert_eq!(Action::parse(&action.as_str().to_uppercase()), Some(action));
        }
        assert_eq!(Action::parse("iot:Nope"), None);
    }

    #[test]
    fn patterns() {
        let set = |p: &str| ActionSet::parse_pattern("Action", p).unwrap();
        assert_eq!(set("*"), ActionSet::ALL);
        assert_eq!(set("iot:*"), ActionSet::ALL);
        assert_eq!(
            set("IOT:publish").iter().collect::<Vec<_>>(),
            [Action::Publish]
        );
        assert_eq!(
            set("iot:*Publish").iter().collect::<Vec<_>>(),
            [Action::Publish, Action::RetainPublish]
        );
        assert_eq!(
            set("iot:Get*").iter().collect::<Vec<_>>(),
            [Action::GetRetainedMessage, Action::GetThingShadow]
        );
        assert_eq!(
            set("iot:Connec?").iter().collect::<Vec<_>>(),
            [Action::Connect]
        );
        assert_eq!(set("iot:CreateThing"), ActionSet::default());
        for bad in [
            "",
            "iot:",
            "s3:GetObject",
            "Publish",
            "iot:Pub/lish",
            "iot:Pub lish",
            "iot*",
        ] {
            assert!(ActionSet::parse_pattern("Action", bad).is_err(), "{bad}");
        }
    }
}
