// keepalive-touch: an OpenClaw hook that tells keepalived a session is in use.
//
// This file is plain JavaScript with JSDoc types, so it is valid TypeScript for the
// gateway's hook loader and runs unchanged under `node` (copy it to a .mjs to import it).
//
// How it touches: over keepalived's Unix socket, with a minimal inline client
// (proto/PROTOCOL.md; the full client is proto/clients/node/keepalive-client.mjs, which
// cannot be imported from here once the hook is copied to ~/.openclaw/hooks/). Not by
// spawning `keepalivectl touch`: a process per message costs a fork+exec, memory and a
// child to reap on every message of a busy gateway, while a socket connect costs a file
// descriptor for a few milliseconds and cannot outlive a timer. `keepalivectl` is only
// spawned, detached, for the optional start on gateway:startup.
//
// Companion mode (KEEPALIVE_HOOK_START=1): the daemon this hook started is stopped again on
// gateway:shutdown (emitted from OpenClaw 2026.4.29), over the socket, and only that daemon:
// one that was already running (a service, a daemon the user started) is left alone, since
// the gateway did not bring it and others may rely on it.
//
// It must never slow or break the gateway: the handler waits only until the request
// line is written (at most WAIT_MS), never for the store write; the daemon finishes a
// touch it has read even if the connection goes away. Nothing here throws; failures
// are logged once with console.warn (again only after a success), and the expected
// refusals (a brand-new session not yet in the store, a session the gateway is about to
// reset) are not failures.

import net from "node:net";
import os from "node:os";
import { spawn } from "node:child_process";

/** How long the handler may delay the gateway, in ms. */
const WAIT_MS = 150;
/** How long a touch may take in the background before it is abandoned, in ms. */
const REPLY_MS = Number(process.env.KEEPALIVE_HOOK_TIMEOUT_MS) || 5000;
/**
 * How long gateway:shutdown may take, in ms: under the gateway's own bound for that hook
 * (1 s in 2026.4.29 – 2026.5.x, 5 s from 2026.6), after which it stops waiting anyway.
 */
const STOP_MS = 800;
/**
 * What this hook started, shared through globalThis rather than module state: the gateway
 * may load the hook again (a config reload) between gateway:startup and gateway:shutdown.
 */
const COMPANION = Symbol.for("keepalive-touch.companion");
/** Refusals that are normal for a hook and not worth a warning. */
const EXPECTED = new Set(["unknown_session", "store_not_found", "session_stale", "generation_unsupported", "shutting_down"]);

let warned = false;

/** @param {unknown} err */
function warnOnce(err) {
  if (warned) return;
  warned = true;
  const e = /** @type {{code?: string, message?: string}} */ (err ?? {});
  const hint = e.code === "ENOENT" || e.code === "ECONNREFUSED" ? " (is keepalived running? `keepalivectl start`)" : "";
  try {
    console.warn(`[keepalive-touch] ${e.message ?? String(err)}${hint}; further errors are not logged until a touch succeeds`);
  } catch { /* never throw */ }
}

/** The socket, as in PROTOCOL.md §1: $KEEPALIVE_SOCKET, the runtime dir, else <tmp>/keepalive-<uid>/. */
function socketPath() {
  const env = process.env;
  if (env.KEEPALIVE_SOCKET) return env.KEEPALIVE_SOCKET;
  if (env.XDG_RUNTIME_DIR) return `${env.XDG_RUNTIME_DIR}/keepalive/keepalived.sock`;
  const uid = typeof process.geteuid === "function" ? process.geteuid() : 0;
  return `${os.tmpdir()}/keepalive-${uid}/keepalived.sock`;
}

/**
 * Sends one touch. Resolves once the request is written (or has failed); the reply is
 * read in the background, only to log a failure.
 * @param {string} key
 * @returns {Promise<void>}
 */
function touch(key) {
  return new Promise((sent) => {
    const path = socketPath();
    const sock = net.createConnection(path);
    let buf = "";
    let over = false;
    /** @param {unknown} [err] */
    const finish = (err) => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) warnOnce(err);
      else warned = false;
      sent(undefined);
    };
    const timer = setTimeout(() => finish(new Error(`keepalived at ${path} did not answer within ${REPLY_MS} ms`)), REPLY_MS);
    timer.unref();
    sock.setEncoding("utf8");
    sock.on("error", (err) => finish(err));
    sock.on("close", () => finish(new Error(`keepalived at ${path} closed the connection`)));
    sock.on("connect", () => {
      sock.write(JSON.stringify({ v: 1, cmd: "touch", sessions: [key] }) + "\n", () => sent(undefined));
      sock.unref(); // the request is out: never hold the gateway's process open for the reply
    });
    sock.on("data", (chunk) => {
      buf += chunk;
      const i = buf.indexOf("\n");
      if (i < 0) return;
      /** @type {{ok?: boolean, error?: {code?: string, message?: string}} | null} */
      let reply = null;
      try { reply = JSON.parse(buf.slice(0, i)); } catch { /* treated as a failure below */ }
      const code = reply?.error?.code ?? "bad_reply";
      if (reply?.ok || EXPECTED.has(code)) finish(undefined);
      else finish(Object.assign(new Error(`touch ${key}: ${code}: ${reply?.error?.message ?? buf.slice(0, i)}`), { code }));
    });
  });
}

/**
 * Starts keepalived in the background with `keepalivectl --json start`, detached, and
 * remembers the daemon's pid when this start is what brought it up (`started: true`).
 */
