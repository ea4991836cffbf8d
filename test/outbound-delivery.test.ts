/**
 * Outbound webhook delivery: Standard Webhooks signatures (verified by the official library), the
 * retry schedule and its per-message delays, Retry-After, 410, dead letters, the 5-day disable, the
 * per-endpoint breaker and concurrency cap, the timeout. Most cases drive the delivery consumer
 * directly with a capturing queue (each retry is a captured message; "time passes" by making the
 * delivery due); one goes through the real queue with its real per-message delays.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { retryAfterSec, scheduledWait } from "../src/services/webhook-request.ts";
import { api, apiSettled, createUser, expectProblem, jsonInit, sql } from "./helpers.ts";
import {
  answers,
  captureQueue,
  deliveryRow,
  deliveryState,
  endpointRow,
  makeDue,
  type Received,
  runQueue,
  type Stub,
  SVIX,
  stubNetwork,
  verifyWith,
} from "./outbound-helpers.ts";
import { eventually } from "./payments.helpers.ts";

const admin = await createUser("ADMIN");
let net: Stub;
let host: string;
let url: string;

beforeEach(() => {
  net = stubNetwork();
  host = `r${crypto.randomUUID().slice(0, 8)}.hooks.test`;
  url = `https://${host}/webhooks`;
  net.dns.set(host, { A: ["93.184.216.34"] });
});
afterEach(() => vi.restoreAllMocks());

/** Bindings for a directly driven consumer: retries land in `queue`; the Svix schedule unless overridden. */
function bindings(queue: ReturnType<typeof captureQueue>, vars: Record<string, string> = {}): Env {
  return { ...env, WEBHOOK_DELIVERIES: queue, WEBHOOK_RETRY_SCHEDULE_SEC: SVIX, ...vars } as unknown as Env;
}

const deliver = (id: string, b: Env) => runQueue("toko-webhook-deliveries", [{ kind: "webhook-delivery", delivery_id: id }], b);

