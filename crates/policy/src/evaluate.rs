//! Full evaluation of one request against a set of policies (the slow path, as
//! `TestAuthorization` needs it: which policies decided, and which context values were missing).

use std::sync::Arc;

use crate::action::Action;
use crate::context::Context;
use crate::document::{Effect, PolicyDocument};

/// A policy by name, for evaluation.
#[derive(Clone, Debug)]
pub struct NamedPolicy {
    /// The policy name.
    pub name: String,
    /// The policy ARN.
    pub arn: String,
    /// The policy's default version, parsed.
    pub document: Arc<PolicyDocument>,
}

impl NamedPolicy {
    /// The reference `Evaluation` lists this policy by.
    pub fn to_ref(&self) -> NamedPolicyRef {
        NamedPolicyRef {
            name: self.name.clone(),
            arn: self.arn.clone(),
        }
    }
}

/// A policy named in an evaluation's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedPolicyRef {
    /// The policy name.
    pub name: String,
    /// The policy ARN.
    pub arn: String,
}

/// The outcome of an authorization, as AWS IoT's `authDecision` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Some statement allows and none denies.
    Allowed,
    /// Some statement denies.
    ExplicitDeny,
    /// No statement allows or denies.
    ImplicitDeny,
}

impl Decision {
    /// AWS's spelling: `ALLOWED`, `EXPLICIT_DENY`, `IMPLICIT_DENY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "ALLOWED",
            Decision::ExplicitDeny => "EXPLICIT_DENY",
            Decision::ImplicitDeny => "IMPLICIT_DENY",
        }
    }
}

/// The full result of evaluating one request.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The decision.
    pub decision: Decision,
    /// Policies with a matching Allow statement (whatever the decision), in input order.
    pub allowing: Vec<NamedPolicyRef>,
    /// Policies with a matching Deny statement, in input order.
    pub denying: Vec<NamedPolicyRef>,
    /// For `ImplicitDeny`: every policy evaluated (AWS lists them); empty otherwise.
    pub implicitly_denying: Vec<NamedPolicyRef>,
    /// Condition keys and policy variables that had no value in the context while evaluating
    /// statements whose action matched, each once, in the order met.
    pub missing_context_values: Vec<String>,
}

impl Evaluation {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.decision == Decision::Allowed
    }
}

/// Evaluates `action` on `resource_arn` for `context` against `policies`: any matching Deny
/// statement denies, else any matching Allow statement allows, else the request is implicitly
/// denied. A statement matches when its action set contains `action`, its `Resource` (or
/// `NotResource`) admits the ARN after variables are substituted, and all its conditions hold.
pub fn evaluate(
    policies: &[NamedPolicy],
    action: Action,
    resource_arn: &str,
    context: &Context,
) -> Evaluation {
    let mut allowing = Vec::new();
    let mut denying = Vec::new();
    let mut missing = Vec::new();
    for policy in policies {
        let (mut allows, mut denies) = (false, false);
        for statement in &policy.document.statements {
            if !statement.actions.contains(action) {
                continue;
            }
            let globs = statement.resource_globs(context, &mut missing);
            let listed = globs.iter().any(|g| g.matches(resource_arn));
            if listed == statement.not_resource {
                continue;
            }
            if !statement.conditions_hold(context, &mut missing) {
                continue;
            }
            match statement.effect {
                Effect::Allow => allows = true,
                Effect::Deny => denies = true,
            }
        }
        if allows {
            allowing.push(policy.to_ref());
        }
        if denies {
            denying.push(policy.to_ref());
        }
    }
    let decision = if !denying.is_empty() {
        Decision::ExplicitDeny
    } else if !allowing.is_empty() {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    };
    let implicitly_denying = if decision == Decision::ImplicitDeny {
        policies.iter().map(NamedPolicy::to_ref).collect()
    } else {
        Vec::new()
    };
    Evaluation {
        decision,
        allowing,
        denying,
        implicitly_denying,
        missing_context_values: missing,
    }
}
