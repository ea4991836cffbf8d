/**
 * Proves scripts/lib/embedded-postgres.ts under concurrency (run: `npx node scripts/embedded-postgres-check.ts`).
 * All scenarios run AT THE SAME TIME against one in-memory server, so units of different
 * clients really interleave: parameterised queries, transactions, an aborted transaction,
 * a client dying inside a transaction, and raw wire traffic split into 1-byte TCP writes.
 * Then it times boots with a fresh and an existing on-disk data dir. Exits 1 on any failure.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "./lib/embedded-postgres.ts";

const failures: string[] = [];
const fail = (msg: string): void => void failures.push(msg);
const check = (ok: boolean, msg: string): void => {
  if (!ok) fail(msg);
};

/** pg emits these after end() on a closed stream (known pg behaviour, see TOOLCHAIN.md); anything else is a failure. */
function newClient(url: string): pg.Client {
  const c = new pg.Client({ connectionString: url });
  c.on("error", (err) => {
    if (err.message !== "Stream was cancelled." && err.message !== "This socket has been closed.") fail(`client error: ${err.message}`);
  });
  return c;
}

async function withClient(url: string, fn: (c: pg.Client) => Promise<void>): Promise<void> {
  const c = newClient(url);
  try {
    await c.connect();
    await fn(c);
  } catch (err) {
    fail(`unexpected: ${(err as Error).message}`);
  } finally {
    await c.end().catch(() => {});
  }
}

const PARAM_CLIENTS = 50,
  PARAM_QUERIES = 20,
  TX_CLIENTS = 10,
  TX_ROWS = 5;
let paramOk = 0,
  txOk = 0;

const parameterised = (url: string, i: number) =>
  withClient(url, async (c) => {
    for (let q = 0; q < PARAM_QUERIES; q++) {
      const n = i * 1000 + q;
      const { rows } = await c.query<{ v: number }>("select $1::int + 1 as v", [n]);
      if (rows[0]?.v === n + 1) paramOk++;
      else fail(`client ${i} query ${q}: got ${JSON.stringify(rows)}`);
    }
  });

const transaction = (url: string, i: number) =>
  withClient(url, async (c) => {
    await c.query("BEGIN");
    for (let r = 0; r < TX_ROWS; r++) await c.query("insert into check_tx(owner, n) values ($1, $2)", [`tx${i}`, r]);
    const mine = await c.query<{ n: number }>("select count(*)::int as n from check_tx where owner = $1", [`tx${i}`]);
    // Others' rows visible inside my transaction must be whole committed transactions only.
    const others = await c.query<{ n: number }>("select count(*)::int as n from check_tx where owner like 'tx%' and owner <> $1", [
      `tx${i}`,
    ]);
    const status = await c.query<{ s: string }>("select 'in-tx' as s");
    await c.query("COMMIT");
    const m = mine.rows[0]?.n,
      o = others.rows[0]?.n ?? -1;
    check(m === TX_ROWS, `tx${i}: saw ${m} own rows, expected ${TX_ROWS}`);
    check(o % TX_ROWS === 0, `tx${i}: saw ${o} foreign rows (uncommitted rows leaked)`);
    check(status.rows[0]?.s === "in-tx", `tx${i}: bad row`);
    if (m === TX_ROWS && o % TX_ROWS === 0) txOk++;
  });

const aborted = (url: string) =>
  withClient(url, async (c) => {
    await c.query("BEGIN");
    await c.query("insert into check_tx(owner, n) values ($1, $2)", ["aborted", 1]);
    const err1 = await c.query("select 1 / $1::int", [0]).then(
      () => null,
      (e: { code?: string }) => e,
    );
    check(err1?.code === "22012", `aborted: expected division_by_zero, got ${err1?.code}`);
    const err2 = await c.query("select $1::int", [1]).then(
      () => null,
      (e: { code?: string }) => e,
    );
    check(err2?.code === "25P02", `aborted: expected in_failed_sql_transaction, got ${err2?.code}`);
    await c.query("ROLLBACK");
    const { rows } = await c.query<{ v: number }>("select $1::int as v", [7]);
    check(rows[0]?.v === 7, "aborted: connection unusable after ROLLBACK");
  });

