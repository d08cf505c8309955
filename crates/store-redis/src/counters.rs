//! [`SharedCounters`] on Redis.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use clicktrail_store::{Limit, SharedCounters, StoreError};
use redis::Script;

use crate::{Redis, backend};

/// Sightings, many at once: for each visitor key, 1 when it was not seen within the window
/// before its `at`, else 0; a key's last-seen second only moves forward, so a replayed older
/// click does not reset the window. KEYS: the visitors (one hash slot). ARGV: at (seconds),
/// window (seconds) and how long to keep the key (ms), for each key in turn.
const SIGHTINGS: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  local at = tonumber(ARGV[3 * i - 2])
  local previous = redis.call('GET', key)
  local first = 1
  if previous then
    previous = tonumber(previous)
    if at - previous < tonumber(ARGV[3 * i - 1]) then first = 0 end
  end
  if (not previous) or previous < at then
    redis.call('SET', key, ARGV[3 * i - 2], 'PX', ARGV[3 * i])
  end
  out[i] = first
end
return out
";

/// Visitor keys fall in this many hash slots (`{u3}`): a batch of sightings is one script per
/// slot, and a Redis Cluster spreads the slots over its nodes.
const SIGHTING_SLOTS: u64 = 16;

/// Most sightings one script call takes.
const SIGHTING_BATCH: usize = 512;

/// Most sighting calls in flight at once.
const SIGHTING_CALLS: usize = 4;

/// One script call for a batch of sightings of one slot; each waiting click gets its answer.
async fn sight(redis: &Redis, script: &Script, batch: Vec<Sighting>) {
    let mut invocation = script.prepare_invoke();
    for s in &batch {
        invocation.key(&s.key).arg(s.args[0]).arg(s.args[1]).arg(s.args[2]);
    }
    let answer: Result<Vec<i64>, StoreError> = invocation.invoke_async(&mut redis.conn()).await.map_err(backend);
    match answer {
        Ok(firsts) if firsts.len() == batch.len() => {
            for (s, first) in batch.into_iter().zip(firsts) {
                let _ = s.answer.send(Ok(first == 1));
            }
        }
        other => {
            let message = match other {
                Ok(firsts) => format!("redis: {} sightings answered {}", batch.len(), firsts.len()),
                Err(e) => e.to_string(),
            };
            for s in batch {
                let _ = s.answer.send(Err(StoreError::Backend(message.clone())));
            }
        }
    }
}

/// A sighting waiting for its batch: the key, its arguments, and who waits for the answer.
struct Sighting {
    key: String,
    args: [i64; 3],
    answer: tokio::sync::oneshot::Sender<Result<bool, StoreError>>,
}

/// Sends the sightings that queue up while a script call is in flight as one call (per slot):
/// the click path's one Redis step costs a fraction of a round trip under load.
async fn sightings_loop(redis: Redis, mut queue: tokio::sync::mpsc::UnboundedReceiver<Sighting>) {
    let script = Script::new(SIGHTINGS);
    // A few calls in flight at once; what queues up meanwhile goes in the next ones.
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(SIGHTING_CALLS));
    let mut waiting = Vec::with_capacity(SIGHTING_BATCH);
    while queue.recv_many(&mut waiting, SIGHTING_BATCH).await > 0 {
        let mut by_slot: std::collections::BTreeMap<u64, Vec<Sighting>> = std::collections::BTreeMap::new();
        for s in waiting.drain(..) {
            let slot = s.key.rsplit_once(":{u").and_then(|(_, t)| t.split('}').next()?.parse().ok()).unwrap_or(0);
            by_slot.entry(slot).or_default().push(s);
        }
        for (_, batch) in by_slot {
            let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
            let (redis, script) = (redis.clone(), script.clone());
            tokio::spawn(async move {
                let _permit = permit;
                sight(&redis, &script, batch).await;
            });
        }
    }
    tracing::debug!("the sightings queue closed");
}

/// All or none: the 1-based index of the first counter at its limit, or 0 after incrementing
/// every one; a counter created here gets its expiry in the same step.
/// KEYS: the counters. ARGV: limit and expiry (ms since the epoch) of each, in pairs.
const ACQUIRE: &str = r"
for i, key in ipairs(KEYS) do
  local value = tonumber(redis.call('GET', key) or '0')
  if value >= tonumber(ARGV[2 * i - 1]) then return i end
end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIREAT', key, ARGV[2 * i]) end
end
return 0
";

/// One unit back to every counter that holds one; none goes below zero.
const RELEASE: &str = r"
for _, key in ipairs(KEYS) do
  local value = tonumber(redis.call('GET', key) or '0')
  if value > 0 then redis.call('DECR', key) end
end
return 0
";

/// KEYS: the counter. ARGV: amount, expiry (ms). Returns the new value.
const ADD: &str = r"
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return value
";

