//! The minimal HTTP/1.x subset SoftEther speaks inside TLS during
//! negotiation (docs/protocol-sslvpn.md §3; SoftEther `src/Mayaqua/HTTP.c`:
//! `RecvHttpHeader`, `AddHttpValueStr`, `GetContentLength`, `PostHttp`,
//! `HttpSendForbidden`/`NotFound`/`NotImplemented`, `GetHttpDateStr`).
//!
//! The parser is incremental: feed it a growing [`BytesMut`]; it consumes
//! complete lines and, once the head is complete, exactly `Content-Length`
//! body bytes, and leaves everything after the message in the buffer.

use bytes::{Bytes, BytesMut};

/// Longest head line including its line end (`HTTP_HEADER_LINE_MAX_SIZE`).
pub const MAX_LINE: usize = 4096;

/// Most header lines per message (`HTTP_HEADER_MAX_LINES`).
pub const MAX_HEADERS: usize = 128;

/// Most bytes of one message head (start line, header lines and their line
/// ends) as received. SoftEther allows 128 lines of 4 KiB (512 KiB, expanded
/// further by its string copies); its own clients send a few hundred bytes
/// and browsers rarely more than 8 KiB, so a head over 16 KiB is refused
/// (issue 9: a bounded pre-authentication memory budget per connection).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// `Keep-Alive` header value SoftEther sends (`HTTP_KEEP_ALIVE`).
pub const KEEP_ALIVE: &str = "timeout=15; max=19";

/// Content type of PACK bodies (`HTTP_CONTENT_TYPE2`).
pub const CONTENT_TYPE_PACK: &str = "application/octet-stream";

/// Content type of the signature POST (`HTTP_CONTENT_TYPE3`; not checked).
pub const CONTENT_TYPE_SIGNATURE: &str = "image/jpeg";

/// Content type of error pages (`HTTP_CONTENT_TYPE`).
pub const CONTENT_TYPE_HTML: &str = "text/html; charset=iso-8859-1";

/// Target of the signature POST (`HTTP_VPN_TARGET2`).
pub const SIGNATURE_TARGET: &str = "/vpnsvc/connect.cgi";

/// Target of PACK POSTs (`HTTP_VPN_TARGET`).
pub const PACK_TARGET: &str = "/vpnsvc/vpn.cgi";

/// Why bytes are not an acceptable HTTP message.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// A head line is longer than 4096 bytes.
    #[error("HTTP line longer than {MAX_LINE} bytes")]
    LineTooLong,
    /// The start line has fewer than three space-separated tokens.
    #[error("malformed HTTP start line")]
    BadStartLine,
    /// A header line without `:`, with an empty name or an empty value.
    #[error("malformed HTTP header line")]
    BadHeader,
    /// More than 128 header lines (SoftEther keeps 128 and drops the rest;
    /// we refuse the message).
    #[error("more than {MAX_HEADERS} HTTP headers")]
    TooManyHeaders,
    /// The head is longer than [`MAX_HEAD_BYTES`] (not a SoftEther limit).
    #[error("HTTP head longer than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    /// `Content-Length` is not a decimal number.
    #[error("invalid Content-Length")]
    BadContentLength,
    /// `Content-Length` exceeds the parser's limit; raised as soon as the
    /// head is parsed, before any body byte is awaited.
    #[error("HTTP body of {length} bytes exceeds limit {limit}")]
    BodyTooLarge {
        /// The announced length.
        length: usize,
        /// The parser's `max_body`.
        limit: usize,
    },
}

/// A parsed start line and header list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpHead {
    /// Start line tokens: request `[method, target, version]`, response
    /// `[version, status, reason]`; the third token is the rest of the line
    /// (a reason phrase may contain spaces).
    pub start: [String; 3],
    /// Headers in arrival order, names and values trimmed.
    pub headers: Vec<(String, String)>,
}

