import { createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createRoute, z } from "@hono/zod-openapi";
import { describe, expect, it, vi } from "vitest";
import type { IdempotencyStore } from "../durable-objects/idempotency-store.ts";
import { createApp } from "../src/app.ts";
import { applyGuards } from "../src/middleware/guards.ts";
import { api, createUser, expectProblem, jsonInit, sql, uniqueSuffix } from "./helpers.ts";

const admin = await createUser("ADMIN");
const store = (name: string) => env.IDEMPOTENCY_STORE.get(env.IDEMPOTENCY_STORE.idFromName(name));
const DAY3 = 259_200_000;

describe("IdempotencyStore Durable Object (one per principal, many keys)", () => {
  it("lease → complete → replay; other fingerprint → mismatch", async () => {
    const s = store(`unit:${uniqueSuffix()}`);
    const first = await s.begin("k1", "fp-1", 60_000, DAY3);
    expect(first.state).toBe("acquired");
    expect((await s.begin("k1", "fp-1", 60_000, DAY3)).state).toBe("in_flight");
    expect(
      await s.complete("k1", (first as { leaseId: string }).leaseId, {
        status: 201,
        headers: [["content-type", "application/json"]],
        body: '{"ok":true}',
      }),
    ).toBe(true);
    const again = await s.begin("k1", "fp-1", 60_000, DAY3);
    expect(again).toEqual({
      state: "replay",
      response: { status: 201, headers: [["content-type", "application/json"]], body: '{"ok":true}' },
    });
    expect((await s.begin("k1", "fp-2", 60_000, DAY3)).state).toBe("mismatch");
  });

  it("keys of one principal are independent of each other", async () => {
    const s = store(`keys:${uniqueSuffix()}`);
    const a = (await s.begin("a", "fp", 60_000, DAY3)) as { leaseId: string };
    // Another key, even with the same fingerprint, gets its own lease while `a` is in flight.
    const b = (await s.begin("b", "fp", 60_000, DAY3)) as { state: string; leaseId: string };
    expect(b.state).toBe("acquired");
    // A lease id of one key cannot complete or release another key.
    expect(await s.complete("b", a.leaseId, { status: 200, headers: [], body: "wrong" })).toBe(false);
    await s.release("b", a.leaseId);
    expect((await s.inspect("b"))?.state).toBe("in_flight");
    expect(await s.complete("a", a.leaseId, { status: 200, headers: [], body: "a" })).toBe(true);
    expect((await s.begin("a", "fp", 60_000, DAY3)).state).toBe("replay");
    expect((await s.begin("b", "fp", 60_000, DAY3)).state).toBe("in_flight");
    await s.release("b", b.leaseId);
    expect(await s.inspect("b")).toBeNull();
    expect((await s.begin("b", "other", 60_000, DAY3)).state).toBe("acquired");
  });

  it("exactly one of 50 concurrent same-key requests gets the lease", async () => {
    const s = store(`race:${uniqueSuffix()}`);
    const results = await Promise.all(Array.from({ length: 50 }, () => s.begin("same", "fp", 60_000, DAY3)));
    expect(results.filter((r) => r.state === "acquired")).toHaveLength(1);
    expect(results.filter((r) => r.state === "in_flight")).toHaveLength(49);
  });

  it("an expired lease can be taken over, and the old holder can no longer complete", async () => {
    const s = store(`lease:${uniqueSuffix()}`);
    const a = (await s.begin("k", "fp", 50, DAY3)) as { leaseId: string };
    await new Promise((r) => setTimeout(r, 80));
    const b = await s.begin("k", "fp", 60_000, DAY3);
    expect(b.state).toBe("acquired");
    expect(await s.complete("k", a.leaseId, { status: 200, headers: [], body: "stale" })).toBe(false);
  });

  it("keeps entries 72 h and deletes them with the alarm, keeping younger ones and re-arming for them", async () => {
    const s = store(`alarm:${uniqueSuffix()}`);
    const { leaseId } = (await s.begin("old", "fp", 60_000, DAY3)) as { leaseId: string };
    await s.complete("old", leaseId, { status: 200, headers: [], body: "x" });
    const entry = await s.inspect("old");
    const alarmAt = await runInDurableObject(s, (_i: IdempotencyStore, state: DurableObjectState) => state.storage.getAlarm());
    expect((alarmAt ?? 0) - (entry?.createdAt ?? 0)).toBe(DAY3);
    expect(entry?.expiresAt).toBe(alarmAt);
    // A second key created now expires later; make the first one due, as if 72 h had passed.
    await s.begin("young", "fp", 60_000, DAY3);
    await runInDurableObject(s, async (_i: IdempotencyStore, state: DurableObjectState) => {
      state.storage.sql.exec("UPDATE idem SET expires_at = ? WHERE key = 'old'", Date.now() - 1);
      await state.storage.setAlarm(Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(s)).toBe(true);
    expect(await s.inspect("old")).toBeNull();
    const young = await s.inspect("young");
    expect(young).not.toBeNull();
    const next = await runInDurableObject(s, (_i: IdempotencyStore, state: DurableObjectState) => state.storage.getAlarm());
    expect(next).toBe(young?.expiresAt);
    expect((await s.begin("old", "fp", 60_000, DAY3)).state).toBe("acquired");
  });
});

describe("Idempotency-Key on a real route (admin product create)", () => {
  const create = (key: string | undefined, body: unknown) =>
    api("/api/v1/admin/products", jsonInit("POST", body, { ...admin.auth, ...(key === undefined ? {} : { "Idempotency-Key": key }) }));
  const body = () => ({ sku: `IDEM-${uniqueSuffix().toUpperCase()}`, name: "Idem", price_cents: 100, currency: "USD" });

  it("replays the stored response with Idempotent-Replayed: true", async () => {
    const key = `key-${uniqueSuffix()}`;
    const b = body();
    const first = await create(key, b);
    expect(first.status).toBe(201);
    const firstBody = await first.text();
    const second = await create(key, b);
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.headers.get("location")).toBe(first.headers.get("location"));
    expect(await second.text()).toBe(firstBody);
    expect(await sql("SELECT 1 FROM products WHERE sku = $1", [b.sku])).toHaveLength(1);
  });

  it("50 concurrent same-key POSTs → exactly one execution; the rest 409 or replays", async () => {
    const key = `burst-${uniqueSuffix()}`;
    const b = body();
    const results = await Promise.all(Array.from({ length: 50 }, () => create(key, b)));
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    const executed = results.filter((r) => r.status === 201 && r.headers.get("idempotent-replayed") !== "true");
    expect(executed).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 409)) expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await sql("SELECT 1 FROM products WHERE sku = $1", [b.sku])).toHaveLength(1);
  });

  it("same key, different body → 422", async () => {
    const key = `reuse-${uniqueSuffix()}`;
    expect((await create(key, body())).status).toBe(201);
    const p = await expectProblem(await create(key, body()), 422);
    expect(p.code).toBe("idempotency_key_reused");
  });

  it("a request refused by validation is not stored: the key stays usable", async () => {
    const key = `val-${uniqueSuffix()}`;
    await expectProblem(await create(key, { ...body(), price_cents: -1 }), 400);
    expect((await create(key, body())).status).toBe(201);
  });

  it("keys are scoped per caller", async () => {
    const other = await createUser("ADMIN");
    const key = `scope-${uniqueSuffix()}`;
    expect((await create(key, body())).status).toBe(201);
    const res = await api("/api/v1/admin/products", jsonInit("POST", body(), { ...other.auth, "Idempotency-Key": key }));
    expect(res.status).toBe(201);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
  });

  it.each([["x".repeat(256)], ["tab\there"], ["é-accent"], [""]])("rejects the key %j with 400", async (key) => {
    const p = await expectProblem(await create(key, body()), 400, "validation_error");
    expect(p.errors?.[0]).toMatchObject({ field: "Idempotency-Key", in: "header" });
  });
});