function start() {
  const bin = process.env.KEEPALIVECTL || "keepalivectl";
  const extra = (process.env.KEEPALIVE_HOOK_START_ARGS || "").split(/\s+/).filter(Boolean);
  // The socket is named so that the start and the later shutdown reach the same daemon.
  const args = ["--socket", socketPath(), "--json", "start", ...(extra.length ? ["--", ...extra] : [])];
  /** @type {{pid: number | null, done: Promise<void>}} */
  const companion = { pid: null, done: Promise.resolve() };
  /** @type {{pid: number | null} | undefined} */
  const previous = /** @type {any} */ (globalThis)[COMPANION];
  /** @type {any} */ (globalThis)[COMPANION] = companion;
  companion.done = new Promise((done) => {
    /** @type {import("node:child_process").ChildProcess} */
    let child;
    // A throw in here would reject `done`, and a rejection nobody awaits can end the gateway.
    try {
      child = spawn(bin, args, { detached: true, stdio: ["ignore", "pipe", "ignore"] });
    } catch (err) {
      warnOnce(err);
      return done(undefined);
    }
    let out = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk) => { out += chunk; });
    child.on("error", (err) => { warnOnce(err); done(undefined); });
    const kill = setTimeout(() => { try { child.kill(); } catch { /* gone */ } }, 30000);
    kill.unref();
    child.on("close", (code) => {
      clearTimeout(kill);
      if (code) warnOnce(new Error(`\`${bin} start\` exited with ${code}`));
      try {
        const reply = JSON.parse(out.trim().split("\n").pop() || "null");
        if (reply?.started === true && Number.isInteger(reply.pid)) companion.pid = reply.pid;
        // A second gateway:startup without a shutdown between finds our own daemon running.
        else if (previous?.pid != null && reply?.pid === previous.pid) companion.pid = previous.pid;
      } catch { /* no reply: nothing of ours to stop later */ }
      done(undefined);
    });
    child.unref();
    // @ts-ignore: the pipe is a net.Socket at run time
    child.stdout?.unref?.();
  });
}

/**
 * A short exchange on one connection: sends the request `next` makes of the previous reply,
 * until it returns null, and resolves with the replies (fewer when the connection ends or
 * `deadline` passes). Never rejects.
 * @param {(reply: any) => object | null} next given the last reply (null at first), the next request or null to stop
 * @param {number} deadline
 * @returns {Promise<any[]>}
 */
function converse(next, deadline) {
  return new Promise((resolve) => {
    const replies = /** @type {any[]} */ ([]);
    let buf = "";
    let over = false;
    const sock = net.createConnection(socketPath());
    const finish = () => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(replies);
    };
    const timer = setTimeout(finish, Math.max(0, deadline - Date.now()));
    /** @param {any} reply */
    const send = (reply) => {
      if (over) return;
      const req = next(reply);
      if (!req) return finish();
      sock.write(JSON.stringify({ v: 1, ...req }) + "\n");
    };
    sock.setEncoding("utf8");
    sock.on("error", finish);
    sock.on("close", finish);
    sock.on("connect", () => send(null));
    sock.on("data", (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let reply = null;
        try { reply = JSON.parse(line); } catch { return finish(); }
        replies.push(reply);
        send(reply);
      }
    });
  });
}

/**
 * gateway:shutdown: stops the daemon this hook started, if it is still the one on the socket
 * (`hello` names its pid), with the protocol's `shutdown` request. Bounded by STOP_MS.
 */
async function stopCompanion() {
  const g = /** @type {any} */ (globalThis);
  /** @type {{pid: number | null, done: Promise<void>} | undefined} */
  const companion = g[COMPANION];
  if (!companion) return;
  const deadline = Date.now() + STOP_MS;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let cap;
  // A gateway stopped right after it started may still be waiting for `keepalivectl start`.
  await Promise.race([companion.done, new Promise((r) => { cap = setTimeout(r, Math.max(0, deadline - Date.now())); })]);
  clearTimeout(cap);
  if (g[COMPANION] === companion) delete g[COMPANION];
  const pid = companion.pid;
  if (pid === null) return;
  const replies = await converse((reply) => {
    if (reply === null) return { cmd: "hello" };
    if (reply.daemon === "keepalived" && reply.pid === pid) return { cmd: "shutdown" };
    return null;
  }, deadline);
  const last = replies[replies.length - 1];
  if (replies.length === 2 && last?.stopping !== true) warnOnce(new Error(`keepalived (pid ${pid}) refused to stop: ${JSON.stringify(last)}`));
  if (replies.length === 1 && replies[0]?.pid === pid) warnOnce(new Error(`keepalived (pid ${pid}) did not answer shutdown within ${STOP_MS} ms`));
}

/**
 * @param {{type?: string, action?: string, sessionKey?: string, timestamp?: unknown, context?: unknown} | null | undefined} event
 * @returns {Promise<void>}
 */
export default async function keepaliveTouch(event) {
  try {
    if (!event || typeof event !== "object") return;
    const type = String(event.type ?? "");
    const name = type.includes(":") || !event.action ? type : `${type}:${event.action}`;
    if (name === "gateway:startup") {
      if (process.env.KEEPALIVE_HOOK_START === "1") start();
      return;
    }
    if (name === "gateway:shutdown") {
      await stopCompanion();
      return;
    }
    if (name !== "message:received" && name !== "message:sent") return;
    const key = event.sessionKey;
    if (typeof key !== "string" || key.trim() === "") return;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let cap;
    await Promise.race([touch(key), new Promise((resolve) => { cap = setTimeout(resolve, WAIT_MS); })]);
    clearTimeout(cap);
  } catch (err) {
    warnOnce(err);
  }
}
