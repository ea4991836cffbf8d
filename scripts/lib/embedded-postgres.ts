/**
 * Embedded Postgres for `npm run dev` and tests on a machine without Postgres: PGlite
 * (Postgres 18 compiled to WASM) served over TCP, so node `pg`, psql, drizzle-kit and local
 * Hyperdrive (workerd/miniflare) can connect with an ordinary connection string.
 *
 * Why not `PGLiteSocketServer` from @electric-sql/pglite-socket: it hands every wire message
 * to PGlite on its own, so with ≥ 2 clients one client's Parse/Bind/Execute/Sync sequence
 * interleaves with another's and queries fail with `portal "" does not exist`.
 *
 * PGlite has exactly ONE backend session, shared by every TCP client. So this server:
 *  - buffers each client's messages up to a protocol boundary (Sync, simple Query, Flush,
 *    FunctionCall) and runs that whole unit on PGlite in one call, one unit at a time
 *    (a FIFO queue), writing the reply only to the client that sent it;
 *  - reads the ReadyForQuery status at the end of each reply: 'T'/'E' (in a transaction),
 *    or no ReadyForQuery at all (after a Flush, mid extended-protocol sequence), makes that
 *    client the OWNER, whose units are the only ones run until a reply ends in 'I'. Others wait.
 *  - if the owner disconnects, sends Sync + ROLLBACK for it and releases the backend.
 *
 * Known, accepted limits (fine for dev/tests, NOT for production):
 *  - Session state leaks between clients: SET, named prepared statements (two clients
 *    preparing the same name collide), temp tables, LISTEN, advisory locks are shared.
 *  - A client idling inside an open transaction blocks every other client (as with one
 *    real connection). A transaction that waits on another connection deadlocks.
 *  - CancelRequest is ignored (all clients share one BackendKeyData; PGlite can't cancel).
 *  - COPY ... FROM STDIN aborts the PGlite WASM process, so it is refused with an error.
 *  - `database` only names the URL path: PGlite serves its one database (`postgres`) and
 *    ignores the user/database/options of the startup packet; any password is accepted.
 */
import { createServer, type Socket } from "node:net";
import { PGlite } from "@electric-sql/pglite";

export interface EmbeddedPostgres {
  url: string;
  host: string;
  port: number;
  stop(): Promise<void>;
}
export interface EmbeddedPostgresOptions {
  dataDir?: string; // undefined = in-memory
  host?: string; // default 127.0.0.1
  port?: number; // default 0 = pick a free port
  database?: string; // default "postgres"
  log?: (msg: string) => void;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_30 = 196608;
// NegotiateProtocolVersion "3.0, no unknown options": the reply for clients asking for 3.2+.
const NEGOTIATE_30 = Buffer.from([0x76, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0]);
/** Message types after which the client waits for a reply, so the unit is complete. */
const BOUNDARY = new Set(["S", "Q", "H", "F"].map((c) => c.charCodeAt(0)));
const [TERMINATE, PASSWORD, QUERY, PARSE, READY] = ["X", "p", "Q", "P", "Z"].map((c) => c.charCodeAt(0));
const COPY_FROM_STDIN = /\bcopy\b[\s\S]*\bfrom\s+stdin\b/i;

function message(type: string, body: string): Buffer {
  const payload = Buffer.from(`${body}\0`);
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(payload.length + 4, 1);
  return Buffer.concat([head, payload]);
}
// Disconnect cleanup: Sync ends any half-done extended sequence, then roll back.
const ROLLBACK = Buffer.concat([Buffer.from([0x53, 0, 0, 0, 4]), message("Q", "ROLLBACK")]);
// Replaces a COPY FROM STDIN unit: a real error keeps the backend's transaction state honest.
const REFUSE_COPY = message(
  "Q",
  "DO $$BEGIN RAISE EXCEPTION 'COPY FROM STDIN is not supported by embedded PGlite' USING ERRCODE = 'feature_not_supported'; END$$",
);

/** Status byte of the reply's final ReadyForQuery, or null if it doesn't end with one. */
function readyStatus(out: Buffer): string | null {
  let off = 0;
  let last: string | null = null;
  while (off + 5 <= out.length) {
    const type = out.readUInt8(off);
    last = type === READY && off + 6 <= out.length ? String.fromCharCode(out.readUInt8(off + 5)) : null;
    off += 1 + out.readInt32BE(off + 1);
  }
  return off === out.length ? last : null;
}

interface Conn {
  id: number;
  socket: Socket;
  closed: boolean;
  started: boolean;
  terminating: boolean;
  inbuf: Buffer;
  pending: Buffer[];
  refuse: boolean;
  chain: Promise<void>;
}
interface Job {
  conn: Conn;
  bytes: Uint8Array;
  internal: boolean;
  done: (out: Buffer | Error) => void;
}

/** Serialises units onto the single PGlite session and tracks transaction ownership. */
class Backend {
  pg: PGlite;
  log: (msg: string) => void;
  owner: Conn | null = null;
  jobs: Job[] = [];
  running: Promise<void> | null = null;
  runningConn: Conn | null = null;
  stopped = false;
  constructor(pg: PGlite, log: (msg: string) => void) {
    this.pg = pg;
    this.log = log;
  }