describe("Idempotency-Key required, 5xx and store failures (probe route on the real app)", () => {
  let runs = 0;
  const app = createApp();
  applyGuards(app, [{ method: "POST", path: "/__probe/pay", idempotency: "required" }]);
  app.openapi(
    createRoute({
      method: "post",
      path: "/__probe/pay",
      request: { body: { required: true, content: { "application/json": { schema: z.object({ fail: z.boolean() }) } } } },
      responses: { 200: { description: "ok" } },
    }),
    (c) => {
      runs++;
      if (c.req.valid("json").fail) throw new Error("provider down");
      return c.json({ run: runs }, 200);
    },
  );
  const call = async (key: string | undefined, fail: boolean, bindings: Env = env) => {
    const ctx = createExecutionContext();
    const res = await app.request("/__probe/pay", jsonInit("POST", { fail }, key ? { "Idempotency-Key": key } : {}), bindings, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };

  it("missing key on a required route → 400", async () => {
    const p = await expectProblem(await call(undefined, false), 400);
    expect(p.errors?.[0]?.field).toBe("Idempotency-Key");
  });

  it("a 5xx is not stored: the retry runs again", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const key = `5xx-${uniqueSuffix()}`;
    await expectProblem(await call(key, true), 500);
    // Same fingerprint is required for a retry, so the retry sends the same body.
    const before = runs;
    await expectProblem(await call(key, true), 500);
    vi.restoreAllMocks();
    expect(runs).toBe(before + 1);
  });

  it("refuses with 503 when the store is unavailable (no exactly-once without it)", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const broken = { idFromName: () => ({}), get: () => ({ begin: () => Promise.reject(new Error("gone")) }) };
    const before = runs;
    const res = await call(`down-${uniqueSuffix()}`, false, { ...env, IDEMPOTENCY_STORE: broken } as unknown as Env);
    vi.restoreAllMocks();
    await expectProblem(res, 503);
    expect(runs).toBe(before);
  });
});
