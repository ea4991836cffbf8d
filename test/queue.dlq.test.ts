import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { PaymentEventMessage } from "../queues/messages.ts";
import worker from "../src/index.ts";
import { api, createUser, expectProblem, jsonInit, sql } from "./helpers.ts";
import { eventually, orderStatus, pendingOrder } from "./payments.helpers.ts";

const admin = await createUser("ADMIN");

/** A stored sandbox event for `paymentId` (which may not exist yet: a poison message). */
async function storedEvent(paymentId: string, type = "payment.succeeded"): Promise<PaymentEventMessage> {
  const eventId = `evt_sbx_${crypto.randomUUID().replaceAll("-", "")}`;
  // The amount and currency of pendingOrder()'s default order: settlement checks them.
  const data = { payment_id: paymentId, amount_cents: 2500, currency: "USD" };
  const [row] = await sql<{ id: string }>(
    "INSERT INTO webhook_events (provider, event_id, type, payload) VALUES ('sandbox', $1, $2, $3::jsonb) RETURNING id",
    [eventId, type, JSON.stringify({ id: eventId, type, data })],
  );
  return { kind: "payment-event", webhook_event_id: row?.id as string, provider: "sandbox", event_id: eventId };
}

async function initiatedPayment(): Promise<{ orderId: string; paymentId: string }> {
  const u = await createUser();
  const order = await pendingOrder(u);
  const [p] = await sql<{ id: string }>(
    "INSERT INTO payments (order_id, user_id, provider, provider_ref, amount_cents, currency) VALUES ($1, $2, 'sandbox', $3, $4, 'USD') RETURNING id",
    [order.id, u.id, `sbx_${crypto.randomUUID()}`, order.total],
  );
  return { orderId: order.id, paymentId: p?.id as string };
}

describe("payment-events consumer", () => {
  it("acks good messages and retries only the one that failed (message k of a batch)", async () => {
    const good1 = await storedEvent((await initiatedPayment()).paymentId);
    const poison = await storedEvent(crypto.randomUUID());
    const good2 = await storedEvent((await initiatedPayment()).paymentId);
    const batch = createMessageBatch("toko-payment-events", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: good1 },
      { id: "m2", timestamp: new Date(), attempts: 1, body: poison },
      { id: "m3", timestamp: new Date(), attempts: 1, body: good2 },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryBatch.retry).toBe(false);
    expect(result.explicitAcks.sort()).toEqual(["m1", "m3"]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m2"]);
  });

  it("re-processing a settled event is a no-op (replays cannot double-apply)", async () => {
    const { orderId, paymentId } = await initiatedPayment();
    const msg = await storedEvent(paymentId);
    for (let i = 0; i < 3; i++) {
      const batch = createMessageBatch("toko-payment-events", [{ id: `r${i}`, timestamp: new Date(), attempts: 1, body: msg }]);
      const ctx = createExecutionContext();
      await worker.queue(batch, env, ctx);
      expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([`r${i}`]);
    }
    expect(await orderStatus(orderId)).toBe("PAID");
    const [h] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM order_status_history WHERE order_id = $1 AND to_status = 'PAID'", [
      orderId,
    ]);
    expect(h?.n).toBe(1);
  });

  it("a poison message reaches the DLQ after exactly max_retries + 1 attempts, is listed, and replays once fixed", async () => {
    const missingPayment = crypto.randomUUID();
    const msg = await storedEvent(missingPayment);
    await env.PAYMENT_EVENTS.send(msg, { contentType: "json" });
    const dead = await eventually(
      async () =>
        (
          await sql<{ id: string; attempts: number }>("SELECT id, attempts FROM dead_letters WHERE message_key = $1", [
            `webhook:${msg.webhook_event_id}`,
          ])
        )[0],
      40_000,
    );
    expect(dead.attempts).toBe(4); // max_retries = 3 in wrangler.toml
    const [ev] = await sql<{ status: string; attempts: number; last_error: string }>(
      "SELECT status::text AS status, attempts, last_error FROM webhook_events WHERE id = $1",
      [msg.webhook_event_id],
    );
    expect(ev).toMatchObject({ status: "FAILED", attempts: 4, last_error: expect.stringContaining("no payment matches") });

    const list = (await (await api("/api/v1/admin/queue/dlq?status=DEAD&limit=100", { headers: admin.auth })).json()) as {
      data: { id: string; attempts: number }[];
    };
    expect(list.data.find((d) => d.id === dead.id)).toMatchObject({ attempts: 4 });
    const stats = (await (await api("/api/v1/admin/queue/stats", { headers: admin.auth })).json()) as Record<string, number>;
    expect(stats.dlq_size).toBeGreaterThanOrEqual(1);
    expect(stats).toHaveProperty("processed");
    expect(stats).toHaveProperty("oldest_pending_age_sec");

    // Fix the cause: the payment now exists (same id the event refers to).
    const u = await createUser();
    const order = await pendingOrder(u);
    await sql("INSERT INTO payments (id, order_id, user_id, provider, amount_cents, currency) VALUES ($1, $2, $3, 'sandbox', $4, 'USD')", [
      missingPayment,
      order.id,
      u.id,
      order.total,
    ]);
    const replay = await api(`/api/v1/admin/queue/dlq/${dead.id}/replay`, { method: "POST", headers: admin.auth });
    expect(replay.status).toBe(202);
    await eventually(async () => (await orderStatus(order.id)) === "PAID", 20_000);
    await expectProblem(await api(`/api/v1/admin/queue/dlq/${dead.id}/replay`, { method: "POST", headers: admin.auth }), 404);
    const all = await api("/api/v1/admin/queue/dlq/replay", jsonInit("POST", { since: "2000-01-01T00:00:00Z" }, admin.auth));
    expect(all.status).toBe(202);
    const [h] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM order_status_history WHERE order_id = $1 AND to_status = 'PAID'", [
      order.id,
    ]);
    expect(h?.n).toBe(1);
  });

  it("the admin queue API is ADMIN-only", async () => {
    const u = await createUser();
    await expectProblem(await api("/api/v1/admin/queue/stats", { headers: u.auth }), 403);
    await expectProblem(await api("/api/v1/admin/queue/dlq"), 401);
    await expectProblem(await api("/api/v1/admin/queue/dlq/replay", jsonInit("POST", { since: "yesterday" }, admin.auth)), 400);
  });
});