  run(conn: Conn, bytes: Uint8Array): Promise<Buffer> {
    if (this.stopped) return Promise.reject(new Error("server stopped"));
    return new Promise((resolve, reject) => {
      this.jobs.push({ conn, bytes, internal: false, done: (out) => (out instanceof Error ? reject(out) : resolve(out)) });
      this.pump();
    });
  }

  /** Client gone: drop its queued units; if it owns the backend, roll back and release. */
  release(conn: Conn): void {
    for (const j of this.jobs) if (j.conn === conn) j.done(Buffer.alloc(0));
    this.jobs = this.jobs.filter((j) => j.conn !== conn);
    if (this.owner === conn && this.runningConn !== conn) this.rollbackFor(conn);
    this.pump();
  }

  private rollbackFor(conn: Conn): void {
    if (this.stopped) return;
    this.log(`embedded-postgres: client #${conn.id} disconnected while owning the backend, rolling back`);
    this.jobs.unshift({ conn, bytes: ROLLBACK, internal: true, done: () => {} });
  }

  private pump(): void {
    if (this.running || this.stopped) return;
    // While a client owns the backend (open transaction), only its units may run.
    const i = this.owner ? this.jobs.findIndex((j) => j.conn === this.owner) : this.jobs.length ? 0 : -1;
    if (i < 0) return;
    const job = this.jobs.splice(i, 1)[0] as Job;
    this.runningConn = job.conn;
    this.running = this.pg
      .runExclusive(() => this.pg.execProtocolRaw(job.bytes))
      .then(
        (raw) => {
          const out = Buffer.from(raw); // copy: PGlite may hand out a view of its reusable buffer
          this.owner = job.internal || readyStatus(out) === "I" ? null : job.conn;
          if (this.owner === job.conn && job.conn.closed) this.rollbackFor(job.conn);
          job.done(out);
        },
        (err: unknown) => {
          this.log(`embedded-postgres: PGlite failed: ${String(err)}`);
          this.owner = null;
          job.done(err instanceof Error ? err : new Error(String(err)));
        },
      )
      .finally(() => {
        this.running = null;
        this.runningConn = null;
        this.pump();
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const j of this.jobs.splice(0)) j.done(Buffer.alloc(0));
    await this.running;
  }
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const log = opts.log ?? (() => {});
  const host = opts.host ?? "127.0.0.1";
  const database = opts.database ?? "postgres";
  const t0 = performance.now();
  const pg = await PGlite.create(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir });

  // PGlite ignores the startup packet's contents and always answers the same
  // AuthenticationOk/ParameterStatus/BackendKeyData/ReadyForQuery, so do it once and replay it:
  // new clients can then connect even while another client holds a transaction.
  const params = ["user", "postgres", "database", "postgres", ""].join("\0");
  const startup = Buffer.alloc(8 + params.length + 1);
  startup.writeInt32BE(startup.length, 0);
  startup.writeInt32BE(PROTOCOL_30, 4);
  startup.write(params, 8, "latin1");
  const startupReply = Buffer.from(await pg.execProtocolRaw(startup));
  log(`embedded-postgres: PGlite ready in ${Math.round(performance.now() - t0)} ms (${opts.dataDir ?? "in-memory"})`);