describe("signatures and the retry schedule", () => {
  it("500, 500, 200: the receiver gets the event exactly once, every attempt with the same webhook-id and a valid signature", async () => {
    const ep = await endpointRow(url);
    net.routes.set(`https://${host}/`, answers(500, 500, 200));
    const processed = new Map<string, number>();
    const id = await deliveryRow(ep.id, "test.order_paid", { order_id: "o-1", total_cents: 2500 });
    const q = captureQueue();
    const b = bindings(q);

    const first = await deliver(id, b);
    expect(first.explicitAcks).toHaveLength(1);
    let s = await deliveryState(id);
    expect(s).toMatchObject({ status: "PENDING", attempts: 1, last_status: 500 });
    // Svix: 5 s before the second attempt, ±10 % jitter, in whole seconds; the queue message carries the delay.
    expect(q.sent).toHaveLength(1);
    expect(q.sent[0]?.delaySeconds).toBeGreaterThanOrEqual(5);
    expect(q.sent[0]?.delaySeconds).toBeLessThanOrEqual(6);
    expect(s?.next_in_sec).toBeGreaterThan(3.5);

    // A duplicate of the first message, before the retry is due: nothing is sent.
    await deliver(id, b);
    expect(net.received).toHaveLength(1);

    await makeDue(id);
    await deliver((q.sent[0]?.body as { delivery_id: string } | undefined)?.delivery_id ?? "missing", b);
    s = await deliveryState(id);
    expect(s).toMatchObject({ status: "PENDING", attempts: 2 });
    expect(q.sent[1]?.delaySeconds).toBeGreaterThanOrEqual(270); // 5 min ± 10 %
    expect(q.sent[1]?.delaySeconds).toBeLessThanOrEqual(330);

    await makeDue(id);
    await deliver(id, b);
    expect(await deliveryState(id)).toMatchObject({ status: "DELIVERED", attempts: 3, last_status: 200 });
    expect(q.sent).toHaveLength(2); // nothing after the success
    // Later duplicates change nothing.
    await deliver(id, b);

    expect(net.received).toHaveLength(3);
    const ids = new Set(net.received.map((r) => r.headers.get("webhook-id")));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toBe(`msg_${id.replaceAll("-", "")}`);
    for (const [i, req] of net.received.entries()) {
      const body = await verifyWith(ep.secret, req);
      expect(body).toMatchObject({ type: "test.order_paid", data: { order_id: "o-1", total_cents: 2500 } });
      expect(req.headers.get("content-type")).toBe("application/json");
      // A receiver that de-duplicates on webhook-id and only counts what it answered 2xx to.
      if (i === 2)
        processed.set(req.headers.get("webhook-id") as string, (processed.get(req.headers.get("webhook-id") as string) ?? 0) + 1);
    }
    expect([...processed.values()]).toEqual([1]);
    // The same body on every attempt (only webhook-timestamp and the signature change).
    expect(new Set(net.received.map((r) => r.body)).size).toBe(1);

    // The delivery log shows every attempt: status, duration, code, the start of the answer, the next attempt.
    const log = (await (await api(`/api/v1/admin/webhook-endpoints/${ep.id}/deliveries`, { headers: admin.auth })).json()) as {
      data: {
        id: string;
        status: string;
        attempt_log: {
          outcome: string;
          response_status: number;
          response_body: string;
          next_attempt_at: string | null;
          duration_ms: number;
        }[];
      }[];
    };
    const entry = log.data.find((d) => d.id === id);
    expect(entry?.status).toBe("DELIVERED");
    expect(entry?.attempt_log.map((a) => [a.outcome, a.response_status, a.response_body])).toEqual([
      ["retry", 500, "answer 500"],
      ["retry", 500, "answer 500"],
      ["delivered", 200, "answer 200"],
    ]);
    expect(entry?.attempt_log[0]?.next_attempt_at).toBeTruthy();
    expect(entry?.attempt_log[2]?.next_attempt_at).toBeNull();
  });

  it("through the real queue: 500, 500, 200 arrive spaced by the per-message delays (test schedule 0,1,2,2 s)", async () => {
    const ep = await endpointRow(url);
    const times: number[] = [];
    const seq = answers(500, 500, 200);
    net.routes.set(`https://${host}/`, (req) => {
      times.push(Date.now());
      return seq(req);
    });
    const ping = await api(`/api/v1/admin/webhook-endpoints/${ep.id}/test`, { method: "POST", headers: admin.auth });
    expect(ping.status).toBe(202);
    const { delivery_id, webhook_id } = (await ping.json()) as { delivery_id: string; webhook_id: string };
    await eventually(async () => (await deliveryState(delivery_id))?.status === "DELIVERED", 20_000);
    expect(net.received.map((r) => r.headers.get("webhook-id"))).toEqual([webhook_id, webhook_id, webhook_id]);
    for (const req of net.received) expect(await verifyWith(ep.secret, req)).toMatchObject({ type: "ping" });
    // Waits of 1 s and 2 s (−10 % jitter, rounded up): never sooner.
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(900);
    expect((times[2] as number) - (times[1] as number)).toBeGreaterThanOrEqual(1800);
  });

  it("the schedule is Svix's with ±10 % jitter, and Retry-After reads seconds or a date", () => {
    const svix = SVIX.split(",").map(Number);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => scheduledWait(svix, n, () => 0.5))).toEqual([0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(scheduledWait(svix, 3, () => 0)).toBe(270);
    expect(scheduledWait(svix, 3, () => 0.999)).toBe(330);
    expect(scheduledWait(svix, 9)).toBeNull(); // 8 attempts in all
    expect(retryAfterSec("120")).toBe(120);
    expect(retryAfterSec(new Date(Date.now() + 90_000).toUTCString())).toBeGreaterThanOrEqual(88);
    expect(retryAfterSec("soon")).toBeNull();
  });
});

