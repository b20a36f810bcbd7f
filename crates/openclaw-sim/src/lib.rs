//! A stand-in for the OpenClaw gateway, for keepalive's tests and benchmarks, written from
//! docs/GATEWAY.md and deliberately independent of keepalive's own store code, so that it can
//! catch keepalive's mistakes rather than repeat them.
//!
//! - [`lock`]: the store lock of the lock era (`sessions.json.lock`, its payload, the stale rules
//!   and the retries).
//! - [`store`]: the gateway's locked read-modify-write of `sessions.json` and its atomic replace.
//! - [`writer`]: a gateway writing one counter over and over, as the simulator processes of the
//!   tests and of `keepalive-bench race` run it, counting the updates another writer lost.
//! - [`agent_db`]: the agent databases (SQLite) the gateway leaves from 2026.6 on.

pub mod agent_db;
pub mod lock;
pub mod store;
pub mod writer;
