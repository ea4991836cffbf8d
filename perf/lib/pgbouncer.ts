/**
 * A throwaway pgbouncer (transaction mode) in front of Postgres.
 *
 * Why: local Hyperdrive does not pool, so without a pooler every worker request
 * pays a fresh Postgres backend (fork + auth, ~43/s on this VM) and the
 * benchmark would measure connection setup instead of the worker. Production
 * Hyperdrive pools; pgbouncer in transaction mode is the closest local stand-in.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withClient } from "../../scripts/lib/db.ts";
import { freePort, sleep } from "./util.ts";

export interface Pooler {
  /** Connection string that goes through the pooler (or straight to Postgres on fallback). */
  url: string;
  /** Human-readable description for the report, e.g. "pgbouncer 1.18.0 (transaction, pool 20)". */
  label: string;
  pooled: boolean;
  pid?: number | undefined;
  stop(): Promise<void>;
}

const POOL_SIZE = 20; // 2 cores: more server connections only add contention in Postgres.

function findBinary(): string | null {
  for (const p of ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"]) {
    if (spawnSync(p, ["--version"]).status === 0) return p;
  }
  return null;
}

/** apt-get install when missing (root only). Tries without `update` first: a cached index is faster. */
function install(log: (m: string) => void): string | null {
  if (process.getuid?.() !== 0) return null;
  log("pgbouncer not found: installing it with apt-get (one-time)…");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const apt = (args: string[]) => spawnSync("apt-get", args, { env, stdio: "ignore", timeout: 240_000 }).status === 0;
  if (!apt(["install", "-y", "--no-install-recommends", "pgbouncer"])) {
    if (!apt(["update"]) || !apt(["install", "-y", "--no-install-recommends", "pgbouncer"])) return null;
  }
  // The Debian package starts its own service on 6432; we run our own instance, so stop that one.
  spawnSync("service", ["pgbouncer", "stop"], { stdio: "ignore" });
  return findBinary();
}

export async function startPooler(serverUrl: string, log: (m: string) => void): Promise<Pooler> {
  const direct = (why: string): Pooler => ({
    url: serverUrl,
    label: `!!! NO POOLER (${why}): direct Postgres, one backend per worker request — DB numbers are NOT representative !!!`,
    pooled: false,
    stop: async () => {},
  });
  if (process.env.BENCH_NO_PGBOUNCER === "1") return direct("BENCH_NO_PGBOUNCER=1");
  const bin = findBinary() ?? install(log);
  if (!bin) return direct("pgbouncer unavailable and apt-get install failed");
  const version = /PgBouncer\s+(\S+)/i.exec(spawnSync(bin, ["--version"]).stdout.toString())?.[1] ?? "?";

  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username || "postgres");
  const password = decodeURIComponent(server.password || "postgres");
  const port = await freePort();
  // pgbouncer refuses to run as root: it drops to `postgres` with -u, so the files must be world-readable.
  const dir = mkdtempSync(join(tmpdir(), "toko-bench-pgb-"));
  chmodSync(dir, 0o755);
  const q = (s: string) => `"${s.replaceAll('"', '""')}"`;
  writeFileSync(join(dir, "userlist.txt"), `${q(user)} ${q(password)}\n`, { mode: 0o644 });
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      // Wildcard: any database name is forwarded to the same server (the bench creates a fresh one).
      `* = host=${server.hostname} port=${server.port || 5432}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      // trust towards clients; the auth_file password is what pgbouncer presents to Postgres.
      "auth_type = trust",
      `auth_file = ${join(dir, "userlist.txt")}`,
      "pool_mode = transaction",
      `default_pool_size = ${POOL_SIZE}`,
      "max_client_conn = 4000",
      // The worker's pg client sends statement_timeout and lock_timeout as startup parameters, which pgbouncer
      // 1.18 would reject; ignoring it means the timeout is not enforced during the benchmark.
      "ignore_startup_parameters = extra_float_digits,statement_timeout,lock_timeout,options",
      "log_connections = 0",
      "log_disconnections = 0",
      "stats_period = 3600",
    ].join("\n"),
    { mode: 0o644 },
  );

  const args = process.getuid?.() === 0 ? ["-u", "postgres", join(dir, "pgbouncer.ini")] : [join(dir, "pgbouncer.ini")];
  const child: ChildProcess = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const url = new URL(serverUrl);
  url.hostname = "127.0.0.1";
  url.port = String(port);

  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) break;
    try {
      await withClient(url.toString(), (c) => c.query("SELECT 1"));
      return {
        url: url.toString(),
        label: `pgbouncer ${version} (transaction mode, ${POOL_SIZE} server conns)`,
        pooled: true,
        pid: child.pid,
        stop: async () => {
          if (child.exitCode === null) {
            child.kill("SIGTERM"); // pgbouncer: immediate shutdown
            await Promise.race([new Promise((r) => child.once("exit", r)), sleep(3000)]);
          }
          cleanup();
        },
      };
    } catch {
      await sleep(100);
    }
  }
  child.kill("SIGKILL");
  cleanup();
  return direct(`pgbouncer failed to start: ${stderr.trim().split("\n").slice(-3).join(" | ") || "no output"}`);
}
