//! The benchmark's baseline: the same HTTP stack (tokio, hyper's HTTP/1.1 connections with
//! Clicktrail's accept loop, axum) answering every request with a
//! bare `302`, doing nothing else. `bench/click-path.sh` measures Clicktrail's click path against
//! it on the same machine in the same run.
//!
//! Usage: `bare302 127.0.0.1:PORT`

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9302".into());
    let app = Router::new().route(
        "/c/{offer}/{affiliate}",
        get(|| async {
            (StatusCode::FOUND, [(LOCATION, "https://shop.example/land?cid=0123456789abcdef0123456789abcdef")])
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let options = clicktrail::transport::serve::ServeOptions {
        header_read_timeout: std::time::Duration::from_secs(10),
        shutdown_timeout: std::time::Duration::from_secs(1),
    };
    clicktrail::transport::serve::serve(listener, app, options, std::future::pending()).await
}
