//! [`SessionStore`] on Redis: a hash per session that expires with it, a set of each user's
//! sessions (to end them all), and one sorted set of expiry times (to purge by a given time).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clicktrail_store::{SessionRecord, SessionStore, StoreError};
use redis::Script;

use crate::{Redis, backend};

/// Creates a session unless its id is taken. KEYS: the session. ARGV: user, csrf, created
/// (ms), expires (ms). Returns 1 when created.
const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'csrf', ARGV[2], 'created', ARGV[3], 'expires', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
";

/// Moves a live session's expiry. KEYS: the session. ARGV: expires (ms). Returns 1 when found.
const EXTEND: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'expires', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
";

/// Adds a session to its user's set and keeps the set as long as its longest session.
/// KEYS: the set. ARGV: the session id, its expiry (ms).
const REMEMBER: &str = r"
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if ttl < 0 or now_ms + ttl < tonumber(ARGV[2]) then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return 0
";

/// Panel sessions in Redis.
#[derive(Clone)]
pub struct RedisSessions {
    redis: Redis,
    create: Script,
    extend: Script,
    remember: Script,
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn at(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Backend(format!("redis: a session time {ms} is out of range")))
}

impl RedisSessions {
    /// Sessions on a connection.
    pub fn new(redis: Redis) -> Self {
        Self { redis, create: Script::new(CREATE), extend: Script::new(EXTEND), remember: Script::new(REMEMBER) }
    }

    fn session(&self, id: &str) -> String {
        self.redis.key("s", id)
    }

    fn user(&self, user_id: i64) -> String {
        self.redis.key("su", &user_id.to_string())
    }

    fn expiries(&self) -> String {
        self.redis.key("sx", "all")
    }
}

#[async_trait]
impl SessionStore for RedisSessions {
    async fn create(&self, id: &str, record: &SessionRecord) -> Result<(), StoreError> {
        let mut conn = self.redis.conn();
        let created: i64 = self
            .create
            .key(self.session(id))
            .arg(record.user_id)
            .arg(&record.csrf)
            .arg(millis(record.created_at))
            .arg(millis(record.expires_at))
            .invoke_async(&mut conn)
            .await
            .map_err(backend)?;
        if created == 0 {
            return Err(StoreError::Conflict { kind: "session", key: "id", value: String::new() });
        }
        let _: i64 = self
            .remember
            .key(self.user(record.user_id))
            .arg(id)
            .arg(millis(record.expires_at))
            .invoke_async(&mut conn)
            .await
            .map_err(backend)?;
        let _: i64 = redis::cmd("ZADD")
            .arg(self.expiries())
            .arg(millis(record.expires_at))
            .arg(id)
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get(&self, id: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>, StoreError> {
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.session(id))
            .arg(&["user", "csrf", "created", "expires"][..])
            .query_async(&mut self.redis.conn())
            .await
            .map_err(backend)?;
        let [Some(user), Some(csrf), Some(created), Some(expires)] = <[Option<String>; 4]>::try_from(fields)
            .map_err(|_| StoreError::Backend("redis: HMGET answered the wrong number of fields".into()))?
        else {
            return Ok(None);
        };
        let number = |s: &str| {
            s.parse::<i64>().map_err(|_| StoreError::Corrupt { kind: "session", id: 0, message: format!("{s:?}") })
        };
        let record = SessionRecord {
            user_id: number(&user)?,
            csrf,
            created_at: at(number(&created)?)?,
            expires_at: at(number(&expires)?)?,
        };
        Ok((record.expires_at > now).then_some(record))
    }

    async fn extend(&self, id: &str, expires_at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut conn = self.redis.conn();
        let found: i64 =
            self.extend.key(self.session(id)).arg(millis(expires_at)).invoke_async(&mut conn).await.map_err(backend)?;
        if found == 0 {
            return Ok(false);
        }
        let user: Option<i64> =
            redis::cmd("HGET").arg(self.session(id)).arg("user").query_async(&mut conn).await.map_err(backend)?;
        if let Some(user) = user {
            let _: i64 = self
                .remember
                .key(self.user(user))
                .arg(id)
                .arg(millis(expires_at))
                .invoke_async(&mut conn)
                .await
                .map_err(backend)?;
        }
        let _: i64 = redis::cmd("ZADD")
            .arg(self.expiries())
            .arg(millis(expires_at))
            .arg(id)
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        Ok(true)
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let mut conn = self.redis.conn();
        let user: Option<i64> =
            redis::cmd("HGET").arg(self.session(id)).arg("user").query_async(&mut conn).await.map_err(backend)?;
        let removed: i64 = redis::cmd("DEL").arg(self.session(id)).query_async(&mut conn).await.map_err(backend)?;
        if let Some(user) = user {
            let _: i64 =
                redis::cmd("SREM").arg(self.user(user)).arg(id).query_async(&mut conn).await.map_err(backend)?;
        }
        let _: i64 = redis::cmd("ZREM").arg(self.expiries()).arg(id).query_async(&mut conn).await.map_err(backend)?;
        Ok(removed > 0)
    }

    async fn delete_user(&self, user_id: i64) -> Result<u64, StoreError> {
        let mut conn = self.redis.conn();
        let ids: Vec<String> =
            redis::cmd("SMEMBERS").arg(self.user(user_id)).query_async(&mut conn).await.map_err(backend)?;
        let mut ended = 0;
        // One command per key: in a cluster the sessions live in different slots.
        for id in &ids {
            let removed: i64 = redis::cmd("DEL").arg(self.session(id)).query_async(&mut conn).await.map_err(backend)?;
            ended += u64::try_from(removed).unwrap_or(0);
            let _: i64 =
                redis::cmd("ZREM").arg(self.expiries()).arg(id).query_async(&mut conn).await.map_err(backend)?;
        }
        let _: i64 = redis::cmd("DEL").arg(self.user(user_id)).query_async(&mut conn).await.map_err(backend)?;
        Ok(ended)
    }

    async fn purge(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut conn = self.redis.conn();
        let due: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.expiries())
            .arg("-inf")
            .arg(millis(now))
            .arg("BYSCORE")
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        let mut purged = 0;
        for id in &due {
            // A session extended since it was listed keeps its (new) score.
            let record = self.get(id, now).await?;
            if record.is_some() {
                continue;
            }
            let user: Option<i64> =
                redis::cmd("HGET").arg(self.session(id)).arg("user").query_async(&mut conn).await.map_err(backend)?;
            let _: i64 = redis::cmd("DEL").arg(self.session(id)).query_async(&mut conn).await.map_err(backend)?;
            if let Some(user) = user {
                let _: i64 =
                    redis::cmd("SREM").arg(self.user(user)).arg(id).query_async(&mut conn).await.map_err(backend)?;
            }
            let _: i64 =
                redis::cmd("ZREM").arg(self.expiries()).arg(id).query_async(&mut conn).await.map_err(backend)?;
            // A session Redis already expired counts too: it is gone by this purge's time.
            purged += 1;
        }
        Ok(purged)
    }
}
