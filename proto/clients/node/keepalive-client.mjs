// keepalive-client.mjs: a dependency-free Node (>= 18) client for keepalived,
// implementing proto/PROTOCOL.md (protocol v1: line-delimited JSON over a Unix socket).
//
//   import { connect, touchOnce } from "./keepalive-client.mjs";
//   const ka = await connect();                       // $KEEPALIVE_SOCKET or the default path
//   console.log((await ka.hello()).capabilities);
//   await ka.touch(["agent:main:main"]);              // resolves once the bump is durable
//   try { await ka.touch(["agent:main:nope"]); } catch (e) { e.code; /* "unknown_session" */ e.details; }
//   ka.close();
//   await touchOnce("agent:main:main", { quiet: true }); // one-shot; never throws with quiet
//
// Stopping keepalived when a Node gateway exits, without spawning a process:
// connect once at start-up and keep the connection (unref'd, so it never holds the
// process open), then send `shutdown` from the gateway's own stop path:
//
//   const ka = await connect().catch(() => null);
//   ka?.unref();
//   for (const sig of ["SIGINT", "SIGTERM", "SIGQUIT"])
//     process.once(sig, async () => {
//       await ka?.shutdown({ timeoutMs: 1000 }).catch(() => {}); // reply comes before it stops
//       process.exit(0);
//     });
//   process.once("exit", () => ka?.shutdownNow()); // synchronous 'exit' handlers: best effort
//
// `shutdownNow()` only writes the request line on the open connection (libuv writes to a
// connected socket at once, so it reaches the daemon even from an 'exit' handler); it
// waits for nothing. Only SIGKILL or a crash can skip both paths.

import net from "node:net";
import os from "node:os";

/** @typedef {{code: string, message: string, details?: any}} ErrorObject */
/** @typedef {{agent: string, store: string, sessions: number, bumped: string[], written: boolean, dry_run: boolean, error?: ErrorObject, note?: string}} AgentResult */
/** @typedef {Error & {code: string, details?: any, reply?: any}} KeepaliveError */

/** The socket path: `$KEEPALIVE_SOCKET`, else the runtime dir, else `<tmpdir>/keepalive-<uid>/` (PROTOCOL.md §1). */
export function defaultSocket() {
  const env = process.env;
  if (env.KEEPALIVE_SOCKET) return env.KEEPALIVE_SOCKET;
  if (env.XDG_RUNTIME_DIR) return `${env.XDG_RUNTIME_DIR}/keepalive/keepalived.sock`;
  const uid = typeof process.geteuid === "function" ? process.geteuid() : os.userInfo().uid;
  return `${os.tmpdir()}/keepalive-${uid}/keepalived.sock`;
}

/** @param {string} code @param {string} message @param {any} [details] @param {any} [reply] @returns {KeepaliveError} */
function fail(code, message, details, reply) {
  const e = /** @type {KeepaliveError} */ (new Error(`${code}: ${message}`));
  e.code = code;
  if (details !== undefined) e.details = details;
  if (reply !== undefined) e.reply = reply;
  return e;
}

/**
 * Connects to keepalived.
 * @param {{socket?: string, timeoutMs?: number}} [options] timeoutMs: connect and default per-request timeout (5000)
 * @returns {Promise<Client>}
 */
export function connect({ socket = defaultSocket(), timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socket);
    const timer = setTimeout(() => { sock.destroy(); reject(fail("timeout", `no connection to ${socket} within ${timeoutMs} ms`)); }, timeoutMs);
    sock.once("error", (e) => { clearTimeout(timer); reject(e); });
    sock.once("connect", () => { clearTimeout(timer); sock.removeAllListeners("error"); resolve(new Client(sock, timeoutMs)); });
  });
}

