//! The `http` action: the result POSTed to a URL (reference §5.6, AWS's `HttpAction`).
//!
//! As in AWS: POST only; `Content-Type: application/json` for a JSON result, else
//! `application/octet-stream`, unless a header sets it; header values and the URL are templates;
//! a request times out after 3 s (`RulesOptions::http_timeout`); any status but 2xx is a
//! failure; redirects are not followed. The URL must lie under the confirmation URL of an
//! ENABLED topic rule destination, or under a `--rules-trusted-destination` prefix. HTTPS is
//! verified against the webpki roots (plus `--rules-http-ca` files); plain `http://` is refused
//! unless the URL lies under a `--rules-http-allow` prefix. SigV4 signing (`auth`) and batching
//! (`enableBatching`) are not implemented: an action with `auth` fails every delivery, batching is
//! ignored (one request per message).

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use thingd_rules::HttpAction;
use thingd_sql::{SqlVersion, Template};

use super::{ActionError, Job, Services, template};

/// The most bytes of a response body read (and thrown away) so the connection can be reused.
const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// thingd's outgoing HTTP client: one connection pool, rustls on aws-lc-rs.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpClient {
    /// A client trusting the webpki roots and the certificates of `extra_roots_pem`.
    pub(crate) fn new(extra_roots_pem: &[String]) -> anyhow::Result<HttpClient> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for pem in extra_roots_pem {
            for certificate in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(certificate?)?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        // The scheme is checked against the allowed prefixes before any request is made.
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(HttpClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// Sends `request`, waiting at most `timeout` for the response head and a bounded part of
    /// its body; the status.
    pub(crate) async fn send(
        &self,
        request: Request<Full<Bytes>>,
        timeout: std::time::Duration,
    ) -> Result<http::StatusCode, String> {
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| describe_error(&error))?;
            let status = response.status();
            // Read what the peer sends, within bounds, so the connection goes back to the pool.
            let _ = Limited::new(response.into_body(), MAX_RESPONSE_BODY)
                .collect()
                .await;
            Ok(status)
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(format!("The request timed out after {timeout:?}")))
    }
}

/// The error and its causes, for a failure message.
fn describe_error(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A compiled `http` action.
pub(crate) struct Http {
    url: Template,
    headers: Vec<(HeaderName, Template)>,
    sets_content_type: bool,
}

impl Http {
    pub(crate) fn compile(action: &HttpAction, version: SqlVersion) -> Result<Self, String> {
        if action.auth.as_ref().is_some_and(|a| a.sigv4.is_some()) {
            return Err(
                "SigV4 authentication of the http action is not supported by thingd".to_owned(),
            );
        }
        let mut headers = Vec::new();
        for header in action.headers.iter().flatten() {
            let name = HeaderName::from_bytes(header.key.as_bytes())
                .map_err(|_| format!("'{}' is not a valid HTTP header name", header.key))?;
            headers.push((name, template("headers.value", &header.value, version)?));
        }
        Ok(Http {
            url: template("url", &action.url, version)?,
            sets_content_type: headers.iter().any(|(name, _)| name == CONTENT_TYPE),
            headers,
        })
    }

    /// POSTs one result.
    pub(crate) async fn run(&self, job: &Job, services: &Services) -> Result<(), ActionError> {
        let event = &job.event;
        let url = event.render(&self.url, &services.env);
        let fail = |message: String| ActionError::new(url.clone(), message);
        check_url(&url, services).map_err(fail)?;
        let uri: Uri = url
            .parse()
            .map_err(|error| fail(format!("The URL is not valid: {error}")))?;
        let mut request = Request::builder().method(Method::POST).uri(uri);
        if !self.sets_content_type {
            let content_type = if event.json().is_some() {
                "application/json"
            } else {
                "application/octet-stream"
            };
            request = request.header(CONTENT_TYPE, content_type);
        }
        for (name, value) in &self.headers {
            let value = HeaderValue::try_from(event.render(value, &services.env))
                .map_err(|_| fail(format!("The value of header {name} is not valid")))?;
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(event.body.clone()))
            .map_err(|error| fail(format!("The request cannot be built: {error}")))?;
        let status = services
            .http
            .send(request, services.options.http_timeout)
            .await
            .map_err(|error| fail(format!("POST {url} failed: {error}")))?;
        if status.is_success() {
            Ok(())
        } else {
            Err(fail(format!("POST {url} answered {status}")))
        }
    }
}

/// Whether the action may send to `url`: HTTPS or an allowed plain-HTTP prefix, and under an
/// ENABLED destination or a trusted prefix.
fn check_url(url: &str, services: &Services) -> Result<(), String> {
    let options = &services.options;
    if url.starts_with("http://") {
        if !options.http_allow.iter().any(|p| url_is_under(url, p)) {
            return Err(format!(
                "Plain http:// is refused for {url}: the http action uses HTTPS unless the URL is under a --rules-http-allow prefix"
            ));
        }
    } else if !url.starts_with("https://") {
        return Err(format!("The URL {url} is neither https:// nor http://"));
    }
    let destinations = services.destinations.load();
    let allowed = destinations
        .iter()
        .chain(options.trusted_destinations.iter())
        .any(|prefix| url_is_under(url, prefix));
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "No ENABLED topic rule destination (nor --rules-trusted-destination) covers {url}"
        ))
    }
}

/// Whether `url` lies under `prefix`: it starts with it, and the prefix ends where a URL part
/// does (after `/` or `:`, or where the URL goes on with `/`, `?` or `#`, or ends), so that
/// `https://a.example` does not cover `https://a.example.org`.
pub(crate) fn url_is_under(url: &str, prefix: &str) -> bool {
    if prefix.is_empty() || !url.starts_with(prefix) {
        return false;
    }
    if prefix.ends_with(['/', ':']) {
        return true;
    }
    matches!(
        url[prefix.len()..].chars().next(),
        None | Some('/' | '?' | '#')
    )
}

#[cfg(test)]
mod tests {
    use super::url_is_under;

    #[test]
    fn prefixes_end_at_url_boundaries() {
        assert!(url_is_under("https://a.example/x", "https://a.example"));
        assert!(url_is_under("https://a.example", "https://a.example"));
        assert!(url_is_under("https://a.example/x?q", "https://a.example/x"));
        assert!(url_is_under("https://a.example/xy", "https://a.example/"));
        assert!(url_is_under("http://127.0.0.1:8080/p", "http://127.0.0.1:"));
        assert!(!url_is_under(
            "https://a.example.org/x",
            "https://a.example"
        ));
        assert!(!url_is_under("https://a.example/xy", "https://a.example/x"));
        assert!(!url_is_under("https://a.example:444/", "https://a.example"));
        assert!(!url_is_under("https://a.example/", ""));
    }
}