describe("receiver answers", () => {
  it("429 with Retry-After: the next attempt waits that long (longer than the schedule), capped at the queue's 12 h", async () => {
    const ep = await endpointRow(url);
    net.routes.set(
      `https://${host}/`,
      answers([429, { "retry-after": "120" }], [503, { "retry-after": "999999" }], [429, { "retry-after": "1" }]),
    );
    const id = await deliveryRow(ep.id);
    const q = captureQueue();
    await deliver(id, bindings(q));
    expect(q.sent[0]?.delaySeconds).toBe(120);
    expect((await deliveryState(id))?.next_in_sec).toBeGreaterThan(115);
    await makeDue(id);
    await deliver(id, bindings(q));
    expect(q.sent[1]?.delaySeconds).toBe(43_200);
    await makeDue(id);
    await deliver(id, bindings(q));
    // Retry-After shorter than the schedule (30 min ± 10 %): the schedule wins.
    expect(q.sent[2]?.delaySeconds).toBeGreaterThanOrEqual(1620);
  });

  it("410 Gone disables the endpoint at once: no retry, the admins are told (outbox event), its other deliveries are not sent", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const ep = await endpointRow(url);
    net.routes.set(`https://${host}/`, answers(410));
    const [gone, other] = [await deliveryRow(ep.id), await deliveryRow(ep.id)];
    const q = captureQueue();
    await deliver(gone, bindings(q));
    expect(await deliveryState(gone)).toMatchObject({ status: "FAILED", attempts: 1, last_status: 410 });
    expect(q.sent).toHaveLength(0);
    const [row] = await sql<{ enabled: boolean; disabled_reason: string }>(
      "SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = $1",
      [ep.id],
    );
    expect(row).toMatchObject({ enabled: false, disabled_reason: expect.stringMatching(/410 Gone/) });
    const events = await sql<{ payload: { endpoint_id: string } }>(
      "SELECT payload FROM outbox WHERE event_type = 'webhook_endpoint.disabled' AND aggregate_id = $1",
      [ep.id],
    );
    expect(events).toHaveLength(1);
    expect(await sql("SELECT 1 FROM dead_letters WHERE message_key = $1", [`delivery:${gone}`])).toHaveLength(0);
    await deliver(other, bindings(q));
    expect(net.received).toHaveLength(1);
    expect(await deliveryState(other)).toMatchObject({ status: "CANCELLED", attempts: 0, last_error: "endpoint disabled" });
  });

  it("a receiver that does not answer within WEBHOOK_TIMEOUT_MS is a failed attempt", async () => {
    const ep = await endpointRow(url);
    net.routes.set(`https://${host}/`, () => new Promise((r) => setTimeout(() => r(new Response("late")), 4000)));
    const id = await deliveryRow(ep.id);
    const started = Date.now();
    await deliver(id, bindings(captureQueue(), { WEBHOOK_TIMEOUT_MS: "1000" }));
    expect(Date.now() - started).toBeLessThan(3500);
    expect(await deliveryState(id)).toMatchObject({ status: "PENDING", attempts: 1, last_error: "timeout after 1000 ms" });
  });
});

