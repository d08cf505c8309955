//! HTTP hardening over raw sockets (issue 10, items 9 and 10): a client that sends half a
//! header is cut off; bodies past the limit are `413` in the surface's format; an answer given
//! before the body is read says `Connection: close`, while one that read its body keeps the
//! connection alive.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{ADMIN_KEY, TestApp};

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.expect("connect")
}

/// One response read off the socket: status, lower-cased head, body.
async fn response(stream: &mut TcpStream) -> (u16, String, String) {
    response_from(stream).await
}

/// One response read off any reader.
async fn response_from(stream: &mut (impl AsyncReadExt + Unpin)) -> (u16, String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("an answer within 10 s")
            .expect("read");
        assert!(n > 0, "closed before an answer: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().expect("length"))
        .expect("content-length");
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.expect("read body");
        assert!(n > 0, "closed inside the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let status = head[9..12].parse().expect("status");
    (status, head, String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned())
}

/// Whether the server closes the socket within `within` (reading and dropping anything sent).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut chunk = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

fn post(path: &str, auth: &str, body_len: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {auth}\r\nContent-Type: application/json\r\n\
         Content-Length: {body_len}\r\n\r\n"
    )
}

#[tokio::test]
async fn a_half_sent_header_is_cut_off_after_the_header_timeout() {
    let app = TestApp::spawn_with(|s| s.header_read_timeout_secs = 1).await;
    let mut slow = connect(&app).await;
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: ").await.unwrap();
    assert!(closed_within(&mut slow, Duration::from_secs(5)).await, "a half header held the connection");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "cut off before the timeout: {waited:?}");

    // A client that sends its header in pieces, but within the timeout, is served.
    let mut patient = connect(&app).await;
    patient.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    patient.write_all(b"Host: test\r\n\r\n").await.unwrap();
    let (status, _, _) = response(&mut patient).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn early_answers_close_the_connection_and_big_bodies_are_413() {
    let app = TestApp::spawn().await;

    // 401 on a 100 KB body the server never reads: said with `Connection: close`, then closed.
    let mut s = connect(&app).await;
    let body = format!("{{\"name\":\"{}\"}}", "x".repeat(100_000));
    s.write_all(post("/api/offers", "wrong-key-0123456789", body.len()).as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let (status, head, text) = response(&mut s).await;
    assert_eq!(status, 401, "{text}");
    assert!(head.contains("connection: close"), "{head}");
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["error"]["code"], "INVALID_API_KEY");
    assert!(closed_within(&mut s, Duration::from_secs(5)).await);

    // A body of 4 MiB, past the 1 MiB limit: 413 in each surface's format, said before the
    // body is read to the end, so with `Connection: close`. The body goes out from another task,
    // as a real client would keep sending it.
    let cases = [
        ("/api/offers", "application/json", Some("PAYLOAD_TOO_LARGE")),
        ("/v1/postbacks", "application/json", Some("PAYLOAD_TOO_LARGE")),
        ("/postback", "application/x-www-form-urlencoded", None),
    ];
    for (path, kind, code) in cases {
        let s = connect(&app).await;
        let (mut read, mut write) = s.into_split();
        let size = 4 << 20;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {ADMIN_KEY}\r\nContent-Type: {kind}\r\n\
             Content-Length: {size}\r\n\r\n"
        );
        let sender = tokio::spawn(async move {
            write.write_all(head.as_bytes()).await.ok();
            write.write_all(&vec![b'a'; size]).await.ok();
        });
        let (status, head, text) = response_from(&mut read).await;
        assert_eq!(status, 413, "{path}: {text}");
        assert!(head.contains("connection: close"), "{head}");
        if let Some(code) = code {
            let error: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            assert_eq!(error["error"]["code"], code, "{path}: {text}");
        }
        sender.abort();
    }

    // A request whose body was read keeps the connection: a second request on it is answered.
    let mut s = connect(&app).await;
    let body =
        r#"{"name":"Kept alive","default_url":"https://shop.example/x","payout":{"type":"cpa","amount":"1.00"}}"#;
    s.write_all(post("/api/offers", ADMIN_KEY, body.len()).as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let (status, head, text) = response(&mut s).await;
    assert!(status == 201 || status == 400, "{status}: {text}");
    assert!(!head.contains("connection: close"), "{head}");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n").await.unwrap();
    let (status, _, _) = response(&mut s).await;
    assert_eq!(status, 200);
}
