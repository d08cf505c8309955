//! ClickHouse's HTTP interface: statements in the body, settings as URL parameters (18.16 takes
//! no `SETTINGS` clause), answers as JSON lines, errors as a non-2xx status with the server's
//! message.

use std::time::Duration;

use clicktrail_store::StoreError;
use serde::de::DeserializeOwned;

/// One ClickHouse server and the database Clicktrail's tables live in.
#[derive(Clone)]
pub struct Server {
    client: reqwest::Client,
    /// `http://host:port/` with user and password taken out.
    base: url::Url,
    user: Option<(String, String)>,
    /// The database.
    pub database: String,
}

/// Settings every statement runs with: 64-bit integers as JSON numbers, an insert into a
/// `Distributed` table answered once every shard has its rows (so a retry can count them), and
/// statements up to 16 MiB (a stream's documents are asked for by a list of thousands of ids).
const SETTINGS: &[(&str, &str)] = &[
    ("output_format_json_quote_64bit_integers", "0"),
    ("insert_distributed_sync", "1"),
    ("max_query_size", "16777216"),
];

/// A statement as it was sent: its database (none for server-wide statements), its text and,
/// for an insert, its rows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sent {
    /// The database it ran in.
    pub database: Option<String>,
    /// The statement.
    pub sql: String,
    /// An insert's JSON lines.
    pub rows: Option<String>,
}

/// Every statement sent while recording is on: the test that replays them on current
/// ClickHouse (`chdb`) turns it on; nothing else does.
static SENT: std::sync::Mutex<Option<Vec<Sent>>> = std::sync::Mutex::new(None);

/// Starts keeping every statement this process sends.
pub fn record_statements() {
    *SENT.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Vec::new());
}

/// The statements kept since [`record_statements`].
pub fn recorded_statements() -> Vec<Sent> {
    SENT.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone().unwrap_or_default()
}

fn keep(database: Option<&str>, sql: &str, rows: Option<&str>) {
    let mut sent = SENT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(list) = sent.as_mut() {
        list.push(Sent { database: database.map(str::to_owned), sql: sql.to_owned(), rows: rows.map(str::to_owned) });
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("clickhouse: {e}"))
}

/// A string as a ClickHouse literal: quoted, with every character that could end or bend it
/// escaped (18.16 has no query parameters, so values are written into statements).
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

impl Server {
    /// A server from `http://[user[:password]@]host:port/database`.
    pub fn from_url(raw: &str) -> Result<Self, StoreError> {
        let mut url = url::Url::parse(raw).map_err(|e| backend(format!("clickhouse_url is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(backend("clickhouse_url must be http:// or https:// (its HTTP interface)"));
        }
        let database = url.path().trim_matches('/').to_owned();
        if database.is_empty() || !database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(backend("clickhouse_url must name its database in the path (http://host:8123/clicktrail)"));
        }
        let user = (!url.username().is_empty()).then(|| {
            let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
            (decode(url.username()), decode(url.password().unwrap_or("")))
        });
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_path("/");
        url.set_query(None);
        // The process's TLS provider (the server installs the same one at start; a second
        // install is a no-op).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(backend)?;
        Ok(Self { client, base: url, user, database })
    }

    fn request(&self, query: Option<&str>, in_database: bool) -> reqwest::RequestBuilder {
        let mut url = self.base.clone();
        {
            let mut pairs = url.query_pairs_mut();
            if in_database {
                pairs.append_pair("database", &self.database);
            }
            for (k, v) in SETTINGS {
                pairs.append_pair(k, v);
            }
            if let Some(q) = query {
                pairs.append_pair("query", q);
            }
        }
        let request = self.client.post(url);
        match &self.user {
            Some((user, password)) => request.header("X-ClickHouse-User", user).header("X-ClickHouse-Key", password),
            None => request,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<String, StoreError> {
        let response = request.send().await.map_err(|e| backend(format!("{what}: {e}")))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| backend(format!("{what}: {e}")))?;
        if !status.is_success() {
            let message = body.trim();
            return Err(backend(format!("{what}: {}", &message[..message.len().min(600)])));
        }
        Ok(body)
    }

    /// Runs a statement in the database; returns the answer's text.
    pub async fn execute(&self, sql: &str) -> Result<String, StoreError> {
        keep(Some(&self.database), sql, None);
        self.send(self.request(None, true).body(sql.to_owned()), first_words(sql)).await
    }

    /// Runs a statement that may take long (a migration filling a table from every event
    /// there), waiting up to `limit` for it instead of the usual two minutes.
    pub async fn execute_for(&self, sql: &str, limit: Duration) -> Result<String, StoreError> {
        keep(Some(&self.database), sql, None);
        self.send(self.request(None, true).timeout(limit).body(sql.to_owned()), first_words(sql)).await
    }

    /// Runs a statement outside any database (`CREATE DATABASE`).
    pub async fn execute_on_server(&self, sql: &str) -> Result<String, StoreError> {
        keep(None, sql, None);
        self.send(self.request(None, false).body(sql.to_owned()), first_words(sql)).await
    }

    /// Runs a `SELECT … FORMAT JSONEachRow` and reads each line as a `T`.
    pub async fn rows<T: DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>, StoreError> {
        let text = self.execute(&format!("{sql} FORMAT JSONEachRow")).await?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| backend(format!("an answer row is unreadable ({e}): {l}"))))
            .collect()
    }

    /// Inserts rows, `TabSeparated` lines of the named columns, into a table.
    pub async fn insert(&self, table: &str, columns: &str, body: String) -> Result<(), StoreError> {
        let query = format!("INSERT INTO {table} ({columns}) FORMAT TabSeparated");
        keep(Some(&self.database), &query, Some(&body));
        self.send(self.request(Some(&query), true).body(body), &query).await.map(drop)
    }
}

fn first_words(sql: &str) -> &str {
    let sql = sql.trim_start();
    let end = sql.char_indices().filter(|(_, c)| c.is_whitespace()).nth(2).map_or(sql.len(), |(i, _)| i);
    &sql[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_cannot_be_escaped_from() {
        assert_eq!(quote("it's"), r"'it\'s'");
        assert_eq!(quote(r"a\' OR 1=1 --"), r"'a\\\' OR 1=1 --'");
        assert_eq!(quote("line\nnul\0"), r"'line\nnul\0'");
    }

    #[test]
    fn urls_name_their_database() {
        let s = Server::from_url("http://ct:p%40ss@127.0.0.1:8123/clicktrail").expect("url");
        assert_eq!(s.database, "clicktrail");
        assert_eq!(s.base.as_str(), "http://127.0.0.1:8123/");
        assert_eq!(s.user, Some(("ct".into(), "p@ss".into())));
        assert!(Server::from_url("http://127.0.0.1:8123/").is_err());
        assert!(Server::from_url("tcp://127.0.0.1:9000/ct").is_err());
        assert!(Server::from_url("http://127.0.0.1:8123/ct;drop").is_err());
    }
}