describe("giving up", () => {
  it("after the last attempt the delivery is FAILED and a dead letter in the admin queue API; replaying it delivers", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {}); // the dead-lettering is logged at error, as it should be
    const ep = await endpointRow(url);
    let up = false;
    net.routes.set(`https://${host}/`, (req) => answers(up ? 200 : 500)(req));
    const id = await deliveryRow(ep.id);
    const b = bindings(captureQueue(), { WEBHOOK_RETRY_SCHEDULE_SEC: "0,5" });
    await deliver(id, b);
    await makeDue(id);
    await deliver(id, b);
    expect(await deliveryState(id)).toMatchObject({ status: "FAILED", attempts: 2 });
    const list = (await (
      await api("/api/v1/admin/queue/dlq?status=DEAD&queue=toko-webhook-deliveries&limit=100", { headers: admin.auth })
    ).json()) as {
      data: { id: string; message_key: string; attempts: number; last_error: string; body: unknown }[];
    };
    const dead = list.data.find((d) => d.message_key === `delivery:${id}`);
    expect(dead).toMatchObject({ attempts: 2, last_error: "HTTP 500", body: { kind: "webhook-delivery", delivery_id: id } });
    const stats = (await (await api("/api/v1/admin/queue/stats", { headers: admin.auth })).json()) as Record<string, number>;
    expect(stats.webhook_deliveries_failed).toBeGreaterThanOrEqual(1);

    up = true;
    const replay = await api(`/api/v1/admin/queue/dlq/${dead?.id}/replay`, { method: "POST", headers: admin.auth });
    expect(replay.status).toBe(202);
    await eventually(async () => (await deliveryState(id))?.status === "DELIVERED", 15_000);
    expect(new Set(net.received.map((r) => r.headers.get("webhook-id"))).size).toBe(1);
    const [dl] = await sql<{ status: string }>("SELECT status::text AS status FROM dead_letters WHERE id = $1", [dead?.id]);
    expect(dl?.status).toBe("REPLAYED");
  });

  it("an endpoint failing for 5 days is disabled and the admins notified; 4 days is not enough; a success resets the clock", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const young = await endpointRow(url);
    const old = await endpointRow(url);
    await sql("UPDATE webhook_endpoints SET failing_since = now() - interval '4 days' WHERE id = $1", [young.id]);
    await sql("UPDATE webhook_endpoints SET failing_since = now() - interval '5 days 1 minute' WHERE id = $1", [old.id]);
    net.routes.set(`https://${host}/`, answers(500));
    const b = bindings(captureQueue());
    await deliver(await deliveryRow(young.id), b);
    await deliver(await deliveryRow(old.id), b);
    const rows = await sql<{ id: string; enabled: boolean; disabled_reason: string | null }>(
      "SELECT id, enabled, disabled_reason FROM webhook_endpoints WHERE id = ANY($1::uuid[])",
      [[young.id, old.id]],
    );
    expect(rows.find((r) => r.id === young.id)).toMatchObject({ enabled: true, disabled_reason: null });
    expect(rows.find((r) => r.id === old.id)).toMatchObject({
      enabled: false,
      disabled_reason: expect.stringMatching(/failed for 5 days/),
    });
    expect(await sql("SELECT 1 FROM outbox WHERE event_type = 'webhook_endpoint.disabled' AND aggregate_id = $1", [old.id])).toHaveLength(
      1,
    );
    expect(errors.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/webhook endpoint disabled.*"endpoint_id":"[^"]*"/);

    net.routes.set(`https://${host}/`, answers(200));
    await deliver(await deliveryRow(young.id), b);
    const [y] = await sql<{ failing_since: string | null }>("SELECT failing_since FROM webhook_endpoints WHERE id = $1", [young.id]);
    expect(y?.failing_since).toBeNull();
  });
});