  const backend = new Backend(pg, log);
  const sockets = new Set<Socket>();
  let nextId = 1;

  const submit = (conn: Conn, unit: Buffer, refuse: boolean): void => {
    conn.chain = conn.chain
      .then(() => (conn.closed ? undefined : backend.run(conn, refuse ? REFUSE_COPY : unit)))
      .then((out) => {
        if (out?.length && !conn.closed) conn.socket.write(out);
      })
      .catch((err: unknown) => {
        log(`embedded-postgres: client #${conn.id}: ${String(err)}`);
        conn.socket.destroy();
      });
  };

  // Parse length-prefixed messages from arbitrary TCP chunks and group them into units.
  const onData = (conn: Conn, chunk: Buffer): void => {
    const buf = conn.inbuf.length ? Buffer.concat([conn.inbuf, chunk]) : chunk;
    let off = 0;
    while (!conn.terminating) {
      const rest = buf.length - off;
      if (!conn.started) {
        // untyped messages: SSLRequest, GSSENCRequest, CancelRequest, StartupMessage
        if (rest < 8) break;
        const len = buf.readInt32BE(off);
        if (len < 8 || len > 10_000) {
          conn.socket.destroy();
          return;
        }
        if (rest < len) break;
        const code = buf.readInt32BE(off + 4);
        off += len;
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) conn.socket.write("N");
        else if (code === CANCEL_REQUEST) {
          conn.terminating = true;
          conn.socket.end();
        } else {
          conn.started = true;
          if (code >>> 16 === 3 && code > PROTOCOL_30) conn.socket.write(NEGOTIATE_30); // we answer as 3.0
          conn.socket.write(startupReply);
        }
        continue;
      }
      if (rest < 5) break;
      const type = buf.readUInt8(off);
      const len = 1 + buf.readInt32BE(off + 1);
      if (len < 5) {
        conn.socket.destroy();
        return;
      }
      if (rest < len) break;
      const msg = buf.subarray(off, off + len);
      off += len;
      if (type === TERMINATE) {
        // finish queued units, then close; "close" does the cleanup
        conn.terminating = true;
        conn.chain = conn.chain.then(() => {
          conn.socket.end();
        });
        break;
      }
      if (type === PASSWORD) continue; // never asked for (we send AuthenticationOk): ignore
      if ((type === QUERY || type === PARSE) && COPY_FROM_STDIN.test(msg.toString("latin1", 5))) conn.refuse = true;
      conn.pending.push(msg);
      if (BOUNDARY.has(type)) {
        submit(conn, Buffer.concat(conn.pending), conn.refuse);
        conn.pending = [];
        conn.refuse = false;
      }
    }
    conn.inbuf = buf.subarray(off);
  };

  const server = createServer((socket) => {
    const conn: Conn = {
      id: nextId++,
      socket,
      closed: false,
      started: false,
      terminating: false,
      inbuf: Buffer.alloc(0),
      pending: [],
      refuse: false,
      chain: Promise.resolve(),
    };
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => onData(conn, chunk));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "ECONNRESET" && err.code !== "EPIPE") log(`embedded-postgres: client #${conn.id}: ${err.message}`);
    });
    socket.on("close", () => {
      sockets.delete(socket);
      conn.closed = true;
      backend.release(conn);
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    await pg.close(); // e.g. EADDRINUSE: don't leak the WASM instance
    throw err;
  }
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("embedded-postgres: no TCP address");
  const port = address.port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  const url = `postgres://postgres:postgres@${urlHost}:${port}/${database}`;
  log(`embedded-postgres: listening on ${url}`);

  let stopping: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    stop() {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await closed;
        await backend.stop();
        await pg.close();
        log("embedded-postgres: stopped");
      })();
      return stopping;
    },
  };
}
