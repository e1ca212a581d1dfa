//! The policies of one connection compiled for its context: the hot path of authorization.
//!
//! The context is fixed for a connection's lifetime, so everything that depends only on it is
//! decided once: conditions are evaluated, variables substituted, and each resource pattern is
//! reduced by the fixed ARN prefix (`arn:aws:iot:{region}:{account}:`, and that plus `topic/` or
//! `topicfilter/`), so that a check matches only the topic against what is left of the pattern.
//! A check allocates nothing.

use crate::action::Action;
use crate::context::Context;
use crate::document::Effect;
use crate::evaluate::NamedPolicy;
use crate::glob::Glob;

/// Patterns checked in one pass. Each pattern's leading literal (up to eight bytes) is kept as a
/// word and mask next to the others, so that most non-matching patterns are rejected by one
/// comparison without touching the pattern itself.
#[derive(Debug, Default)]
struct PatternSet {
    heads: Vec<(u64, u64)>,
    globs: Vec<Glob>,
}

impl PatternSet {
    fn new(mut globs: Vec<Glob>) -> PatternSet {
        // Order does not matter for "any matches", so duplicates are removed by sorting.
        globs.sort();
        globs.dedup();
        let heads = globs
            .iter()
            .map(|g| {
                let lead = g.leading_literal().as_bytes();
                let n = lead.len().min(8);
                let mask = if n == 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * n)) - 1
                };
                (head_word(lead), mask)
            })
            .collect();
        PatternSet { heads, globs }
    }

    #[inline]
    fn any_match(&self, resource: &str) -> bool {
        let head = head_word(resource.as_bytes());
        self.heads
            .iter()
            .zip(&self.globs)
            .any(|(&(word, mask), glob)| head & mask == word && glob.matches(resource))
    }
}

/// The first eight bytes of `bytes` as a little-endian word, zero-padded. A pattern can match
/// only a resource whose head agrees with its leading literal under the literal's mask, since
/// the resource must start with that literal.
#[inline]
fn head_word(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(buf)
}

/// The resource clauses of one effect, for one action and one ARN prefix, while compiling.
#[derive(Debug, Default)]
struct ClauseBuilder {
    everything: bool,
    listed: Vec<Glob>,
    unlisted: Vec<Vec<Glob>>,
}

impl ClauseBuilder {
    fn add(&mut self, globs: &[Glob], not_resource: bool) {
        if not_resource {
            if globs.is_empty() {
                // A NotResource that excludes nothing under this prefix admits everything.
                self.everything = true;
            } else {
                self.unlisted.push(globs.to_vec());
            }
            return;
        }
        for glob in globs {
            if glob.matches_everything() {
                self.everything = true;
            }
        }
        if !self.everything {
            self.listed.extend_from_slice(globs);
        }
    }

    fn build(self) -> Clauses {
        if self.everything {
            return Clauses {
                everything: true,
                ..Clauses::default()
            };
        }
        Clauses {
            everything: false,
            listed: PatternSet::new(self.listed),
            unlisted: self.unlisted.into_iter().map(PatternSet::new).collect(),
        }
    }
}

/// The resource clauses of one effect, for one action and one ARN prefix.
#[derive(Debug, Default)]
struct Clauses {
    /// True when some clause admits everything: no need to look further.
    everything: bool,
    /// The patterns of `Resource` clauses (any match applies).
    listed: PatternSet,
    /// The patterns of each `NotResource` clause (applies when none of its patterns matches).
    unlisted: Vec<PatternSet>,
}

impl Clauses {
    #[inline]
    fn apply(&self, resource: &str) -> bool {
        self.everything
            || self.listed.any_match(resource)
            || self.unlisted.iter().any(|set| !set.any_match(resource))
    }
}

/// Deny and Allow clauses for one action under one prefix.
#[derive(Debug, Default)]
struct Rules {
    deny: Clauses,
    allow: Clauses,
}

impl Rules {
    #[inline]
    fn allows(&self, resource: &str) -> bool {
        !self.deny.apply(resource) && self.allow.apply(resource)
    }
}

/// Deny and Allow clauses while compiling.
#[derive(Debug, Default)]
struct RulesBuilder {
    deny: ClauseBuilder,
    allow: ClauseBuilder,
}