describe("one slow or failing receiver cannot take the consumer (breaker and cap per endpoint, a Durable Object)", () => {
  it("after WEBHOOK_BREAKER_THRESHOLD consecutive failures the endpoint's deliveries are held back without an attempt", async () => {
    const ep = await endpointRow(url);
    net.routes.set(`https://${host}/`, answers(503));
    const q = captureQueue();
    const b = bindings(q, { WEBHOOK_BREAKER_THRESHOLD: "2", WEBHOOK_BREAKER_OPEN_SEC: "60" });
    await deliver(await deliveryRow(ep.id), b);
    await deliver(await deliveryRow(ep.id), b);
    expect(net.received).toHaveLength(2);
    const held = await deliveryRow(ep.id);
    q.sent.length = 0;
    await deliver(held, b);
    expect(net.received).toHaveLength(2); // not attempted
    expect(await deliveryState(held)).toMatchObject({ status: "PENDING", attempts: 0 });
    expect(q.sent).toHaveLength(1);
    expect(q.sent[0]?.delaySeconds).toBeGreaterThanOrEqual(55); // until the breaker half-opens
  });

  it("a fast receiver gets a whole batch through its few slots (reused), never more than the cap at once", async () => {
    const ep = await endpointRow(url);
    let inFlight = 0;
    let peak = 0;
    net.routes.set(`https://${host}/`, async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      return new Response("ok");
    });
    const ids = await Promise.all([1, 2, 3, 4, 5, 6, 7].map(() => deliveryRow(ep.id)));
    const q = captureQueue();
    await runQueue(
      "toko-webhook-deliveries",
      ids.map((id) => ({ kind: "webhook-delivery", delivery_id: id })),
      bindings(q, { WEBHOOK_ENDPOINT_CONCURRENCY: "2" }),
    );
    expect(peak).toBe(2);
    expect((await Promise.all(ids.map(deliveryState))).every((s) => s?.status === "DELIVERED")).toBe(true);
    expect(q.sent).toHaveLength(0);
  });

  it("at most WEBHOOK_ENDPOINT_CONCURRENCY attempts in flight to a slow endpoint; the rest wait in the queue, others go on", async () => {
    const slow = await endpointRow(url);
    const fastHost = `f${crypto.randomUUID().slice(0, 8)}.hooks.test`;
    net.dns.set(fastHost, { A: ["93.184.216.34"] });
    const fast = await endpointRow(`https://${fastHost}/hook`);
    let inFlight = 0;
    let peak = 0;
    net.routes.set(`https://${host}/`, async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 1200));
      inFlight--;
      return new Response("ok");
    });
    net.routes.set(`https://${fastHost}/`, answers(200));
    const slowIds = await Promise.all([1, 2, 3, 4, 5].map(() => deliveryRow(slow.id)));
    const fastId = await deliveryRow(fast.id);
    const q = captureQueue();
    await runQueue(
      "toko-webhook-deliveries",
      [...slowIds, fastId].map((id) => ({ kind: "webhook-delivery", delivery_id: id })),
      bindings(q, { WEBHOOK_ENDPOINT_CONCURRENCY: "2" }),
    );
    expect(peak).toBe(2);
    const states = await Promise.all(slowIds.map(deliveryState));
    expect(states.filter((s) => s?.status === "DELIVERED")).toHaveLength(2);
    expect(states.filter((s) => s?.status === "PENDING" && s.attempts === 0)).toHaveLength(3);
    expect(q.sent.map((m) => (m.body as { delivery_id: string }).delivery_id).sort()).toEqual(
      states.flatMap((s, i) => (s?.status === "PENDING" ? [slowIds[i]] : [])).sort(),
    );
    expect(await deliveryState(fastId)).toMatchObject({ status: "DELIVERED" });
  });
});

