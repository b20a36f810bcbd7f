// Real keepalive processes for the interop tests: a private world (OpenClaw state dir, HOME,
// keepalive's XDG state, a short socket path), keepalived started and stopped in it, and
// keepalivectl run against it. Every process and temp dir is registered for clean-up, so a
// failing test never leaves a daemon running or a folder behind.
//
//   const w = makeWorld();                       // t.after(() => w.cleanup())
//   const d = await startDaemon(w, ["--schedule", "interval", "--tick-ms", "5"]);
//   const st = await d.status();                 // keepalivectl --json status, parsed
//   await d.stop();                              // keepalivectl shutdown, then SIGTERM/SIGKILL
//   const r = await runOnce(w, ["--active-within", "all"]);   // keepalived --once
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { keepalived, keepalivectl } from "./env.mjs";

const live = new Set(); // child processes not yet reaped
process.on("exit", () => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {}
  }
});

function checkBinaries() {
  for (const bin of [keepalived, keepalivectl]) {
    if (!fs.existsSync(bin)) {
      throw new Error(`${bin} not found: build with \`cargo build --release\` or set KEEPALIVE_BIN_DIR`);
    }
  }
}

/**
 * A private world under a short /tmp dir (socket paths must stay under ~100 bytes).
 * `stateDir` is the OpenClaw state dir; `store(agent)` its sessions.json path.
 */
export function makeWorld(prefix = "ka-") {
  const dir = fs.mkdtempSync(path.join("/tmp", prefix));
  const world = {
    dir,
    stateDir: path.join(dir, "state"),
    home: path.join(dir, "home"),
    socket: path.join(dir, "run", "k.sock"),
    store: (agent = "main") => path.join(dir, "state", "agents", agent, "sessions", "sessions.json"),
    /** keepalive's environment: nothing from the caller's HOME or XDG dirs leaks in. */
    env: () => ({
      PATH: process.env.PATH || "/usr/bin:/bin",
      HOME: path.join(dir, "home"),
      XDG_STATE_HOME: path.join(dir, "home", "state"),
      XDG_RUNTIME_DIR: path.join(dir, "xdg-run"),
      TZ: "UTC",
      RUST_LOG: "info",
    }),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
  for (const d of [world.stateDir, world.home, path.dirname(world.socket)]) fs.mkdirSync(d, { recursive: true });
  return world;
}

/** Writes `bytes` (string or Buffer) as the store of `agent`, mode 0600 like the gateway. */
export function writeStore(world, bytes, agent = "main") {
  const store = world.store(agent);
  fs.mkdirSync(path.dirname(store), { recursive: true });
  fs.writeFileSync(store, bytes, { mode: 0o600 });
  fs.chmodSync(store, 0o600);
  return store;
}

/** Runs `program args` to completion: {code, signal, stdout, stderr, ms}. */
export function run(program, args, { env, timeoutMs = 60_000, input } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(program, args, { env, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    live.add(child);
    const out = [];
    const err = [];
    child.stdout.on("data", (b) => out.push(b));
    child.stderr.on("data", (b) => err.push(b));
    if (input !== undefined) child.stdin.end(input);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      live.delete(child);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        ms: performance.now() - started,
      });
    });
  });
}

/** `keepalivectl --socket <world socket> ARGS`: {code, stdout, stderr, ms}. */
export function ctl(world, args, opts = {}) {
  checkBinaries();
  return run(keepalivectl, ["--socket", world.socket, ...args], { env: world.env(), ...opts });
}

/** `keepalivectl --json ARGS`, which must succeed; the reply, parsed. */
export async function ctlJson(world, args) {
  const r = await ctl(world, ["--json", ...args]);
  if (r.code !== 0) throw new Error(`keepalivectl ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout);
}

/** `keepalived --state-dir <world> --once ARGS` run to completion (the caller checks `code`). */
export function runOnce(world, args = [], opts = {}) {
  checkBinaries();
  return run(keepalived, ["--state-dir", world.stateDir, "--once", ...args], { env: world.env(), ...opts });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts keepalived in `world` with ARGS and waits until `keepalivectl status` answers.
 * Returns {pid, log, status(), logText(), stop()}; stop() is idempotent and always reaps it.
 */
export async function startDaemon(world, args = [], { readyTimeoutMs = 20_000 } = {}) {
  checkBinaries();
  const log = path.join(world.dir, `keepalived-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.log`);
  const fd = fs.openSync(log, "a");
  const child = spawn(keepalived, ["--state-dir", world.stateDir, "--socket", world.socket, ...args], {
    env: world.env(),
    stdio: ["ignore", fd, fd],
  });
  fs.closeSync(fd);
  live.add(child);
  let exited = null;
  const exit = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      resolve(exited);
    });
  });
  const logText = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "");
  const daemon = {
    pid: child.pid,
    log,
    logText,
    exit,
    status: () => ctlJson(world, ["status"]),
    async stop({ timeoutMs = 10_000 } = {}) {
      if (exited) return exited;
      await ctl(world, ["shutdown"], { timeoutMs }).catch(() => {});
      const done = await Promise.race([exit, sleep(timeoutMs).then(() => null)]);
      if (done) return done;
      child.kill("SIGTERM");
      const termed = await Promise.race([exit, sleep(3_000).then(() => null)]);
      if (termed) return termed;
      child.kill("SIGKILL");
      return exit;
    },
  };
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exited) throw new Error(`keepalived exited ${JSON.stringify(exited)} before answering:\n${logText()}`);
    const r = await ctl(world, ["--json", "status"]).catch(() => null);
    if (r && r.code === 0) return daemon;
    if (Date.now() > deadline) {
      await daemon.stop();
      throw new Error(`keepalived did not answer within ${readyTimeoutMs} ms:\n${logText()}`);
    }
    await sleep(20);
  }
}

/** Total store writes keepalived reports for `agent` (status agents[].writes). */
export async function writesOf(daemon, agent = "main") {
  const st = await daemon.status();
  const a = st.agents.find((x) => x.id === agent);
  if (!a) throw new Error(`keepalived serves no agent ${agent}: ${JSON.stringify(st.agents)}`);
  return a.writes;
}