impl RulesBuilder {
    fn build(self) -> Rules {
        Rules {
            deny: self.deny.build(),
            allow: self.allow.build(),
        }
    }
}

/// The rules of one action under each prefix a check may use.
#[derive(Debug, Default)]
struct ActionRules {
    /// After `arn:aws:iot:{region}:{account}:`.
    base: Rules,
    /// After `...:topic/`.
    topic: Rules,
    /// After `...:topicfilter/`.
    topic_filter: Rules,
}

/// The policies of one connection compiled for its context: variables substituted and
/// conditions decided once (the context is fixed), statements indexed by action, resources as
/// matchers. Decisions equal those of [`evaluate`](crate::evaluate) on the full ARN.
#[derive(Debug)]
pub struct ConnectionPolicy {
    names: Vec<String>,
    connect: bool,
    rules: Vec<ActionRules>,
}

impl ConnectionPolicy {
    /// Compiles `policies` for `context`.
    pub fn compile(policies: &[NamedPolicy], context: &Context) -> ConnectionPolicy {
        let base = format!("arn:aws:iot:{}:{}:", context.region, context.account);
        let topic = format!("{base}topic/");
        let topic_filter = format!("{base}topicfilter/");
        // Per action, the rules after the base, topic and topicfilter prefixes.
        let mut builders: Vec<[RulesBuilder; 3]> =
            Action::ALL.iter().map(|_| Default::default()).collect();
        // Missing values matter only to TestAuthorization's report; here they are dropped.
        let mut missing = Vec::new();
        for policy in policies {
            for statement in &policy.document.statements {
                if statement.actions == Default::default()
                    || !statement.conditions_hold(context, &mut missing)
                {
                    continue;
                }
                let globs = statement.resource_globs(context, &mut missing);
                let reduce = |prefix: &str| -> Vec<Glob> {
                    globs
                        .iter()
                        .flat_map(|glob| glob.strip_prefix(prefix))
                        .collect()
                };
                let reduced = [reduce(&base), reduce(&topic), reduce(&topic_filter)];
                for action in statement.actions.iter() {
                    for (rules, globs) in builders[action.index()].iter_mut().zip(&reduced) {
                        let clauses = match statement.effect {
                            Effect::Allow => &mut rules.allow,
                            Effect::Deny => &mut rules.deny,
                        };
                        clauses.add(globs, statement.not_resource);
                    }
                }
            }
        }
        let rules: Vec<ActionRules> = builders
            .into_iter()
            .map(|[base, topic, topic_filter]| ActionRules {
                base: base.build(),
                topic: topic.build(),
                topic_filter: topic_filter.build(),
            })
            .collect();
        let connect = match context.client_id.as_deref() {
            Some(client_id) => {
                let resource = format!("client/{client_id}");
                rules[Action::Connect.index()].base.allows(&resource)
            }
            None => false,
        };
        ConnectionPolicy {
            names: policies.iter().map(|p| p.name.clone()).collect(),
            connect,
            rules,
        }
    }

    /// `iot:Connect` on `client/{context.client_id}` (false without a client id: there is no
    /// resource to authorize).
    pub fn allows_connect(&self) -> bool {
        self.connect
    }

    /// `action` on `topic/{topic}`: Publish (and RetainPublish too when retained), Receive,
    /// GetRetainedMessage. Does not allocate.
    #[inline]
    pub fn allows_topic(&self, action: Action, topic: &str) -> bool {
        self.rules[action.index()].topic.allows(topic)
    }

    /// `iot:Subscribe` on `topicfilter/{filter}`.
    #[inline]
    pub fn allows_topic_filter(&self, filter: &str) -> bool {
        self.rules[Action::Subscribe.index()]
            .topic_filter
            .allows(filter)
    }

    /// Any action on a resource given after `arn:aws:iot:{region}:{account}:` (e.g. "thing/x/y").
    #[inline]
    pub fn allows(&self, action: Action, resource_suffix: &str) -> bool {
        self.rules[action.index()].base.allows(resource_suffix)
    }

    /// The names of the policies compiled in.
    pub fn policy_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }
}
