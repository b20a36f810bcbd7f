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

/** Starts keepalived in the background with `keepalivectl start`, detached. */
function start() {
  const bin = process.env.KEEPALIVECTL || "keepalivectl";
  const extra = (process.env.KEEPALIVE_HOOK_START_ARGS || "").split(/\s+/).filter(Boolean);
  const child = spawn(bin, extra.length ? ["start", "--", ...extra] : ["start"], { detached: true, stdio: "ignore" });
  child.on("error", (err) => warnOnce(err));
  const kill = setTimeout(() => { try { child.kill(); } catch { /* gone */ } }, 30000);
  kill.unref();
  child.on("exit", (code) => {
    clearTimeout(kill);
    if (code) warnOnce(new Error(`\`${bin} start\` exited with ${code}`));
  });
  child.unref();
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