describe("rotation", () => {
  it("after rotate-secret both secrets sign (the official library verifies either); after the grace period only the new one", async () => {
    const res = await apiSettled(
      "/api/v1/admin/webhook-endpoints",
      jsonInit("POST", { url, events: ["order.created"], description: "rotation" }, admin.auth),
    );
    expect(res.status).toBe(201);
    const ep = (await res.json()) as { id: string; secret: string };
    // Keep other suites' order events away from it (they run in other runtimes on the same database).
    await sql("UPDATE webhook_endpoints SET events = ARRAY['test.rotation'] WHERE id = $1", [ep.id]);
    net.routes.set(`https://${host}/`, answers(200));
    const rot = await api(`/api/v1/admin/webhook-endpoints/${ep.id}/rotate-secret`, { method: "POST", headers: admin.auth });
    expect(rot.status).toBe(200);
    expect(rot.headers.get("cache-control")).toBe("no-store");
    const rotated = (await rot.json()) as { secret: string; previous_secret_expires_at: string };
    expect(rotated.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(rotated.secret).not.toBe(ep.secret);
    expect(Date.parse(rotated.previous_secret_expires_at) - Date.now()).toBeGreaterThan(86_000_000); // 24 h grace

    const b = bindings(captureQueue());
    await deliver(await deliveryRow(ep.id, "test.rotation"), b);
    const during = net.received[0] as Received;
    expect(during.headers.get("webhook-signature")?.split(" ")).toHaveLength(2);
    expect(await verifyWith(ep.secret, during)).toMatchObject({ type: "test.rotation" });
    expect(await verifyWith(rotated.secret, during)).toMatchObject({ type: "test.rotation" });

    await sql("UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second' WHERE id = $1", [ep.id]);
    await deliver(await deliveryRow(ep.id, "test.rotation"), b);
    const after = net.received[1] as Received;
    expect(after.headers.get("webhook-signature")?.split(" ")).toHaveLength(1);
    expect(await verifyWith(rotated.secret, after)).toMatchObject({ type: "test.rotation" });
    await expect(verifyWith(ep.secret, after)).rejects.toThrow();
    await sql("DELETE FROM webhook_endpoints WHERE id = $1", [ep.id]);
  });
});

describe("delivery log, retry and replay (ADMIN)", () => {
  it("retry makes one more attempt with the same webhook-id; a disabled endpoint is a 409; unknown ids are 404", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {}); // schedule "0": the first failure is dead-lettered (logged)
    const ep = await endpointRow(url);
    net.routes.set(`https://${host}/`, answers(500, 200));
    const id = await deliveryRow(ep.id);
    await deliver(id, bindings(captureQueue(), { WEBHOOK_RETRY_SCHEDULE_SEC: "0" }));
    expect(await deliveryState(id)).toMatchObject({ status: "FAILED", attempts: 1 });
    const retry = await api(`/api/v1/admin/webhook-deliveries/${id}/retry`, { method: "POST", headers: admin.auth });
    expect(retry.status).toBe(202);
    await eventually(async () => (await deliveryState(id))?.status === "DELIVERED", 15_000);
    expect(new Set(net.received.map((r) => r.headers.get("webhook-id"))).size).toBe(1);
    await expectProblem(
      await api(`/api/v1/admin/webhook-deliveries/${crypto.randomUUID()}/retry`, { method: "POST", headers: admin.auth }),
      404,
    );
    await sql("UPDATE webhook_endpoints SET enabled = false WHERE id = $1", [ep.id]);
    await expectProblem(
      await api(`/api/v1/admin/webhook-deliveries/${id}/retry`, { method: "POST", headers: admin.auth }),
      409,
      "webhook_endpoint_disabled",
    );
  });

  it("replay {since}: what failed, was cancelled, or never reached the endpoint while it was disabled is delivered; nothing older", async () => {
    const type = `test.${crypto.randomUUID()}`;
    const ep = await endpointRow(url, { events: [type] });
    await sql("UPDATE webhook_endpoints SET enabled = false WHERE id = $1", [ep.id]);
    // Three published events of its type: one older than `since`, one that failed, one it never got.
    const event = async (age: string) => {
      const [o] = await sql<{ id: number }>(
        `INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, created_at, published_at)
         VALUES ('order', gen_random_uuid(), $1, '{"n":1}', now() - $2::interval, now()) RETURNING id::int`,
        [type, age],
      );
      const [m] = await sql<{ id: string }>(
        "INSERT INTO webhook_messages (outbox_id, event_type, payload, occurred_at) SELECT id, event_type, payload, created_at FROM outbox WHERE id = $1 RETURNING id",
        [o?.id],
      );
      return m?.id as string;
    };
    const tooOld = await event("2 hours");
    const failedMsg = await event("10 minutes");
    const missed = await event("5 minutes");
    await sql("INSERT INTO webhook_deliveries (message_id, endpoint_id, status, attempts) VALUES ($1, $2, 'FAILED', 8)", [
      failedMsg,
      ep.id,
    ]);
    const since = new Date(Date.now() - 3_600_000).toISOString();
    await expectProblem(
      await api(`/api/v1/admin/webhook-endpoints/${ep.id}/replay`, jsonInit("POST", { since }, admin.auth)),
      409,
      "webhook_endpoint_disabled",
    );
    await sql("UPDATE webhook_endpoints SET enabled = true WHERE id = $1", [ep.id]);
    net.routes.set(`https://${host}/`, answers(200));
    const res = await api(`/api/v1/admin/webhook-endpoints/${ep.id}/replay`, jsonInit("POST", { since }, admin.auth));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ replayed: 2 });
    await eventually(async () => net.received.length >= 2, 15_000);
    const got = await Promise.all(net.received.map((r) => verifyWith(ep.secret, r)));
    expect(got.map((g) => g.type)).toEqual([type, type]);
    const rows = await sql<{ message_id: string; status: string }>(
      "SELECT message_id, status::text AS status FROM webhook_deliveries WHERE endpoint_id = $1",
      [ep.id],
    );
    expect(rows.map((r) => r.message_id).sort()).toEqual([failedMsg, missed].sort());
    expect(rows.map((r) => r.message_id)).not.toContain(tooOld);
  });
});
