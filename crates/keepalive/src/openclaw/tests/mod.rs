//! Unit tests for the OpenClaw model: pure, no sleeps, fake environments
//! and fixed clocks. Config tests that need files use temp dirs.

mod agent_db;
mod config;
mod reset_rules;
mod reset_time;
mod state_dir;