export class Client {
  /** @param {net.Socket} sock @param {number} timeoutMs */
  constructor(sock, timeoutMs) {
    this.sock = sock;
    this.timeoutMs = timeoutMs;
    /** @type {{resolve: (r: any) => void, reject: (e: Error) => void, timer: any, done: boolean}[]} replies owed, in request order */
    this.pending = [];
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("data", (chunk) => {
      buf += chunk;
      for (let i; (i = buf.indexOf("\n")) >= 0; ) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const slot = this.pending.shift(); // one reply per request line, in order
        if (!slot || slot.done) continue; // timed out already: its reply is dropped
        slot.done = true;
        clearTimeout(slot.timer);
        let reply;
        try { reply = JSON.parse(line); } catch { slot.reject(fail("bad_reply", `not JSON: ${line.slice(0, 200)}`)); continue; }
        if (reply.ok) slot.resolve(reply);
        else slot.reject(fail(reply.error?.code ?? "internal", reply.error?.message ?? "unknown error", reply.error?.details, reply));
      }
    });
    /** @param {Error} [err] */
    const drop = (err) => {
      for (const slot of this.pending.splice(0)) {
        if (slot.done) continue;
        slot.done = true;
        clearTimeout(slot.timer);
        slot.reject(err ?? fail("disconnected", "keepalived closed the connection"));
      }
    };
    sock.on("error", drop);
    sock.on("close", () => drop());
  }

  /**
   * Sends one request (`v: 1` is added) and resolves with the `ok: true` reply.
   * Requests may be pipelined; replies are matched in order.
   * @param {{cmd: string, [k: string]: any}} obj
   * @param {{timeoutMs?: number}} [options]
   * @returns {Promise<any>}
   */
  request(obj, { timeoutMs = this.timeoutMs } = {}) {
    return new Promise((resolve, reject) => {
      if (this.sock.destroyed || !this.sock.writable) return reject(fail("disconnected", "the connection is closed"));
      /** @type {{resolve: (r: any) => void, reject: (e: Error) => void, timer: any, done: boolean}} */
      const slot = { resolve, reject, timer: null, done: false };
      slot.timer = setTimeout(() => { slot.done = true; reject(fail("timeout", `no reply to ${obj.cmd} within ${timeoutMs} ms`)); }, timeoutMs);
      this.pending.push(slot);
      this.sock.write(JSON.stringify({ v: 1, ...obj }) + "\n");
    });
  }

  /** @returns {Promise<{daemon: string, version: string, protocol: number, capabilities: string[], pid: number}>} */
  hello() { return this.request({ cmd: "hello" }); }

  /**
   * Bumps sessions now (all kept-alive sessions when `sessions` is omitted).
   * @param {string[] | string} [sessions]
   * @param {{agent?: string, revive?: boolean, timeoutMs?: number}} [options]
   * @returns {Promise<{results: AgentResult[]}>}
   */
  touch(sessions, { agent, revive, timeoutMs } = {}) {
    /** @type {{cmd: string, sessions?: string[], agent?: string, revive?: boolean}} */
    const req = { cmd: "touch" };
    if (sessions !== undefined) req.sessions = Array.isArray(sessions) ? sessions : [sessions];
    if (agent !== undefined) req.agent = agent;
    if (revive !== undefined) req.revive = revive;
    return this.request(req, { timeoutMs });
  }

  /** @returns {Promise<any>} the status object, PROTOCOL.md §8 `status` */
  status() { return this.request({ cmd: "status" }); }

  /**
   * The resets keepalive noticed, oldest first (`resets` in PROTOCOL.md).
   * @param {{agent?: string, sinceMs?: number, afterSeq?: number}} [filter]
   */
  resets({ agent, sinceMs, afterSeq } = {}) {
    /** @type {{cmd: string, agent?: string, since_ms?: number, after_seq?: number}} */
    const req = { cmd: "resets" };
    if (agent !== undefined) req.agent = agent;
    if (sinceMs !== undefined) req.since_ms = sinceMs;
    if (afterSeq !== undefined) req.after_seq = afterSeq;
    return this.request(req);
  }

  /**
   * Asks the daemon to stop; resolves with `{stopping, pid}` once it has agreed.
   * @param {{timeoutMs?: number}} [options]
   * @returns {Promise<{stopping: boolean, pid: number}>}
   */
  shutdown({ timeoutMs } = {}) { return this.request({ cmd: "shutdown" }, { timeoutMs }); }

  /** Writes `shutdown` without waiting for anything: for synchronous 'exit' handlers. */
  shutdownNow() { try { this.sock.write('{"v":1,"cmd":"shutdown"}\n'); } catch { /* best effort */ } }

  /** Lets the process exit even while this connection is open. */
  unref() { this.sock.unref(); return this; }

  close() { this.sock.end(); }
}

/**
 * Connects, touches one session, closes.
 * @param {string} sessionKey
 * @param {{socket?: string, timeoutMs?: number, quiet?: boolean, agent?: string, revive?: boolean}} [options]
 *   quiet: resolve with null instead of rejecting (daemon absent, unknown key, timeout...)
 * @returns {Promise<{results: AgentResult[]} | null>}
 */
export async function touchOnce(sessionKey, { socket, timeoutMs = 5000, quiet = false, agent, revive } = {}) {
  let client;
  try {
    client = await connect({ socket, timeoutMs });
    return await client.touch([sessionKey], { agent, revive });
  } catch (e) {
    if (quiet) return null;
    throw e;
  } finally {
    client?.close();
  }
}
