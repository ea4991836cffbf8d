/** Shared test helpers: call the worker, talk to the test database, check problem documents. */
import { createExecutionContext, createScheduledController, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import pg from "pg";
import { expect } from "vitest";
import type { IdempotencyStore } from "../durable-objects/idempotency-store.ts";
import worker from "../src/index.ts";

export const BASE = "https://toko.test";

/** A request through the worker's real entry (same path as production traffic). */
export function api(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}${path}`, init));
}

/** Calls the handler directly and waits for its waitUntil work (cache writes) to finish. */
export async function apiSettled(path: string, init?: RequestInit, bindings: Env = env): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${BASE}${path}`, init), bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** Runs the Cron Trigger `cron` through the worker's real `scheduled()` entry and waits for it. */
export async function runCron(cron: string, bindings: Env = env): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled?.(createScheduledController({ cron, scheduledTime: Date.now() }), bindings, ctx);
  await waitOnExecutionContext(ctx);
}

/** Bindings with zone purge by Cache-Tag configured, against a stub API (tests mock fetch for it). */
export const ZONE = "0123456789abcdef0123456789abcdef";
export const purgeEnv = {
  ...env,
  CLOUDFLARE_ZONE_ID: ZONE,
  CLOUDFLARE_API_TOKEN: "test-purge-token-0123456789",
  CLOUDFLARE_API_BASE: "https://purge.stub/client/v4",
} as Env;

/** A direct connection to the test database (bypassing the API), closed by the caller. */
export async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: env.HYPERDRIVE_FRESH.connectionString });
  c.on("error", () => {});
  await c.connect();
  return c;
}

export async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  const c = await connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end().catch(() => {});
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  instance: string;
  request_id: string;
  errors?: { field: string; in: string; code: string; message: string }[];
  [k: string]: unknown;
}

/** Asserts an RFC 9457 problem with the given status and returns its body. */
export async function expectProblem(res: Response, status: number, code?: string): Promise<Problem> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = (await res.json()) as Problem;
  expect(body.status).toBe(status);
  // One typed code per problem; its type URI names the same code.
  expect(body.type).toBe(`https://toko-edge.dev/problems/${body.code.replaceAll("_", "-")}`);
  expect(body.title).toBeTruthy();
  expect(body.request_id).toBe(res.headers.get("x-request-id"));
  if (code) expect(body.code).toBe(code);
  const text = JSON.stringify(body);
  expect(text).not.toMatch(/at .+\.(ts|js):\d+|node_modules|stack/i);
  return body;
}

export function uniqueSuffix(): string {
  return crypto.randomUUID().slice(0, 8);
}

export interface TestUser {
  id: string;
  email: string;
  password: string;
  role: "ADMIN" | "USER";
  token: string;
  auth: Record<string, string>;
}

/** Creates an account directly in the database and mints a token with the app's own issuer. */
export async function createUser(role: "ADMIN" | "USER" = "USER"): Promise<TestUser> {
  const { hashPassword } = await import("../src/lib/password.ts");
  const { issueAccessToken } = await import("../src/lib/tokens.ts");
  const { loadConfig } = await import("../src/config.ts");
  const email = `${role.toLowerCase()}-${uniqueSuffix()}@example.com`;
  const password = `pw-${crypto.randomUUID()}`;
  const [row] = await sql<{ id: string }>("INSERT INTO users (email, password_hash, role) VALUES ($1, $2, $3) RETURNING id", [
    email,
    await hashPassword(password, 1000),
    role,
  ]);
  const id = row?.id as string;
  const { token } = await issueAccessToken(loadConfig(env), { userId: id, role });
  return { id, email, password, role, token, auth: { Authorization: `Bearer ${token}` } };
}

export function jsonInit(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method, body: JSON.stringify(body), headers: { "Content-Type": "application/json", ...headers } };
}

/** What a 503 after an unacknowledged COMMIT leaves behind: the key released in the store (the write committed). */
export async function forgetIdempotencyKey(userId: string, key: string): Promise<void> {
  const stub = env.IDEMPOTENCY_STORE.get(env.IDEMPOTENCY_STORE.idFromName(userId));
  await runInDurableObject(stub, (_i: IdempotencyStore, state: DurableObjectState) => {
    state.storage.sql.exec("DELETE FROM idem WHERE key = ?", key);
  });
  if ((await stub.inspect(key)) !== null) throw new Error("the key is still there");
}