impl HttpHead {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Content-Length` as a decimal number; missing means 0
    /// (`GetContentLength`). Non-digits or overflow are an error.
    pub fn content_length(&self) -> Result<usize, HttpError> {
        match self.header("Content-Length") {
            None => Ok(0),
            Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                v.parse().map_err(|_| HttpError::BadContentLength)
            }
            Some(_) => Err(HttpError::BadContentLength),
        }
    }

    /// Request method (first start-line token).
    pub fn method(&self) -> &str {
        &self.start[0]
    }

    /// Request target (second start-line token).
    pub fn target(&self) -> &str {
        &self.start[1]
    }
}

/// One complete HTTP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpMessage {
    /// Start line and headers.
    pub head: HttpHead,
    /// Exactly `Content-Length` bytes.
    pub body: Bytes,
}

#[derive(Debug, Default)]
enum State {
    #[default]
    StartLine,
    /// Start line, headers so far, head bytes received so far.
    Headers([String; 3], Vec<(String, String)>, usize),
    Body(HttpHead, usize),
}

/// Incremental parser for one HTTP message at a time (requests and
/// responses alike), following `RecvHttpHeader` in `src/Mayaqua/HTTP.c`.
#[derive(Debug)]
pub struct HttpParser {
    max_body: usize,
    state: State,
}

/// Takes one line (without its LF or CRLF) off the front of `buf`, with
/// the number of bytes it took (line end included).
fn take_line(buf: &mut BytesMut) -> Result<Option<(String, usize)>, HttpError> {
    let window = &buf[..buf.len().min(MAX_LINE)];
    match window.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let line = buf.split_to(i + 1);
            let mut l = &line[..i];
            if l.last() == Some(&b'\r') {
                l = &l[..l.len() - 1];
            }
            Ok(Some((line_text(l), i + 1)))
        }
        None if buf.len() >= MAX_LINE => Err(HttpError::LineTooLong),
        None => Ok(None),
    }
}

/// The text of a head line, never longer than its bytes: valid UTF-8 as it
/// is; otherwise every non-ASCII byte becomes `?` (a lossy conversion with
/// U+FFFD would triple the size of hostile input).
fn line_text(l: &[u8]) -> String {
    match std::str::from_utf8(l) {
        Ok(s) => s.to_owned(),
        Err(_) => l
            .iter()
            .map(|&b| if b.is_ascii() { b as char } else { '?' })
            .collect(),
    }
}

fn trim_st(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

fn parse_start_line(line: &str) -> Result<[String; 3], HttpError> {
    // Split at spaces, empty tokens skipped (`ParseToken`); the third token
    // keeps the rest of the line.
    let mut rest = line.trim_start_matches(' ');
    let tok = |rest: &mut &str| -> Option<String> {
        let t = rest.split(' ').next().filter(|t| !t.is_empty())?.to_owned();
        *rest = rest[t.len()..].trim_start_matches(' ');
        Some(t)
    };
    let a = tok(&mut rest).ok_or(HttpError::BadStartLine)?;
    let b = tok(&mut rest).ok_or(HttpError::BadStartLine)?;
    let c = rest.trim_end_matches(' ');
    if c.is_empty() {
        return Err(HttpError::BadStartLine);
    }
    Ok([a, b, c.to_owned()])
}

fn parse_header_line(line: &str) -> Result<(String, String), HttpError> {
    let (name, value) = line.split_once(':').ok_or(HttpError::BadHeader)?;
    let (name, value) = (trim_st(name), trim_st(value));
    if name.is_empty() || value.is_empty() {
        return Err(HttpError::BadHeader);
    }
    Ok((name.to_owned(), value.to_owned()))
}

impl HttpParser {
    /// A parser that refuses bodies longer than `max_body` bytes.
    pub fn new(max_body: usize) -> Self {
        HttpParser {
            max_body,
            state: State::StartLine,
        }
    }

    /// The body limit.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// Bytes of a partly received head that the parser keeps (at most
    /// [`MAX_HEAD_BYTES`]); 0 between messages and while a body is awaited
    /// (the body stays in the caller's buffer).
    pub fn kept_bytes(&self) -> usize {
        match &self.state {
            State::Headers(_, _, kept) => *kept,
            _ => 0,
        }
    }

    /// Changes the body limit for the next message.
    pub fn set_max_body(&mut self, max_body: usize) {
        self.max_body = max_body;
    }

    /// Parses only the head of the next message, consuming it from `buf`;
    /// `Ok(None)` means more input is needed. The caller then decides whether
    /// a body follows (SoftEther's signature dispatcher reads a body only for
    /// POST).
    ///
    /// # Panics
    /// If called while [`HttpParser::parse`] has a message half-read (a
    /// programming error, not an input error).
    pub fn parse_head(&mut self, buf: &mut BytesMut) -> Result<Option<HttpHead>, HttpError> {
        loop {
            match &mut self.state {
                State::StartLine => {
                    let Some((line, used)) = take_line(buf)? else {
                        return Ok(None);
                    };
                    let start = parse_start_line(&line)?;
                    if start[2].eq_ignore_ascii_case("HTTP/0.9") {
                        // HTTP/0.9 ends the head at the start line.
                        return Ok(Some(HttpHead {
                            start,
                            headers: Vec::new(),
                        }));
                    }
                    self.state = State::Headers(start, Vec::new(), used);
                }
                State::Headers(_, headers, kept) => {
                    let Some((line, used)) = take_line(buf)? else {
                        return Ok(None);
                    };
                    *kept += used;
                    if *kept > MAX_HEAD_BYTES {
                        self.state = State::StartLine;
                        return Err(HttpError::HeadTooLarge);
                    }
                    let line = trim_st(&line);
                    if line.is_empty() {
                        let State::Headers(start, headers, _) = std::mem::take(&mut self.state)
                        else {
                            unreachable!()
                        };
                        return Ok(Some(HttpHead { start, headers }));
                    }
                    if headers.len() >= MAX_HEADERS {
                        self.state = State::StartLine;
                        return Err(HttpError::TooManyHeaders);
                    }
                    headers.push(parse_header_line(line)?);
                }
                State::Body(..) => unreachable!("parse_head during parse"),
            }
        }
    }

    /// Parses the next complete message off the front of `buf`, consuming
    /// exactly its bytes; `Ok(None)` means more input is needed (call again
    /// with more bytes appended). A body longer than `max_body` is an error
    /// as soon as the head is known. After an error the parser is reset but
    /// the connection should be dropped.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<HttpMessage>, HttpError> {
        let r = self.parse_inner(buf);
        if r.is_err() {
            self.state = State::StartLine;
        }
        r
    }

    fn parse_inner(&mut self, buf: &mut BytesMut) -> Result<Option<HttpMessage>, HttpError> {
        if !matches!(self.state, State::Body(..)) {
            let Some(head) = self.parse_head(buf)? else {
                return Ok(None);
            };
            let length = head.content_length()?;
            if length > self.max_body {
                return Err(HttpError::BodyTooLarge {
                    length,
                    limit: self.max_body,
                });
            }
            self.state = State::Body(head, length);
        }
        let State::Body(_, length) = &self.state else {
            unreachable!()
        };
        if buf.len() < *length {
            return Ok(None);
        }
        let body = buf.split_to(*length).freeze();
        let State::Body(head, _) = std::mem::take(&mut self.state) else {
            unreachable!()
        };
        Ok(Some(HttpMessage { head, body }))
    }
}

fn write_head(out: &mut Vec<u8>, start: [&str; 3], headers: &[(&str, &str)], body_len: usize) {
    let len = body_len.to_string();
    let mut all: Vec<(&str, &str)> = headers
        .iter()
        .copied()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("Content-Length"))
        .collect();
    all.push(("Content-Length", &len));
    // SoftEther keeps headers in a list sorted case-insensitively.
    all.sort_by(|a, b| {
        a.0.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.0.bytes().map(|c| c.to_ascii_lowercase()))
    });
    out.extend_from_slice(start.join(" ").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (n, v) in all {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a request `METHOD TARGET HTTP/1.1`, the headers plus
/// `Content-Length` sorted by name case-insensitively, and the body
/// (`PostHttp`). A `Content-Length` in `headers` is replaced.
pub fn write_request(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    write_head(out, [method, target, "HTTP/1.1"], headers, body.len());
    out.extend_from_slice(body);
}

/// Appends a response `HTTP/1.1 CODE REASON`, the headers plus
/// `Content-Length` sorted by name case-insensitively, and the body.
pub fn write_response(
    out: &mut Vec<u8>,
    code: u16,
    reason: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    let code = code.to_string();
    write_head(out, ["HTTP/1.1", &code, reason], headers, body.len());
    out.extend_from_slice(body);
}

/// RFC 1123 date as SoftEther writes it (`GetHttpDateStr`), e.g.
/// `Sun, 22 Nov 2026 01:26:39 GMT`, from seconds since the Unix epoch.
pub fn http_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = crate::softether::time::UtcTime::from_unix_ms(unix_secs.saturating_mul(1000));
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[t.weekday as usize % 7],
        t.day,
        MONTHS[(t.month as usize + 11) % 12],
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

/// Replaces characters that could break out of the HTML page
/// (`ReplaceUnsafeCharInHttpTarget`).
fn html_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' | '>' | '&' | '"' | '\'' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect()
}

/// A complete error response shaped like SoftEther's (docs/protocol-sslvpn.md
/// §3.4; `HttpSendForbidden`, `HttpSendNotFound`, `HttpSendNotImplemented`):
/// headers `Connection: Keep-Alive`, `Content-Length`, `Content-Type:
/// text/html; charset=iso-8859-1`, `Date`, `Keep-Alive: timeout=15; max=19`
/// and a small HTML page naming `target` and `HTTP Server at HOST Port PORT`
/// (host = the server's local address). `code` is 403, 404 or 501; any other
/// value produces a 400 page. `date` comes from [`http_date`].
pub fn error_page(code: u16, target: &str, host: &str, port: u16, date: &str) -> Vec<u8> {
    let (code, reason, text) = match code {
        403 => (
            403,
            "Forbidden",
            format!(
                "You don't have permission to access {}\non this server.",
                html_safe(target)
            ),
        ),
        404 => (
            404,
            "Not Found",
            format!(
                "The requested URL {} was not found on this server.",
                html_safe(target)
            ),
        ),
        501 => (
            501,
            "Method Not Implemented",
            format!(
                "The request method is not supported for {}.",
                html_safe(target)
            ),
        ),
        _ => (
            400,
            "Bad Request",
            "Your browser sent a request that this server could not understand.".to_owned(),
        ),
    };
    let body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n<HTML><HEAD>\r\n\
         <TITLE>{code} {reason}</TITLE>\r\n</HEAD><BODY>\r\n<H1>{reason}</H1>\r\n\
         {text}<P>\r\n<HR>\r\n<ADDRESS>HTTP Server at {host} Port {port}</ADDRESS>\r\n\
         </BODY></HTML>\r\n",
        host = html_safe(host)
    );
    let mut out = Vec::with_capacity(body.len() + 256);
    write_response(
        &mut out,
        code,
        reason,
        &[
            ("Date", date),
            ("Keep-Alive", KEEP_ALIVE),
            ("Connection", "Keep-Alive"),
            ("Content-Type", CONTENT_TYPE_HTML),
        ],
        body.as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SIGNATURE_REQ: &[u8] = b"POST /vpnsvc/connect.cgi HTTP/1.1\r\n\
Connection: Keep-Alive\r\nContent-Length: 10\r\nContent-Type: image/jpeg\r\nHost: 127.0.0.1\r\n\r\nVPNCONNECT";

    fn parse_all(p: &mut HttpParser, bytes: &[u8]) -> Result<Option<HttpMessage>, HttpError> {
        let mut buf = BytesMut::from(bytes);
        p.parse(&mut buf)
    }

    #[test]
    fn request_and_leftover() {
        let mut buf = BytesMut::from(SIGNATURE_REQ);
        buf.extend_from_slice(b"NEXT");
        let mut p = HttpParser::new(100);
        let m = p.parse(&mut buf).unwrap().unwrap();
        assert_eq!(m.head.start, ["POST", "/vpnsvc/connect.cgi", "HTTP/1.1"]);
        assert_eq!(m.head.method(), "POST");
        assert_eq!(m.head.target(), "/vpnsvc/connect.cgi");
        assert_eq!(m.head.header("content-type"), Some("image/jpeg"));
        assert_eq!(m.head.header("HOST"), Some("127.0.0.1"));
        assert_eq!(m.head.header("x"), None);
        assert_eq!(m.head.content_length(), Ok(10));
        assert_eq!(&m.body[..], b"VPNCONNECT");
        assert_eq!(&buf[..], b"NEXT");
    }

    #[test]
    fn response_reason_with_spaces_bare_lf_and_no_length() {
        let mut p = HttpParser::new(0);
        let m = parse_all(&mut p, b"HTTP/1.1  404   Not Found \nA:b\n  \n")
            .unwrap()
            .unwrap();
        assert_eq!(m.head.start, ["HTTP/1.1", "404", "Not Found"]);
        assert_eq!(m.head.headers, vec![("A".to_owned(), "b".to_owned())]);
        assert!(m.body.is_empty());
        let m = parse_all(&mut p, b"GET / HTTP/0.9\r\nrest")
            .unwrap()
            .unwrap();
        assert!(m.head.headers.is_empty());
    }

    #[test]
    fn incremental_any_split() {
        let mut whole = SIGNATURE_REQ.to_vec();
        whole.extend_from_slice(SIGNATURE_REQ);
        for split in 0..whole.len() {
            let mut p = HttpParser::new(100);
            let mut buf = BytesMut::from(&whole[..split]);
            let mut got = Vec::new();
            while let Some(m) = p.parse(&mut buf).unwrap() {
                got.push(m);
            }
            buf.extend_from_slice(&whole[split..]);
            while let Some(m) = p.parse(&mut buf).unwrap() {
                got.push(m);
            }
            assert_eq!(got.len(), 2, "split {split}");
            assert_eq!(got[0], got[1]);
            assert!(buf.is_empty());
        }
    }

    /// Issue 9: a head is bounded in bytes received, and stored text never
    /// takes more bytes than were received.
    #[test]
    fn head_bytes_are_bounded_and_not_expanded() {
        let mut p = HttpParser::new(0);
        let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nX-A: \xff\xfeb\r\n\r\n"[..]);
        let head = p.parse_head(&mut buf).unwrap().unwrap();
        assert_eq!(head.header("x-a"), Some("??b"));

        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..20 {
            big.extend_from_slice(format!("X-{i}: {}\r\n", "v".repeat(4000)).as_bytes());
        }
        big.extend_from_slice(b"\r\n");
        let mut buf = BytesMut::from(&big[..]);
        let mut p = HttpParser::new(0);
        assert_eq!(p.parse_head(&mut buf), Err(HttpError::HeadTooLarge));
    }

    #[test]
    fn errors() {
        let mut p = HttpParser::new(100);
        assert_eq!(
            parse_all(&mut p, b"GET /\r\n"),
            Err(HttpError::BadStartLine)
        );
        assert_eq!(parse_all(&mut p, b"\r\n"), Err(HttpError::BadStartLine));
        assert_eq!(
            parse_all(&mut p, b"GET / HTTP/1.1\r\nNoColon\r\n\r\n"),
            Err(HttpError::BadHeader)
        );
        assert_eq!(
            parse_all(&mut p, b"GET / HTTP/1.1\r\nEmpty:  \r\n\r\n"),
            Err(HttpError::BadHeader)
        );
        assert_eq!(
            parse_all(&mut p, b"GET / HTTP/1.1\r\n: v\r\n\r\n"),
            Err(HttpError::BadHeader)
        );
        assert_eq!(
            parse_all(&mut p, b"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(
            parse_all(
                &mut p,
                b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"
            ),
            Err(HttpError::BadContentLength)
        );
        // too large: error without the body having arrived
        assert_eq!(
            parse_all(&mut p, b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n"),
            Err(HttpError::BodyTooLarge {
                length: 101,
                limit: 100
            })
        );
        assert_eq!(
            parse_all(&mut p, b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n"),
            Ok(None)
        );
        let mut p = HttpParser::new(100);
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..128 {
            many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        let mut ok = many.clone();
        ok.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_all(&mut p, &ok).unwrap().unwrap().head.headers.len(),
            128
        );
        many.extend_from_slice(b"H128: v\r\n\r\n");
        assert_eq!(parse_all(&mut p, &many), Err(HttpError::TooManyHeaders));
    }

    #[test]
    fn head_bytes_are_bounded_and_kept_as_received() {
        // 5 header lines of 4 KiB of invalid UTF-8: 20 KiB > MAX_HEAD_BYTES
        let mut p = HttpParser::new(0);
        let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
        assert_eq!(p.parse(&mut buf), Ok(None));
        assert_eq!(p.kept_bytes(), 16);
        let mut line = b"X: ".to_vec();
        line.resize(4094, 0xff);
        line.extend_from_slice(b"\r\n");
        let mut kept = 16;
        for _ in 0..3 {
            buf.extend_from_slice(&line);
            assert_eq!(p.parse(&mut buf), Ok(None));
            kept += line.len();
            // as received, not expanded to U+FFFD (3 bytes each)
            assert_eq!(p.kept_bytes(), kept);
            let State::Headers(_, h, _) = &p.state else {
                panic!("in the head")
            };
            let text: usize = h.iter().map(|(n, v)| n.len() + v.len()).sum();
            assert!(text <= kept);
        }
        buf.extend_from_slice(&line);
        assert_eq!(p.parse(&mut buf), Err(HttpError::HeadTooLarge));
        assert_eq!(p.kept_bytes(), 0);
        // a head just under the limit is fine
        let mut p = HttpParser::new(0);
        let mut ok = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..3 {
            ok.extend_from_slice(&line);
        }
        ok.extend_from_slice(b"\r\n");
        let m = parse_all(&mut p, &ok).unwrap().unwrap();
        assert_eq!(m.head.headers[0].1.len(), 4091);
        assert!(m.head.headers[0].1.bytes().all(|b| b == b'?'));
    }

    #[test]
    fn line_limit() {
        let mut p = HttpParser::new(0);
        // 4094 bytes + CRLF = 4096: accepted
        let mut line = b"GET /".to_vec();
        line.resize(4094 - 9, b'a');
        line.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        assert!(parse_all(&mut p, &line).unwrap().is_some());
        let mut long = b"GET /".to_vec();
        long.resize(4095 - 9, b'a');
        long.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        assert_eq!(parse_all(&mut p, &long), Err(HttpError::LineTooLong));
        // no newline yet but already over the limit
        assert_eq!(
            parse_all(&mut p, &[b'a'; 4096]),
            Err(HttpError::LineTooLong)
        );
        assert_eq!(parse_all(&mut p, &[b'a'; 4095]), Ok(None));
    }

    #[test]
    fn writers() {
        let mut out = Vec::new();
        write_request(
            &mut out,
            "POST",
            "/vpnsvc/vpn.cgi",
            &[
                ("Keep-Alive", KEEP_ALIVE),
                ("Host", "127.0.0.1"),
                ("Date", "Sun, 22 Nov 2026 01:26:39 GMT"),
                ("Content-Type", CONTENT_TYPE_PACK),
                ("connection", "Keep-Alive"),
            ],
            b"abc",
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /vpnsvc/vpn.cgi HTTP/1.1\r\nconnection: Keep-Alive\r\nContent-Length: 3\r\n\
             Content-Type: application/octet-stream\r\nDate: Sun, 22 Nov 2026 01:26:39 GMT\r\n\
             Host: 127.0.0.1\r\nKeep-Alive: timeout=15; max=19\r\n\r\nabc"
        );
        let mut out = Vec::new();
        write_response(&mut out, 200, "OK", &[("Content-Length", "99")], b"");
        assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let mut p = HttpParser::new(10);
        assert_eq!(
            parse_all(&mut p, &out).unwrap().unwrap().head.start[1],
            "200"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // docs/protocol-sslvpn.md §3.5 capture
        assert_eq!(http_date(1_795_310_799), "Sun, 22 Nov 2026 01:26:39 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(http_date(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 GMT");
    }

    #[test]
    fn error_pages() {
        let date = http_date(0);
        for (code, status) in [
            (403, "HTTP/1.1 403 Forbidden"),
            (404, "HTTP/1.1 404 Not Found"),
            (501, "HTTP/1.1 501 Method Not Implemented"),
        ] {
            let page = error_page(code, "/foo<script>", "127.0.0.1", 5555, &date);
            let mut p = HttpParser::new(10_000);
            let m = parse_all(&mut p, &page).unwrap().unwrap();
            assert!(page.starts_with(status.as_bytes()));
            let names: Vec<&str> = m.head.headers.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(
                names,
                [
                    "Connection",
                    "Content-Length",
                    "Content-Type",
                    "Date",
                    "Keep-Alive"
                ]
            );
            assert_eq!(m.head.header("Content-Type"), Some(CONTENT_TYPE_HTML));
            assert_eq!(m.head.header("Keep-Alive"), Some(KEEP_ALIVE));
            assert_eq!(m.head.header("Connection"), Some("Keep-Alive"));
            let body = std::str::from_utf8(&m.body).unwrap();
            assert!(body.contains("/foo_script_"));
            assert!(!body.contains("<script>"));
            assert!(body.contains("<ADDRESS>HTTP Server at 127.0.0.1 Port 5555</ADDRESS>"));
        }
    }

    proptest! {
        #[test]
        fn never_panics(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let mut p = HttpParser::new(64);
            let mut buf = BytesMut::new();
            for c in chunks {
                buf.extend_from_slice(&c);
                match p.parse(&mut buf) {
                    Ok(_) => {}
                    Err(_) => { buf.clear(); }
                }
            }
        }
    }
}