/** Dies (socket destroyed, no Terminate) inside a transaction: the server must roll it back. */
const dying = (url: string) =>
  new Promise<void>((resolve) => {
    const c = new pg.Client({ connectionString: url });
    c.on("error", () => {}); // "Connection terminated unexpectedly" is the point here
    c.connect()
      .then(() => c.query("BEGIN"))
      .then(() => c.query("insert into check_tx(owner, n) values ($1, $2)", ["dying", 1]))
      .then(() => {
        (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      })
      .catch((e: Error) => fail(`dying: ${e.message}`))
      .finally(resolve);
  });

/** Raw wire protocol in 1-byte writes: SSLRequest, startup, then Parse/Bind/Execute/Sync + Terminate. */
const splitFrames = (port: number) =>
  new Promise<void>((resolve) => {
    const frame = (type: string, body: Buffer) => {
      const head = Buffer.alloc(5);
      head.write(type);
      head.writeInt32BE(body.length + 4, 1);
      return Buffer.concat([head, body]);
    };
    const ssl = Buffer.alloc(8);
    ssl.writeInt32BE(8);
    ssl.writeInt32BE(80877103, 4);
    const params = Buffer.from("user\0u\0database\0postgres\0\0");
    const startup = Buffer.alloc(8);
    startup.writeInt32BE(8 + params.length);
    startup.writeInt32BE(196608, 4);
    const unit = Buffer.concat([
      frame("P", Buffer.from("\0select 41 + 1\0\0\0")),
      frame("B", Buffer.from("\0\0\0\0\0\0\0\0")),
      frame("E", Buffer.from("\0\0\0\0\0")),
      frame("S", Buffer.alloc(0)),
      frame("X", Buffer.alloc(0)),
    ]);
    const bytes = Buffer.concat([ssl, startup, params, unit]);
    const sock = connect(port, "127.0.0.1");
    let got = Buffer.alloc(0);
    sock.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
    });
    sock.on("error", (e) => fail(`split frames: ${e.message}`));
    sock.on("close", () => {
      const text = got.toString("latin1");
      check(
        text.startsWith("N") && text.includes("42") && text.endsWith("Z\0\0\0\x05I"),
        `split frames: bad reply ${JSON.stringify(text.slice(-40))}`,
      );
      resolve();
    });
    sock.on("connect", async () => {
      for (const b of bytes) {
        sock.write(Buffer.from([b]));
        await new Promise((r) => setImmediate(r));
      }
    });
  });

async function concurrency(): Promise<void> {
  const logs: string[] = [];
  const server = await startEmbeddedPostgres({ log: (m) => logs.push(m) });
  try {
    await withClient(server.url, async (c) => {
      await c.query("create table check_tx(owner text not null, n int not null)");
    });
    const t0 = performance.now();
    await Promise.all([
      ...Array.from({ length: PARAM_CLIENTS }, (_, i) => parameterised(server.url, i)),
      ...Array.from({ length: TX_CLIENTS }, (_, i) => transaction(server.url, i)),
      aborted(server.url),
      dying(server.url),
      splitFrames(server.port),
    ]);
    const ms = performance.now() - t0;
    await withClient(server.url, async (c) => {
      const { rows } = await c.query<{ owner: string; n: number }>("select owner, count(*)::int as n from check_tx group by owner");
      const count = (o: string) => rows.find((r) => r.owner === o)?.n ?? 0;
      check(
        rows.filter((r) => r.owner.startsWith("tx")).every((r) => r.n === TX_ROWS),
        "committed rows missing",
      );
      check(rows.filter((r) => r.owner.startsWith("tx")).length === TX_CLIENTS, "not all transactions committed");
      check(count("aborted") === 0, "aborted transaction's row survived ROLLBACK");
      check(count("dying") === 0, "dead client's transaction was not rolled back");
    });
    check(logs.filter((l) => l.includes("rolling back")).length === 1, `expected one disconnect rollback, logs: ${logs.join(" | ")}`);
    check(paramOk === PARAM_CLIENTS * PARAM_QUERIES, `parameterised: ${paramOk}/${PARAM_CLIENTS * PARAM_QUERIES} ok`);
    const connections = PARAM_CLIENTS + TX_CLIENTS + 3;
    console.log(
      `concurrency: ${connections} concurrent connections, ${paramOk}/${PARAM_CLIENTS * PARAM_QUERIES} parameterised queries ok, ` +
        `${txOk}/${TX_CLIENTS} transactions ok, in ${Math.round(ms)} ms`,
    );
  } finally {
    await server.stop();
  }
}

async function bootTimes(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "embedded-pg-"));
  const dataDir = join(dir, "data");
  try {
    let t0 = performance.now();
    let server = await startEmbeddedPostgres({ dataDir });
    const fresh = performance.now() - t0;
    await withClient(server.url, async (c) => {
      await c.query("create table persisted(v int); insert into persisted values (42)");
    });
    await server.stop();
    t0 = performance.now();
    server = await startEmbeddedPostgres({ dataDir });
    const existing = performance.now() - t0;
    await withClient(server.url, async (c) => {
      const { rows } = await c.query<{ v: number }>("select v from persisted");
      check(rows[0]?.v === 42, "on-disk data did not survive a restart");
    });
    await server.stop();
    console.log(`boot: fresh data dir ${Math.round(fresh)} ms, existing data dir ${Math.round(existing)} ms`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// A serialisation bug shows up as a hang (a client waiting forever for its reply): fail, don't hang.
setTimeout(() => {
  console.error(`FAILED: timed out after 60 s; errors so far: ${[...new Set(failures)].slice(0, 10).join(" | ")}`);
  process.exit(1);
}, 60_000).unref();
await concurrency();
await bootTimes();
if (failures.length > 0) {
  console.error(`FAILED (${failures.length} errors):\n  ${[...new Set(failures)].slice(0, 20).join("\n  ")}`);
  process.exit(1);
}
console.log("OK: 0 errors");
