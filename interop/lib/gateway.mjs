// Runs a real OpenClaw gateway of a pinned release as a headless process in a scratch home,
// talks to it over its WebSocket protocol like an operator client, and runs keepalived beside
// it. The mission and hook-pack checks drive everything through here, so that what they judge
// is the release's own code, started the way a user starts it.
import { spawn, execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { keepalived as keepalivedBin, keepalivectl as keepalivectlBin, binDir, cache, node, packageDir, releases, repo } from "./env.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** How long one chat turn may take: seconds on 2026.6+, minutes on 2026.4.x (plugin loading). */
const CHAT_TIMEOUT_MS = 1000 * Number(process.env.KEEPALIVE_INTEROP_CHAT_TIMEOUT_S || 300);

/** Every release pinned in interop/releases.txt, whatever KEEPALIVE_INTEROP_RELEASES selects. */
export const pinned = [...fs.readFileSync(path.join(repo, "interop/releases.txt"), "utf8").matchAll(/^release=(.+)$/gm)].map((m) => m[1].trim());

/**
 * The releases a check runs: those named in `$variable` (default `defaults`) that
 * KEEPALIVE_INTEROP_RELEASES also selects. A name that is not pinned is an error.
 */
export function selectReleases(variable, defaults) {
  const chosen = (process.env[variable] || defaults.join(",")).split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = chosen.filter((v) => !pinned.includes(v));
  if (unknown.length) throw new Error(`${variable} names releases not pinned in interop/releases.txt: ${unknown.join(", ")}`);
  return { chosen, selected: releases.filter((v) => chosen.includes(v)) };
}

/** Reads the last `bytes` of a log for an error message; never throws. */
export function tail(file, bytes = 4000) {
  try {
    const buf = fs.readFileSync(file);
    // The gateway colours its console lines; strip the escapes so failures stay readable.
    return buf.subarray(Math.max(0, buf.length - bytes)).toString("utf8").replace(/\x1b\[[0-9;]*m/g, "");
  } catch (e) {
    return `(no log: ${e.message})`;
  }
}

/**
 * A port nobody listens on. The gateway also opens helper ports just above its own (browser
 * control, canvas), so the few ports after it must be free too.
 */
export async function freePort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer().once("error", reject).listen(0, "127.0.0.1", () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    if (port > 65000) continue;
    let ok = true;
    for (let p = port + 1; p <= port + 10 && ok; p++) ok = await portFree(p);
    if (ok) return port;
  }
  throw new Error("no free block of loopback ports found");
}

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer().once("error", () => resolve(false)).listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/**
 * A scratch installation: `<dir>/home` is $HOME, `<dir>/home/.openclaw` the state dir (the
 * gateway's default for that home, so every tool agrees on it without flags), short socket
 * paths under `<dir>`. `config` becomes openclaw.json.
 */
export function scratch(config = {}) {
  const dir = fs.mkdtempSync("/tmp/ka-gw-");
  const home = path.join(dir, "home");
  const stateDir = path.join(home, ".openclaw");
  fs.mkdirSync(stateDir, { recursive: true });
  // The gateway's log goes to /tmp/openclaw/ by default, shared by every run; keep it here.
  const full = { ...config, logging: { file: path.join(dir, "openclaw.log"), ...(config.logging || {}) } };
  fs.writeFileSync(path.join(stateDir, "openclaw.json"), JSON.stringify(full, null, 2) + "\n");
  return {
    dir,
    home,
    stateDir,
    socket: path.join(dir, "ka.sock"),
    xdgState: path.join(dir, "xdg-state"),
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The environment every OpenClaw process of a scratch installation runs with. */
export function gatewayEnv(sc, extra = {}) {
  return {
    // keepalive's binaries first: the hook pack finds `keepalivectl` on the gateway's PATH.
    PATH: [binDir, path.dirname(node), "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    HOME: sc.home,
    OPENCLAW_STATE_DIR: sc.stateDir,
    // Neither TMPDIR nor NODE_COMPILE_CACHE: the releases keep their compile cache under
    // <tmp>/node-compile-cache/openclaw/<version>/, shared between runs as on a user's machine,
    // and setting NODE_COMPILE_CACHE would make 2026.6+ re-launch itself in a child process,
    // a process layout a user's gateway does not have (release detection reads it).
    // Releases from 2026.4.24 install their bundled plugins' dependencies with npm on first
    // use (2026.4.29 before it listens); into the shared cache, so that happens once per cache.
    OPENCLAW_PLUGIN_STAGE_DIR: path.join(cache, "plugin-runtime-deps"),
    TZ: "UTC",
    LANG: "C.UTF-8",
    XDG_STATE_HOME: sc.xdgState,
    KEEPALIVE_SOCKET: sc.socket,
    // No chat channel may try to reach the network.
    OPENCLAW_SKIP_CHANNELS: "1",
    NO_COLOR: "1",
    // What npm needs to reach the registry from here (a CA bundle, a proxy), for the releases
    // that install plugin dependencies on first use.
    ...Object.fromEntries(PASS_THROUGH.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]])),
    ...extra,
  };
}

const PASS_THROUGH = [
  "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR",
  "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy",
  "npm_config_registry", "npm_config_cafile", "NPM_CONFIG_REGISTRY", "NPM_CONFIG_CAFILE",
];

/** Pids of the processes in process group `pgid` (the gateway may run as a child of its launcher). */
export function groupMembers(pgid) {
  const pids = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // rest: state ppid pgrp ...; zombies are as good as gone.
      if (Number(rest[2]) === pgid && rest[0] !== "Z") pids.push(Number(name));
    } catch { /* exited meanwhile */ }
  }
  return pids;
}