/// Raises a counter to a value, or sets an absent one; never lowers. KEYS: the counter.
/// ARGV: value, expiry (ms). Returns what the counter holds.
const SEED: &str = r"
local current = redis.call('GET', KEYS[1])
local wanted = tonumber(ARGV[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
  return wanted
end
current = tonumber(current)
if current < wanted then
  redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
  return wanted
end
return current
";

/// Shared counters in Redis.
#[derive(Clone)]
pub struct RedisCounters {
    redis: Redis,
    sightings: tokio::sync::mpsc::UnboundedSender<Sighting>,
    acquire: Script,
    release: Script,
    add: Script,
    seed: Script,
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis().max(1)
}

impl RedisCounters {
    /// Counters on a connection (needs a Tokio runtime: sightings are batched by a task).
    pub fn new(redis: Redis) -> Self {
        let (sightings, queue) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(sightings_loop(redis.clone(), queue));
        Self {
            redis,
            sightings,
            acquire: Script::new(ACQUIRE),
            release: Script::new(RELEASE),
            add: Script::new(ADD),
            seed: Script::new(SEED),
        }
    }

    fn counter(&self, key: &str) -> String {
        self.redis.key("c", key)
    }

    /// Whether the server answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.redis.ping().await
    }
}

#[async_trait]
impl SharedCounters for RedisCounters {
    async fn first_in_window(&self, key: u64, at: DateTime<Utc>, window: Duration) -> Result<bool, StoreError> {
        // Kept for the window after the later of now and the sighting: long enough for any
        // click of the window to find it, whatever clock the click carries.
        let ahead = (at - Utc::now()).num_milliseconds().max(0);
        let keep = window.num_milliseconds().max(1).saturating_add(ahead);
        let (answer, answered) = tokio::sync::oneshot::channel();
        let sighting = Sighting {
            key: self.redis.key("u", &format!("{{u{}}}:{key:016x}", key % SIGHTING_SLOTS)),
            args: [at.timestamp(), window.num_seconds().max(0), keep],
            answer,
        };
        self.sightings
            .send(sighting)
            .map_err(|_| StoreError::Backend("redis: the sightings queue is closed".into()))?;
        answered.await.map_err(|_| StoreError::Backend("redis: a sighting went unanswered".into()))?
    }

    async fn acquire(&self, limits: &[Limit]) -> Result<Option<usize>, StoreError> {
        if limits.is_empty() {
            return Ok(None);
        }
        let mut invocation = self.acquire.prepare_invoke();
        for limit in limits {
            invocation.key(self.counter(&limit.key)).arg(limit.limit).arg(millis(limit.expires_at));
        }
        let full: i64 = invocation.invoke_async(&mut self.redis.conn()).await.map_err(backend)?;
        Ok(usize::try_from(full).ok().filter(|i| *i > 0).map(|i| i - 1))
    }

    async fn release(&self, limits: &[Limit]) -> Result<(), StoreError> {
        if limits.is_empty() {
            return Ok(());
        }
        let mut invocation = self.release.prepare_invoke();
        for limit in limits {
            invocation.key(self.counter(&limit.key));
        }
        let _: i64 = invocation.invoke_async(&mut self.redis.conn()).await.map_err(backend)?;
        Ok(())
    }

    async fn add(&self, key: &str, by: u64, expires_at: DateTime<Utc>) -> Result<u64, StoreError> {
        let value: i64 = self
            .add
            .key(self.counter(key))
            .arg(by)
            .arg(millis(expires_at))
            .invoke_async(&mut self.redis.conn())
            .await
            .map_err(backend)?;
        Ok(u64::try_from(value).unwrap_or(0))
    }

    async fn seed(&self, key: &str, value: u64, expires_at: DateTime<Utc>) -> Result<u64, StoreError> {
        let held: i64 = self
            .seed
            .key(self.counter(key))
            .arg(value)
            .arg(millis(expires_at))
            .invoke_async(&mut self.redis.conn())
            .await
            .map_err(backend)?;
        Ok(u64::try_from(held).unwrap_or(0))
    }

    async fn get(&self, key: &str, _now: DateTime<Utc>) -> Result<u64, StoreError> {
        // Redis forgets an expired counter itself.
        let value: Option<u64> =
            redis::cmd("GET").arg(self.counter(key)).query_async(&mut self.redis.conn()).await.map_err(backend)?;
        Ok(value.unwrap_or(0))
    }

    async fn generation(&self) -> Result<u64, StoreError> {
        // The first node to look after a start (or a restart that lost everything) writes a
        // random mark; every node reads the same one until the server loses it again.
        let key = self.redis.key("generation", "mark");
        let mut conn = self.redis.conn();
        let candidate: u64 = rand::random::<u64>() >> 1;
        let (mark,): (u64,) = redis::pipe()
            .cmd("SET")
            .arg(&key)
            .arg(candidate)
            .arg("NX")
            .ignore()
            .cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        Ok(mark)
    }
}
