//! Wildcard patterns as IAM and AWS IoT policies use them: `*` matches any sequence of characters
//! (including `/` and `:`), `?` exactly one character, everything else itself (case-sensitive).
//!
//! Matching is iterative (the greedy algorithm that remembers only the last `*`), so its cost is
//! bounded by the product of the pattern's and the input's lengths, with no backtracking blow-up.

/// One element of a pattern.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Token {
    /// Characters that must appear as they are (never empty).
    Literal(String),
    /// `?`: exactly one character.
    One,
    /// `*`: any sequence of characters.
    Many,
}

/// A normalised pattern: adjacent literals merged and runs of `*` collapsed, so that equal
/// languages built the same way compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    /// A pattern with no wildcards: matches exactly `s`.
    #[cfg(test)]
    pub(crate) fn literal(s: &str) -> Glob {
        let mut glob = Glob::default();
        glob.push_str(s);
        glob
    }

    /// Parses `*` and `?` as wildcards, every other character literally.
    #[cfg(test)]
    pub(crate) fn wildcard(s: &str) -> Glob {
        let mut glob = Glob::default();
        for c in s.chars() {
            match c {
                '*' => glob.push_many(),
                '?' => glob.push_one(),
                c => glob.push_char(c),
            }
        }
        glob
    }

    /// Appends literal text.
    pub(crate) fn push_str(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(Token::Literal(last)) = self.tokens.last_mut() {
            last.push_str(s);
        } else {
            self.tokens.push(Token::Literal(s.to_owned()));
        }
    }

    /// Appends one literal character.
    pub(crate) fn push_char(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }

    /// Appends `?`.
    pub(crate) fn push_one(&mut self) {
        self.tokens.push(Token::One);
    }

    /// Appends `*` (a run of stars is one star).
    pub(crate) fn push_many(&mut self) {
        if self.tokens.last() != Some(&Token::Many) {
            self.tokens.push(Token::Many);
        }
    }

    fn push_token(&mut self, token: &Token) {
        match token {
            Token::Literal(s) => self.push_str(s),
            Token::One => self.push_one(),
            Token::Many => self.push_many(),
        }
    }

    /// Splits the pattern at its first `parts - 1` literal occurrences of `separator`, as IAM
    /// splits an ARN into its components.
    pub(crate) fn split(&self, separator: char, parts: usize) -> Vec<Glob> {
        let mut out = vec![Glob::default()];
        for token in &self.tokens {
            let Token::Literal(lit) = token else {
                if let Some(last) = out.last_mut() {
                    last.push_token(token);
                }
                continue;
            };
            let mut rest = lit.as_str();
            while out.len() < parts {
                let Some((head, tail)) = rest.split_once(separator) else {
                    break;
                };
                if let Some(last) = out.last_mut() {
                    last.push_str(head);
                }
                out.push(Glob::default());
                rest = tail;
            }
            if let Some(last) = out.last_mut() {
                last.push_str(rest);
            }
        }
        out
    }

    /// The literal text the pattern starts with (empty when it starts with a wildcard).
    pub(crate) fn leading_literal(&self) -> &str {
        match self.tokens.first() {
            Some(Token::Literal(lit)) => lit,
            _ => "",
        }
    }

    /// True if the pattern matches every string (it is `*`).
    pub(crate) fn matches_everything(&self) -> bool {
        self.tokens == [Token::Many]
    }

    /// Whether `input` matches the whole pattern.
    pub(crate) fn matches(&self, input: &str) -> bool {
        let tokens = self.tokens.as_slice();
        let bytes = input.as_bytes();
        let (mut ti, mut si) = (0, 0);
        // After a mismatch, resume right after the last `*` seen, with that star having eaten
        // one more character than before. Every segment between stars has a fixed length, so
        // trying its leftmost possible position first is optimal: no older star needs revisiting.
        let mut resume: Option<(usize, usize)> = None;
        loop {
            if let Some(token) = tokens.get(ti) {
                match token {
                    Token::Many => {
                        ti += 1;
                        resume = Some((ti, si));
                        continue;
                    }
                    Token::One if si < bytes.len() => {
                        si = next_char(bytes, si);
                        ti += 1;
                        continue;
                    }
                    Token::Literal(lit) if bytes[si..].starts_with(lit.as_bytes()) => {
                        si += lit.len();
                        ti += 1;
                        continue;
                    }
                    _ => {}
                }
            } else if si == bytes.len() {
                return true;
            } else if tokens.last() == Some(&Token::Many) {
                // The pattern ends with `*`, which takes whatever is left.
                return true;
            }
            match resume {
                Some((after_star, start)) if start < bytes.len() => {
                    let start = next_char(bytes, start);
                    resume = Some((after_star, start));
                    ti = after_star;
                    si = start;
                }
                _ => return false,
            }
        }
    }

    /// The patterns `r` such that this pattern matches `prefix + s` exactly when some `r`
    /// matches `s`: the pattern with `prefix` consumed, computed once so that a hot-path check
    /// matches only what follows a fixed prefix. Empty when no string starting with `prefix`
    /// can match.
    pub(crate) fn strip_prefix(&self, prefix: &str) -> Vec<Glob> {
        // The common case needs no automaton: a leading literal that covers the prefix, or
        // that contradicts it, decides at once.
        let lead = self.leading_literal();
        if !lead.is_empty()
            && let Some(rest) = lead.strip_prefix(prefix)
        {
            let mut glob = Glob::default();
            glob.push_str(rest);
            for token in self.tokens.iter().skip(1) {
                glob.push_token(token);
            }
            return vec![glob];
        }
        let shared = lead.len().min(prefix.len());
        if lead.as_bytes()[..shared] != prefix.as_bytes()[..shared] {
            return Vec::new();
        }
        // Positions in the pattern: (token index, byte offset inside a literal token).
        let mut states: Vec<(usize, usize)> = Vec::new();
        self.add_state(&mut states, (0, 0));
        for c in prefix.chars() {
            let mut next = Vec::new();
            for &(ti, off) in &states {
                match self.tokens.get(ti) {
                    // The end of the pattern accepts no further character.
                    None => {}
                    Some(Token::Literal(lit)) => {
                        let rest = &lit[off..];
                        if rest.starts_with(c) {
                            let off = off + c.len_utf8();
                            if off == lit.len() {
                                self.add_state(&mut next, (ti + 1, 0));
                            } else {
                                self.add_state(&mut next, (ti, off));
                            }
                        }
                    }
                    Some(Token::One) => self.add_state(&mut next, (ti + 1, 0)),
                    Some(Token::Many) => self.add_state(&mut next, (ti, 0)),
                }
            }
            states = next;
            if states.is_empty() {
                return Vec::new();
            }
        }
        let mut residuals: Vec<Glob> = Vec::new();
        for (ti, off) in states {
            let mut glob = Glob::default();
            if off > 0 {
                if let Some(Token::Literal(lit)) = self.tokens.get(ti) {
                    glob.push_str(&lit[off..]);
                }
                for token in &self.tokens[ti + 1..] {
                    glob.push_token(token);
                }
            } else {
                for token in &self.tokens[ti..] {
                    glob.push_token(token);
                }
            }
            if glob.matches_everything() {
                return vec![glob];
            }
            if !residuals.contains(&glob) {
                residuals.push(glob);
            }
        }
        residuals
    }

    /// Adds a state and, when it sits on a `*` (which may match nothing), the state after it.
    /// The end of the pattern is kept as a state only when reached through consumption, since
    /// it accepts the empty rest.
    fn add_state(&self, states: &mut Vec<(usize, usize)>, state: (usize, usize)) {
        let mut state = state;
        loop {
            if state.0 >= self.tokens.len() {
                // End of pattern: keep it only if reached exactly (it matches the empty rest);
                // no input character can move it further, so it matters only as a residual.
                if !states.contains(&state) {
                    states.push(state);
                }
                return;
            }
            if !states.contains(&state) {
                states.push(state);
            }
            if self.tokens[state.0] == Token::Many {
                state = (state.0 + 1, 0);
            } else {
                return;
            }
        }
    }
}

