//! A TCP listener whose connections answer hyper's own parse errors with problem+json.
//!
//! hyper answers a request it cannot parse (a raw `>` or space in the path, a malformed header,
//! a request line or headers too long) itself, before any route or middleware runs, with an
//! empty-bodied 400, 414 or 431. No axum layer sees that request, so the rewrite happens where
//! hyper's answer leaves: the connection's writes. A write that is exactly such an automatic
//! answer (one of those statuses, `content-length: 0`, no `content-type`; Sandpiper's own routes
//! never answer an error without a body) goes out as the same status with a problem+json body.
//! Every other write passes through untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::problem::Problem;

/// A [`TcpListener`] for `axum::serve` whose connections are [`ProblemIo`]s.
pub struct ProblemListener(TcpListener);

impl ProblemListener {
    pub fn new(listener: TcpListener) -> ProblemListener {
        ProblemListener(listener)
    }
}

impl axum::serve::Listener for ProblemListener {
    type Io = ProblemIo<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (ProblemIo::new(stream), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection that turns hyper's empty automatic error answers into problem+json ones.
pub struct ProblemIo<T> {
    inner: T,
    /// A rewritten answer being written in place of the `replaces` bytes hyper handed over.
    pending: Option<Pending>,
}

struct Pending {
    bytes: Vec<u8>,
    written: usize,
    replaces: usize,
}

impl<T> ProblemIo<T> {
    pub fn new(inner: T) -> ProblemIo<T> {
        ProblemIo { inner, pending: None }
    }
}

/// What a client is told for each of hyper's automatic answers.
fn detail(status: StatusCode) -> Option<&'static str> {
    match status {
        StatusCode::BAD_REQUEST => Some(
            "the request could not be parsed: a character in its path or query that must be percent-encoded (such as a space, \", <, > or {), or a malformed request line or header",
        ),
        StatusCode::URI_TOO_LONG => Some("the request's path and query are too long"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => Some("the request's headers are too large"),
        _ => None,
    }
}

/// The problem+json answer to write instead of `written`, if `written` is exactly one of hyper's
/// empty automatic error answers (a whole head, nothing after it).
fn rewrite(written: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(written).ok()?;
    let head = text.strip_suffix("\r\n\r\n")?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let rest = status_line.strip_prefix("HTTP/1.")?;
    let code = rest.get(2..5)?;
    let status = StatusCode::from_bytes(code.as_bytes()).ok()?;
    let detail = detail(status)?;
    let headers: Vec<&str> = lines.collect();
    let named = |name: &str, line: &str| {
        line.split_once(':')
            .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
    };
    let empty = headers
        .iter()
        .any(|l| named("content-length", l) && l.split_once(':').is_some_and(|(_, v)| v.trim() == "0"));
    if !empty || headers.iter().any(|l| named("content-type", l)) {
        return None;
    }
    let body = serde_json::to_string(&Problem::http(status, detail)).ok()?;
    let mut out = String::with_capacity(written.len() + body.len() + 96);
    out.push_str(status_line);
    out.push_str("\r\n");
    for line in headers
        .iter()
        .filter(|l| !named("content-length", l) && !named("connection", l))
    {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("content-type: application/problem+json\r\n");
    out.push_str(&format!("content-length: {}\r\n", body.len()));
    // hyper closes the connection after a request it could not parse.
    out.push_str("connection: close\r\n\r\n");
    out.push_str(&body);
    Some(out.into_bytes())
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemIo<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemIo<T> {
    // Not vectored, so hyper hands each answer over as one flat buffer, head first.
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.is_none() {
            match rewrite(buf) {
                Some(bytes) => {
                    this.pending = Some(Pending {
                        bytes,
                        written: 0,
                        replaces: buf.len(),
                    });
                }
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        while let Some(pending) = this.pending.as_mut() {
            if pending.written == pending.bytes.len() {
                let replaced = pending.replaces;
                this.pending = None;
                return Poll::Ready(Ok(replaced));
            }
            let rest = pending.bytes.get(pending.written..).unwrap_or_default();
            match ready!(Pin::new(&mut this.inner).poll_write(cx, rest)) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => pending.written += n,
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
        Poll::Ready(Ok(0))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn only_an_empty_automatic_error_answer_is_rewritten() {
        let automatic = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Tue, 01 Dec 2026 16:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(rewrite(automatic).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("date: Tue, 01 Dec 2026 16:00:00 GMT"), "{head}");
        assert!(head.contains("content-type: application/problem+json"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let problem: Problem = serde_json::from_str(body).unwrap();
        assert_eq!(problem.status, 400);
        assert!(problem.detail.contains("percent-encoded"));

        for kept in [
            &b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 2\r\n\r\n{}",
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            b"not http at all",
        ] {
            assert_eq!(rewrite(kept), None, "{}", String::from_utf8_lossy(kept));
        }
    }

    #[tokio::test]
    async fn a_raw_angle_bracket_in_the_path_gets_problem_json_from_hyper() {
        let router = axum::Router::new().route("/ok", axum::routing::get(|| async { "ok" }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(ProblemListener::new(listener), router).await });

        for (request, status) in [
            ("GET /v1/applications/a>b HTTP/1.1\r\nhost: x\r\n\r\n", 400),
            ("GET /a b/c HTTP/1.1\r\nhost: x\r\n\r\n", 400),
            ("GET /ok HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n", 400),
        ] {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.unwrap();
            let (head, body) = answer.split_once("\r\n\r\n").unwrap();
            assert!(
                head.starts_with(&format!("HTTP/1.1 {status} ")),
                "{request:?}: {answer}"
            );
            assert!(
                head.contains("content-type: application/problem+json"),
                "{request:?}: {answer}"
            );
            let problem: Problem = serde_json::from_str(body).unwrap();
            assert_eq!(problem.status, status);
        }
        // A good request on the same kind of connection is untouched.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /ok HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200 OK\r\n") && answer.ends_with("\r\n\r\nok"),
            "{answer}"
        );
    }
}
