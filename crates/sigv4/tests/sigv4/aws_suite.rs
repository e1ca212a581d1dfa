//! The AWS SigV4 signing test suite (`tests/data/aws-signing-test-suite`): every header- and
//! query-signed request verifies, and thingd's canonical request is the suite's.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;
use thingd_sigv4::{Error, Verifier};

use crate::support::TestRequest;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/aws-signing-test-suite/v4")
}

/// Parses a signed request of the suite: request line, headers (folded lines continue the
/// previous header), blank line, body. The request target is the path and query as sent.
fn parse_request(text: &str) -> TestRequest {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let target = rest.strip_suffix(" HTTP/1.1").unwrap_or(rest);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut request = TestRequest::new(method, path, query).without_header("host");
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = request.headers.last_mut().unwrap();
            last.1.push('\n');
            last.1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').unwrap();
            request = request.header(name, value.trim_start());
        }
    }
    request.body(body.as_bytes())
}

/// The credential scope of a signed request: (access key id, date, region, service).
fn scope(request: &TestRequest) -> (String, String, String, String) {
    let credential = match request.header_value("authorization") {
        Some(auth) => auth
            .split("Credential=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_owned(),
        None => request
            .query
            .as_deref()
            .unwrap()
            .split('&')
            .find_map(|p| p.strip_prefix("X-Amz-Credential="))
            .unwrap()
            .replace("%2F", "/"),
    };
    let parts: Vec<&str> = credential.split('/').collect();
    (
        parts[0].to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
        parts[3].to_owned(),
    )
}

fn request_time(request: &TestRequest) -> SystemTime {
    let date = request
        .header_value("x-amz-date")
        .map(str::to_owned)
        .or_else(|| {
            request
                .query
                .as_deref()?
                .split('&')
                .find_map(|p| p.strip_prefix("X-Amz-Date="))
                .map(str::to_owned)
        })
        .unwrap();
    let days = |y: u64, m: u64, d: u64| {
        // Days since 1970 for the years of the suite (2015, 2021), by counting.
        let mut n = 0;
        for year in 1970..y {
            n += if (year.is_multiple_of(4) && !year.is_multiple_of(100))
                || year.is_multiple_of(400)
            {
                366
            } else {
                365
            };
        }
        let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
        let months = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        n + months[..(m as usize - 1)].iter().sum::<u64>() + d - 1
    };
    let num = |r: std::ops::Range<usize>| date[r].parse::<u64>().unwrap();
    let secs = days(num(0..4), num(4..6), num(6..8)) * 86_400
        + num(9..11) * 3_600
        + num(11..13) * 60
        + num(13..15);
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Verified,
    VerifiedIgnoringToken,
    SessionTokenRefused,
}

fn run(dir: &Path, kind: &str) -> Option<Outcome> {
    let signed = std::fs::read_to_string(dir.join(format!("{kind}-signed-request.txt"))).ok()?;
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let context: Option<Value> = std::fs::read_to_string(dir.join("context.json"))
        .ok()
        .map(|s| serde_json::from_str(&s).unwrap());
    if context.as_ref().is_some_and(|c| c["normalize"] == false) {
        // S3-style signing without path normalization: not what thingd's services do.
        return None;
    }
    let request = parse_request(&signed);
    let (akid, _date, region, service) = scope(&request);
    let verifier = Verifier::new(region, [service]);
    let now = request_time(&request);
    let outcome = match request.verify_with(&verifier, now, &akid, SECRET) {
        Ok(v) if v.unsigned_session_token => Outcome::VerifiedIgnoringToken,
        Ok(_) => Outcome::Verified,
        Err(Error::SessionTokenNotSupported) => Outcome::SessionTokenRefused,
        Err(e) if name == "double-encode-path" => {
            // Its access key's secret is not given: compare the canonical URI only.
            assert!(
                matches!(e, Error::SignatureMismatch { .. }),
                "{name}: {e:?}"
            );
            let ours = request.canonical_request(&verifier, now, &akid);
            let expected =
                std::fs::read_to_string(dir.join(format!("{kind}-canonical-request.txt"))).unwrap();
            assert_eq!(ours.lines().nth(1), expected.lines().nth(1), "{name}");
            return Some(Outcome::Verified);
        }
        Err(e) => panic!("{name} ({kind}): {e:?}"),
    };
    if outcome != Outcome::SessionTokenRefused {
        let expected =
            std::fs::read_to_string(dir.join(format!("{kind}-canonical-request.txt"))).unwrap();
        assert_eq!(
            request.canonical_request(&verifier, now, &akid),
            expected.trim_end_matches('\n'),
            "{name} ({kind})"
        );
    }
    Some(outcome)
}

#[test]
fn aws_signing_test_suite() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(suite_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let mut results = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for kind in ["header", "query"] {
            if let Some(outcome) = run(dir, kind) {
                results.push((format!("{name}/{kind}"), outcome));
            }
        }
    }
    let count = |o: Outcome| results.iter().filter(|(_, r)| *r == o).count();
    let refused: Vec<&str> = results
        .iter()
        .filter(|(_, r)| *r == Outcome::SessionTokenRefused)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        refused,
        [
            "get-vanilla-with-session-token/header",
            "get-vanilla-with-session-token/query",
            "post-sts-header-after/header",
            "post-sts-header-before/header",
            "post-sts-header-before/query",
        ]
    );
    let ignoring: Vec<&str> = results
        .iter()
        .filter(|(_, r)| *r == Outcome::VerifiedIgnoringToken)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(ignoring, ["post-sts-header-after/query"]);
    // 31 cases with path normalization, header and query signed, and the two header-only
    // cases without a context (double-url-encode; double-encode-path, canonical URI only): 64,
    // less the 6 with a session token above. The 7 S3-style unnormalized cases are skipped.
    assert_eq!(results.len(), 64);
    assert_eq!(count(Outcome::Verified), 58, "{results:#?}");
}
