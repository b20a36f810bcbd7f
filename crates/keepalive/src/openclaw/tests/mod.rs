//! Unit tests of the agent database probe, on real SQLite files in temp dirs.

mod agent_db;