/// The index after the UTF-8 character starting at `i` (`i < bytes.len()`, on a boundary).
fn next_char(bytes: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < bytes.len() && (bytes[j] & 0xC0) == 0x80 {
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The textbook recursive definition, exponential but obviously right.
    fn naive(tokens: &[char], input: &[char]) -> bool {
        match tokens.split_first() {
            None => input.is_empty(),
            Some(('*', rest)) => (0..=input.len()).any(|i| naive(rest, &input[i..])),
            Some(('?', rest)) => !input.is_empty() && naive(rest, &input[1..]),
            Some((c, rest)) => input.first() == Some(c) && naive(rest, &input[1..]),
        }
    }

    #[test]
    fn table() {
        let cases = [
            ("*", "", true),
            ("*", "a/b/c", true),
            ("a*", "a", true),
            ("a*c", "abc", true),
            ("a*c", "abcd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "aéc", true),
            ("*/+/#", "x/+/#", true),
            ("*/+/#", "x/y/#", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("", "", true),
            ("", "a", false),
            ("topic/*/x", "topic/a/b/x", true),
            ("é*?", "éa", true),
            ("*é", "aé", true),
            ("**?", "", false),
        ];
        for (pattern, input, expected) in cases {
            assert_eq!(
                Glob::wildcard(pattern).matches(input),
                expected,
                "{pattern} ~ {input}"
            );
        }
        assert!(!Glob::literal("a*").matches("ab"));
        assert!(Glob::literal("a*").matches("a*"));
    }

    #[test]
    fn long_inputs_stay_fast() {
        let pattern = Glob::wildcard(&"*a".repeat(30));
        let input = "a".repeat(29) + &"b".repeat(10_000);
        assert!(!pattern.matches(&input));
    }

    #[test]
    fn strip_prefix_examples() {
        let g = Glob::wildcard("arn:aws:iot:us-east-1:1:topic/a/*");
        assert_eq!(
            g.strip_prefix("arn:aws:iot:us-east-1:1:topic/"),
            vec![Glob::wildcard("a/*")]
        );
        assert!(
            g.strip_prefix("arn:aws:iot:us-east-1:1:topicfilter/")
                .is_empty()
        );
        assert_eq!(
            Glob::wildcard("arn:*").strip_prefix("arn:aws:iot:r:1:topic/"),
            vec![Glob::wildcard("*")]
        );
        assert_eq!(
            Glob::wildcard("ab").strip_prefix("ab"),
            vec![Glob::literal("")]
        );
        assert!(Glob::wildcard("a").strip_prefix("ab").is_empty());
    }

    fn pattern() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[ab/*?é]{0,8}").unwrap()
    }

    fn input() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[ab/*?é]{0,10}").unwrap()
    }

    proptest! {
        #[test]
        fn matches_like_the_definition(p in pattern(), s in input()) {
            let tokens: Vec<char> = p.chars().collect();
            let chars: Vec<char> = s.chars().collect();
            prop_assert_eq!(Glob::wildcard(&p).matches(&s), naive(&tokens, &chars));
        }

        #[test]
        fn strip_prefix_preserves_matching(p in pattern(), prefix in input(), rest in input()) {
            let glob = Glob::wildcard(&p);
            let whole = format!("{prefix}{rest}");
            let residual = glob.strip_prefix(&prefix).iter().any(|g| g.matches(&rest));
            prop_assert_eq!(glob.matches(&whole), residual);
        }
    }
}
