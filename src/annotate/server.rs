//! The local page of `stance annotate`: a small HTTP server (tiny_http) on
//! 127.0.0.1 serving one HTML page, its script and style (compiled into the
//! binary: no build step, nothing fetched at run time) and a JSON API.
//!
//! - `GET /api/session`: the articles, the queue of sentences with the
//!   model's suggestions, the holders and targets of the standard.
//! - `GET /api/labels`: the decisions in the labels file now.
//! - `POST /api/label`: one decision (a gold record); it is checked and saved
//!   before the answer, which lists every decision in the file.
//!
//! Requests are served one at a time, so the decisions of two tabs are saved
//! one after the other; the labels file's lock does the same across servers.

use super::Session;
use crate::gold::GoldRecord;
use crate::stance::{Holder, Target};
use anyhow::{Context, Result};
use serde::Serialize;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use tiny_http::{Header, Method, Request, Response, Server};

const PAGE_HTML: &str = include_str!("page.html");
const PAGE_JS: &str = include_str!("page.js");
const PAGE_CSS: &str = include_str!("page.css");

/// A decision is a few hundred bytes; anything far larger is not one.
const MAX_BODY_BYTES: u64 = 1 << 20;

/// The server, listening on 127.0.0.1 only.
pub struct AnnotationServer {
    server: Server,
    pub address: SocketAddr,
}

impl AnnotationServer {
    /// Listens on 127.0.0.1:`port` (0: any free port). A port in use is an
    /// error that says so and how to pick another.
    pub fn bind(port: u16) -> Result<Self> {
        let wanted = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = TcpListener::bind(wanted).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                anyhow::anyhow!(
                    "cannot listen on {wanted}: the port is in use (another `stance annotate`?); \
                     pick another with --port N, or --port 0 for any free port"
                )
            } else {
                anyhow::Error::new(e).context(format!("cannot listen on {wanted}"))
            }
        })?;
        let address = listener.local_addr()?;
        let server = Server::from_listener(listener, None)
            .map_err(|e| anyhow::anyhow!("cannot serve on {address}: {e}"))?;
        Ok(AnnotationServer { server, address })
    }

    /// The page's address.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Serves requests until the process ends. Every decision is on disk
    /// before its answer, so ending the process loses nothing.
    pub fn serve(&self, session: &Session) -> Result<()> {
        for request in self.server.incoming_requests() {
            let method = request.method().clone();
            let url = request.url().to_string();
            if let Err(e) = self.handle(session, request) {
                eprintln!("warning: {method} {url}: {e:#}");
            }
        }
        Ok(())
    }

    fn handle(&self, session: &Session, mut request: Request) -> Result<()> {
        // A page from another site may send requests to 127.0.0.1 too: only
        // this page's own requests may change the labels file.
        let origin = format!("http://{}", self.address);
        let foreign = request
            .headers()
            .iter()
            .any(|h| h.field.equiv("Origin") && h.value.as_str() != origin);
        let path = request.url().split('?').next().unwrap_or("").to_string();
        let response = match (request.method(), path.as_str()) {
            (Method::Get, "/") => text(200, PAGE_HTML, "text/html; charset=utf-8"),
            (Method::Get, "/page.js") => text(200, PAGE_JS, "text/javascript; charset=utf-8"),
            (Method::Get, "/page.css") => text(200, PAGE_CSS, "text/css; charset=utf-8"),
            (Method::Get, "/api/session") => json(200, &session_view(session)),
            (Method::Get, "/api/labels") => match session.labels.load() {
                Ok(labels) => json(200, &labels),
                Err(e) => error(500, &e),
            },
            (Method::Post, "/api/label") if foreign => error(
                403,
                &anyhow::anyhow!("requests from other pages are refused"),
            ),
            (Method::Post, "/api/label") => match read_decision(&mut request) {
                Ok(record) => match session.labels.save(record) {
                    Ok(labels) => json(200, &labels),
                    Err(e) => error(400, &e),
                },
                Err(e) => error(400, &e),
            },
            _ => text(404, "not found", "text/plain; charset=utf-8"),
        };
        request.respond(response).context("cannot answer")
    }
}

fn read_decision(request: &mut Request) -> Result<GoldRecord> {
    let mut body = String::new();
    request
        .as_reader()
        .take(MAX_BODY_BYTES)
        .read_to_string(&mut body)
        .context("cannot read the request")?;
    serde_json::from_str(&body).context("not a gold record")
}

/// What the page needs to draw itself.
#[derive(Serialize)]
struct SessionView<'a> {
    out: String,
    order: super::Order,
    suggested_by: &'a str,
    holders: Vec<&'static str>,
    targets: Vec<&'static str>,
    articles: &'a [super::ArticleInfo],
    queue: &'a [crate::pipeline::ScoredSentence],
}

fn session_view(session: &Session) -> SessionView<'_> {
    SessionView {
        out: session.labels.path.display().to_string(),
        order: session.order,
        suggested_by: &session.suggested_by,
        holders: Holder::ALL.iter().map(|h| h.as_str()).collect(),
        targets: Target::ALL.iter().map(|t| t.as_str()).collect(),
        articles: &session.articles,
        queue: &session.queue,
    }
}

type Body = Response<std::io::Cursor<Vec<u8>>>;

fn text(status: u16, body: &str, content_type: &str) -> Body {
    Response::from_string(body)
        .with_status_code(status)
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cache-Control", "no-store"))
}

fn json(status: u16, value: &impl Serialize) -> Body {
    match serde_json::to_string(value) {
        Ok(body) => text(status, &body, "application/json"),
        Err(e) => error(500, &e.into()),
    }
}

fn error(status: u16, e: &anyhow::Error) -> Body {
    let body = serde_json::json!({ "error": format!("{e:#}") }).to_string();
    text(status, &body, "application/json")
}

fn header(field: &str, value: &str) -> Header {
    Header::from_bytes(field.as_bytes(), value.as_bytes()).expect("ASCII header")
}