/**
 * The gateway's single-instance lock lives in <tmp>/openclaw-<uid>/gateway.<hash>.lock and
 * names its config; a killed gateway leaves it behind. Removes the ones of this scratch dir.
 */
function removeGatewayLocks(sc) {
  // The gateway runs without TMPDIR (see gatewayEnv), so its tmp dir is /tmp.
  const dir = path.join("/tmp", `openclaw-${process.getuid()}`);
  let names = [];
  try { names = fs.readdirSync(dir); } catch { return; }
  for (const name of names) {
    if (!/^gateway\..*\.lock$/.test(name)) continue;
    try {
      const lock = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
      if (typeof lock.configPath === "string" && lock.configPath.startsWith(sc.dir + "/")) fs.rmSync(path.join(dir, name), { force: true });
    } catch { /* not ours, or gone */ }
  }
}

/** Runs the release's own CLI (`openclaw ARGS`) to completion; rejects with its output on failure. */
export function openclawCli(version, args, { env, cwd, timeoutMs = 180000 } = {}) {
  const entry = path.join(packageDir(version), "openclaw.mjs");
  return new Promise((resolve, reject) => {
    const started = Date.now();
    execFile(node, [entry, ...args], { env, cwd, timeout: timeoutMs, maxBuffer: 64 << 20, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
      const ms = Date.now() - started;
      if (err) reject(new Error(`openclaw@${version} ${args.join(" ")} failed after ${ms} ms (${err.code ?? err.signal}):\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr, ms });
    });
  });
}

/**
 * Starts `openclaw gateway run` of `version` on a free loopback port without auth, waits until
 * an operator client can connect, and returns a handle. `stop()` must be called (t.after).
 */
export async function startGateway(version, sc, { env = {}, readyTimeoutMs = 90000 } = {}) {
  const port = await freePort();
  const entry = path.join(packageDir(version), "openclaw.mjs");
  const logFile = path.join(sc.dir, `gateway-${port}.out`);
  const out = fs.openSync(logFile, "a");
  const args = [entry, "gateway", "run", "--allow-unconfigured", "--auth", "none", "--port", String(port), "--bind", "loopback"];
  const started = Date.now();
  // Its own process group, so stop() reaches anything it spawned, and nothing it spawned is
  // left behind when a test fails half-way.
  const child = spawn(node, args, { env: gatewayEnv(sc, env), cwd: sc.dir, stdio: ["ignore", out, out], detached: true });
  fs.closeSync(out);
  let exited = null;
  const exit = new Promise((resolve) => child.once("exit", (code, signal) => resolve((exited = { code, signal }))));
  const gw = {
    version,
    port,
    pid: child.pid,
    logFile,
    sc,
    startMs: 0,
    stopMs: 0,
    killed: [],
    exited: () => exited,
    exit,
    log: () => tail(logFile) + "\n--- openclaw.log ---\n" + tail(path.join(sc.dir, "openclaw.log")),
    connect: (opts) => connectGateway(port, opts),
    /** Waits until the gateway's console output matches `re` (its hooks load after it listens). */
    async waitLog(re, timeoutMs = 30000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = fs.readFileSync(logFile, "utf8");
        if (re.test(text)) return;
        if (exited || Date.now() > deadline) throw new Error(`openclaw@${version} never logged ${re} (${exited ? "it exited" : `${timeoutMs} ms`}):\n${gw.log()}`);
        await sleep(100);
      }
    },
    /**
     * SIGTERM to its process group, as a supervisor stops it (some releases run the gateway
     * in a child of `openclaw.mjs`); waits until every member is gone, SIGKILL if it hangs.
     */
    async stop({ timeoutMs = 30000 } = {}) {
      const t = Date.now();
      try { process.kill(-child.pid, "SIGTERM"); } catch { /* already gone */ }
      const deadline = t + timeoutMs;
      while ((!exited || groupMembers(child.pid).length) && Date.now() < deadline) await sleep(100);
      gw.killed = groupMembers(child.pid);
      try { process.kill(-child.pid, "SIGKILL"); } catch { /* none left */ }
      await exit;
      removeGatewayLocks(sc);
      gw.stopMs = Date.now() - t;
      return exited;
    },
  };
  const deadline = started + readyTimeoutMs;
  let lastErr;
  for (;;) {
    if (exited) {
      await gw.stop({ timeoutMs: 5000 });
      throw new Error(`openclaw@${version} gateway exited at start-up (${JSON.stringify(exited)}):\n${gw.log()}`);
    }
    try {
      const c = await connectGateway(port, { timeoutMs: 5000 });
      c.close();
      break;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      await gw.stop();
      throw new Error(`openclaw@${version} gateway not ready on port ${port} after ${readyTimeoutMs} ms (${lastErr?.message}):\n${gw.log()}`);
    }
    await sleep(300);
  }
  gw.startMs = Date.now() - started;
  return gw;
}

/**
 * An Ed25519 device identity, signed the way the releases' own GatewayClient signs its
 * `connect` (payload v3). Releases before 2026.6 (seen: 2026.3.13, 2026.4.12, 2026.5.2) refuse
 * an operator client without one (`NOT_PAIRED: device identity required`); with one, a
 * loopback client's pairing is approved at once. 2026.6+ accept either.
 */
function deviceIdentity() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
  const spki = publicKey.export({ type: "spki", format: "der" });
  const raw = spki.subarray(spki.length - 32);
  return {
    id: crypto.createHash("sha256").update(raw).digest("hex"),
    publicKey: raw.toString("base64url"),
    sign: (payload) => crypto.sign(null, Buffer.from(payload, "utf8"), privateKey).toString("base64url"),
  };
}
const identity = deviceIdentity();

/**
 * A minimal operator client: `request(method, params)` resolves with the payload or rejects
 * with the gateway's error; `events` collects every event frame; `waitEvent(pred)` waits for one.
 */
export async function connectGateway(port, { timeoutMs = 10000, device = true } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  const events = [];
  const waiters = new Set();
  const pending = new Map();
  let seq = 0;
  let closed = null;
  let challenge = null;
  let onChallenge;
  const challenged = new Promise((r) => (onChallenge = r));
  ws.onmessage = (m) => {
    let f;
    try { f = JSON.parse(typeof m.data === "string" ? m.data : Buffer.from(m.data).toString("utf8")); } catch { return; }
    if (f.type === "res") {
      const p = pending.get(f.id);
      if (!p) return;
      pending.delete(f.id);
      if (f.ok) p.resolve(f.payload);
      else p.reject(Object.assign(new Error(`${p.method}: ${f.error?.code}: ${f.error?.message}`), { gateway: f.error }));
    } else if (f.type === "event") {
      if (f.event === "connect.challenge") {
        challenge = f.payload?.nonce ?? null;
        onChallenge();
        return;
      }
      events.push(f);
      for (const w of waiters) if (w.pred(f)) { waiters.delete(w); w.resolve(f); }
    }
  };
  ws.onclose = (e) => {
    closed = `closed ${e.code} ${e.reason}`;
    for (const p of pending.values()) p.reject(new Error(`${p.method}: connection ${closed}`));
    pending.clear();
    for (const w of waiters) w.reject(new Error(`connection ${closed} while waiting for an event`));
    waiters.clear();
  };
  const opened = new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = (e) => reject(new Error(`websocket to port ${port}: ${e.message || e.error?.message || "error"}`));
  });
  const timer = setTimeout(() => ws.close(), timeoutMs);
  try {
    await opened;
    // Releases that sign connects send a nonce first; older ones may not, so wait only briefly.
    await Promise.race([challenged, sleep(1500)]);
  } catch (e) {
    clearTimeout(timer);
    throw e;
  }

  function request(method, params = {}, { timeout = 60000 } = {}) {
    if (closed) return Promise.reject(new Error(`${method}: connection ${closed}`));
    const id = String(++seq);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { pending.delete(id); reject(new Error(`${method}: no answer within ${timeout} ms`)); }, timeout);
      pending.set(id, {
        method,
        resolve: (v) => { clearTimeout(t); resolve(v); },
        reject: (e) => { clearTimeout(t); reject(e); },
      });
      ws.send(JSON.stringify({ type: "req", id, method, params }));
    });
  }

  const client = { id: "gateway-client", version: "1.0.0", platform: "linux", mode: "backend" };
  const role = "operator";
  const scopes = ["operator.read", "operator.write", "operator.admin"];
  const params = { minProtocol: 3, maxProtocol: 4, client, role, scopes };
  if (device && challenge) {
    const signedAt = Date.now();
    const payload = ["v3", identity.id, client.id, client.mode, role, scopes.join(","), String(signedAt), "", challenge, client.platform, ""].join("|");
    params.device = { id: identity.id, publicKey: identity.publicKey, signature: identity.sign(payload), signedAt, nonce: challenge };
  }
  let hello;
  try {
    hello = await request("connect", params, { timeout: timeoutMs });
  } catch (e) {
    ws.close();
    throw e;
  } finally {
    clearTimeout(timer);
  }

  return {
    hello,
    events,
    request,
    /** Resolves with the first event (already seen or still to come) matching `pred`. */
    waitEvent(pred, timeout = 60000, what = "event") {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (f) => { clearTimeout(t); resolve(f); }, reject: (e) => { clearTimeout(t); reject(e); } };
        const t = setTimeout(() => { waiters.delete(w); reject(new Error(`no ${what} within ${timeout} ms`)); }, timeout);
        waiters.add(w);
      });
    },
    /**
     * Sends a chat message and waits until the turn is over (with no model it ends in an error,
     * after session start-up, which is where the gateway decides whether to reset).
     */
    async chat(sessionKey, message, { timeout = CHAT_TIMEOUT_MS } = {}) {
      const idempotencyKey = `ka-${crypto.randomUUID()}`;
      const sent = await request("chat.send", { sessionKey, message, idempotencyKey }, { timeout });
      const runId = sent?.runId ?? idempotencyKey;
      const end = await this.waitEvent(
        (f) => f.event === "chat" && f.payload?.runId === runId && ["final", "error", "aborted"].includes(f.payload?.state),
        timeout,
        `end of chat run ${runId} in ${sessionKey}`,
      );
      return { sent, end };
    },
    /** The gateway's row for `key` from sessions.list, or undefined. */
    async session(key) {
      const list = await request("sessions.list", { limit: 500 });
      return (list?.sessions ?? []).find((s) => s.key === key);
    },
    close() {
      try { ws.close(); } catch { /* closed */ }
    },
  };
}

/** Runs keepalivectl against `socket`; resolves with {code, stdout, stderr}, never rejects. */
export function ctl(socket, args, { env = {} } = {}) {
  return new Promise((resolve) => {
    execFile(keepalivectlBin, ["--socket", socket, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** `keepalivectl --json ARGS` parsed; throws with its output when it fails. */
export async function ctlJson(socket, args, opts) {
  const r = await ctl(socket, ["--json", ...args], opts);
  if (r.code !== 0) throw new Error(`keepalivectl ${args.join(" ")} exited ${r.code}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Whether process `pid` exists (zombies of our own children count as gone). */
export function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone; false on timeout. */
export async function waitGone(pid, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * Starts keepalived as a service would (its own process, not a child of the gateway) for a
 * scratch installation, and waits until it answers. `stop()` shuts it down over its socket,
 * then kills it if it must.
 */
export async function startKeepalived(sc, args = [], { env = {} } = {}) {
  const logFile = path.join(sc.dir, "keepalived.log");
  const out = fs.openSync(logFile, "a");
  const child = spawn(keepalivedBin, ["--state-dir", sc.stateDir, "--socket", sc.socket, ...args], {
    env: { PATH: process.env.PATH, HOME: sc.home, XDG_STATE_HOME: sc.xdgState, TZ: "UTC", ...env },
    stdio: ["ignore", out, out],
    detached: true,
  });
  fs.closeSync(out);
  let exited = null;
  const exit = new Promise((resolve) => child.once("exit", (code, signal) => resolve((exited = { code, signal }))));
  const deadline = Date.now() + 15000;
  for (;;) {
    if (exited) throw new Error(`keepalived exited at start-up (${JSON.stringify(exited)}):\n${tail(logFile)}`);
    const r = await ctl(sc.socket, ["--json", "status"]);
    if (r.code === 0) break;
    if (Date.now() > deadline) {
      try { child.kill("SIGKILL"); } catch { /* gone */ }
      throw new Error(`keepalived did not answer on ${sc.socket}: ${r.stdout}${r.stderr}\n${tail(logFile)}`);
    }
    await sleep(50);
  }
  return {
    pid: child.pid,
    logFile,
    exited: () => exited,
    exit,
    log: () => tail(logFile),
    async stop() {
      if (exited) return exited;
      await ctl(sc.socket, ["shutdown"]);
      const done = await Promise.race([exit.then(() => true), sleep(10000).then(() => false)]);
      if (!done) {
        try { child.kill("SIGKILL"); } catch { /* gone */ }
        await exit;
      }
      return exited;
    },
  };
}

/** Kills `pid` if it still runs: the last line of clean-up for daemons a gateway started. */
export function killIfAlive(pid) {
  if (pid && alive(pid)) {
    try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  }
}

export { keepalivedBin, keepalivectlBin, sleep };
