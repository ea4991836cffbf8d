/**
 * Defect (issue 12, item 8): a paid event could be lost when Postgres was away for minutes. Both
 * consumers threw on connect; after max_retries the message went to the DLQ, whose consumer could
 * not write either, and Cloudflare then deleted it; the webhook_events row stayed RECEIVED and the
 * provider's retries got "200 duplicate". Now the row (stored before the 202) is the source of
 * truth: the DLQ consumer never acks what it could not store, a sweeper re-queues RECEIVED events,
 * and a duplicate delivery of an unfinished event re-queues it.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import type { PaymentEventMessage } from "../queues/messages.ts";
import worker from "../src/index.ts";
import { apiSettled, createUser, expectProblem, runCron, sql } from "./helpers.ts";
import { eventually, orderStatus, pendingOrder, SANDBOX_SECRETS } from "./payments.helpers.ts";

const admin = await createUser("ADMIN");

/** The same worker, with a Postgres that refuses every connection. */
const deadDb = { ...env, HYPERDRIVE_FRESH: { connectionString: "postgres://postgres:postgres@127.0.0.1:1/x" } } as unknown as Env;

/** A PAYMENT_EVENTS binding that records what is sent (or refuses it). */
function queueStub(opts: { fail?: boolean } = {}) {
  const sent: PaymentEventMessage[] = [];
  const refuse = () => Promise.reject(new Error("queue unavailable"));
  const queue = {
    send: (body: PaymentEventMessage) => {
      if (opts.fail) return refuse();
      sent.push(body);
      return Promise.resolve();
    },
    sendBatch: (msgs: Iterable<{ body: PaymentEventMessage }>) => {
      if (opts.fail) return refuse();
      for (const m of msgs) sent.push(m.body);
      return Promise.resolve();
    },
  };
  return { sent, queue: queue as unknown as Queue<PaymentEventMessage> };
}
const withQueue = (queue: Queue<PaymentEventMessage>, vars: Record<string, string> = {}) =>
  ({ ...env, ...vars, PAYMENT_EVENTS: queue }) as unknown as Env;

/** A PENDING order with an INITIATED sandbox payment for its full amount. */
async function initiatedPayment() {
  const u = await createUser();
  const order = await pendingOrder(u, 3100);
  const [o] = await sql<{ currency: string }>("SELECT currency FROM orders WHERE id = $1", [order.id]);
  const paymentId = crypto.randomUUID();
  const ref = `sbx_pi_${paymentId.replaceAll("-", "")}`;
  await sql(
    "INSERT INTO payments (id, order_id, user_id, provider, provider_ref, amount_cents, currency) VALUES ($1, $2, $3, 'sandbox', $4, $5, $6)",
    [paymentId, order.id, u.id, ref, order.total, o?.currency],
  );
  return { orderId: order.id, paymentId, ref, amount: order.total, currency: o?.currency as string };
}

/** The sandbox provider's signed "payment.succeeded" delivery for that payment (re-postable: a provider retry). */
function successDelivery(p: Awaited<ReturnType<typeof initiatedPayment>>) {
  const id = `evt_sbx_${crypto.randomUUID().replaceAll("-", "")}`;
  const body = JSON.stringify({
    id,
    type: "payment.succeeded",
    data: { payment_id: p.paymentId, provider_ref: p.ref, order_id: p.orderId, amount_cents: p.amount, currency: p.currency },
  });
  const at = new Date();
  const headers = {
    "Content-Type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(SANDBOX_SECRETS[0] as string).sign(id, at, body),
  };
  return {
    eventId: id,
    post: (bindings: Env) => apiSettled("/api/v1/webhooks/payments/sandbox", { method: "POST", body, headers }, bindings),
  };
}

/** One delivery of `body` to the worker's queue handler; what it acked and retried (and with which delays). */
async function deliver(queue: string, body: unknown, attempts: number, bindings: Env) {
  const batch = createMessageBatch(queue, [{ id: `m-${crypto.randomUUID()}`, timestamp: new Date(), attempts, body }]);
  const delays: (number | undefined)[] = [];
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    m.retry = (o?: QueueRetryOptions) => {
      delays.push(o?.delaySeconds);
      retry(o);
    };
  }
  const ctx = createExecutionContext();
  let threw = false;
  await worker.queue(batch, bindings, ctx).catch(() => {
    threw = true; // The runtime retries the whole batch (retry_delay) when the handler throws.
  });
  const result = await getQueueResult(batch, ctx);
  return { ...result, threw, delays };
}

async function eventRow(id: string) {
  const [row] = await sql<{ status: string; attempts: number; last_error: string | null }>(
    "SELECT status::text AS status, attempts, last_error FROM webhook_events WHERE id = $1",
    [id],
  );
  return row;
}

async function deadLetter(webhookEventId: string) {
  const [row] = await sql<{ status: string; attempts: number; last_error: string | null }>(
    "SELECT status::text AS status, attempts, last_error FROM dead_letters WHERE message_key = $1",
    [`webhook:${webhookEventId}`],
  );
  return row;
}

/** A stored event (not through the intake), `age` old; the message that would carry it. */
async function storedEvent(o: { status?: string; age?: string; attempts?: number; lastError?: string | null } = {}) {
  const eventId = `evt_sbx_${crypto.randomUUID().replaceAll("-", "")}`;
  const [row] = await sql<{ id: string }>(
    `INSERT INTO webhook_events (provider, event_id, type, payload, status, attempts, last_error, received_at, processed_at)
     VALUES ('sandbox', $1, 'payment.succeeded', $2::jsonb, $3::webhook_event_status, $4, $5, now() - $6::interval,
             CASE WHEN $3 IN ('PROCESSED', 'IGNORED') THEN now() END) RETURNING id`,
    [
      eventId,
      JSON.stringify({ id: eventId, type: "payment.succeeded", data: { payment_id: crypto.randomUUID() } }),
      o.status ?? "RECEIVED",
      o.attempts ?? 0,
      o.lastError ?? null,
      o.age ?? "0 seconds",
    ],
  );
  const message: PaymentEventMessage = {
    kind: "payment-event",
    webhook_event_id: row?.id as string,
    provider: "sandbox",
    event_id: eventId,
  };
  return message;
}

/** Stops rows this file parked from being swept by later runs (they refer to payments that do not exist). */
const retire = (ids: string[]) => sql("UPDATE webhook_events SET status = 'IGNORED', processed_at = now() WHERE id = ANY($1)", [ids]);

describe("a paid event is never lost when Postgres is away (issue 12, item 8)", () => {
  it("webhooks accepted while the consumers cannot reach Postgres end PAID after it returns, with nothing in the DLQ lost", async () => {
    const p = await initiatedPayment();
    const intake = queueStub();
    const delivery = successDelivery(p);
    const res = await delivery.post(withQueue(intake.queue));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const message = intake.sent[0] as PaymentEventMessage;
    expect(message).toMatchObject({ kind: "payment-event", webhook_event_id: id });

    // Postgres goes away. Every delivery to the payment-events consumer fails: nothing is acked.
    for (let attempt = 1; attempt <= 4; attempt++) {
      const r = await deliver("toko-payment-events", message, attempt, deadDb);
      expect(r.explicitAcks).toEqual([]);
      expect(r.ackAll).toBe(false);
    }
    // The message reaches the DLQ, whose consumer cannot store it either: it retries with long delays and never acks.
    for (const attempt of [1, 2, 8, 99]) {
      const r = await deliver("toko-payment-events-dlq", message, attempt, deadDb);
      expect(r.explicitAcks).toEqual([]);
      expect(r.ackAll).toBe(false);
      expect(r.retryMessages).toHaveLength(1);
      expect(r.delays[0]).toBeGreaterThanOrEqual(attempt >= 8 ? 1800 : 30);
      expect(r.delays[0]).toBeLessThanOrEqual(3600);
    }
    // Minutes later (the outage lasted), the row is still there, RECEIVED, visible in the stats.
    expect(await eventRow(id)).toMatchObject({ status: "RECEIVED" });
    await sql("UPDATE webhook_events SET received_at = now() - interval '10 minutes' WHERE id = $1", [id]);
    const stats = (await (await apiSettled("/api/v1/admin/queue/stats", { headers: admin.auth })).json()) as Record<string, number>;
    expect(stats.received).toBeGreaterThanOrEqual(1);
    expect(stats.oldest_pending_age_sec).toBeGreaterThanOrEqual(600);
    expect(stats.received_overdue).toBeGreaterThanOrEqual(1);

    // Postgres is back: the sweeper (every minute) re-queues it on the real queue and the real consumer settles it.
    await runCron("* * * * *");
    await eventually(async () => (await orderStatus(p.orderId)) === "PAID");
    expect(await eventRow(id)).toMatchObject({ status: "PROCESSED" });
    const [pay] = await sql<{ status: string }>("SELECT status::text AS status FROM payments WHERE id = $1", [p.paymentId]);
    expect(pay?.status).toBe("SUCCEEDED");

    // The DLQ consumer's long-delayed retry finally lands on a healthy database: the event is settled, so it is
    // acked without parking a dead letter; nothing is left behind.
    const late = await deliver("toko-payment-events-dlq", message, 100, env);
    expect(late.explicitAcks).toHaveLength(1);
    expect(await deadLetter(id)).toBeUndefined();
    const [h] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM order_status_history WHERE order_id = $1 AND to_status = 'PAID'", [
      p.orderId,
    ]);
    expect(h?.n).toBe(1);
  });

  it("the DLQ consumer sends an event that never reached settlement back to the queue, parks one that failed, drops a late copy of a settled one", async () => {
    const neverSettled = await storedEvent();
    const failed = await storedEvent({ attempts: 4, lastError: "no payment matches sandbox ref ?" });
    const settled = await storedEvent({ status: "PROCESSED" });
    const looping = await storedEvent({ attempts: 10 });
    const main = queueStub();
    const bindings = withQueue(main.queue);

    const r1 = await deliver("toko-payment-events-dlq", neverSettled, 1, bindings);
    expect(r1.explicitAcks).toHaveLength(1);
    expect(main.sent).toEqual([neverSettled]);
    expect(await eventRow(neverSettled.webhook_event_id)).toMatchObject({ status: "RECEIVED", attempts: 1 });
    expect(await deadLetter(neverSettled.webhook_event_id)).toBeUndefined();

    const r2 = await deliver("toko-payment-events-dlq", failed, 1, bindings);
    expect(r2.explicitAcks).toHaveLength(1);
    expect(await eventRow(failed.webhook_event_id)).toMatchObject({ status: "FAILED" });
    expect(await deadLetter(failed.webhook_event_id)).toMatchObject({
      status: "DEAD",
      attempts: 4,
      last_error: expect.stringContaining("no payment"),
    });

    const r3 = await deliver("toko-payment-events-dlq", settled, 1, bindings);
    expect(r3.explicitAcks).toHaveLength(1);
    expect(await deadLetter(settled.webhook_event_id)).toBeUndefined();

    // Re-queued again and again without ever reaching settlement (a crash): parked, visible, not looped forever.
    const r4 = await deliver("toko-payment-events-dlq", looping, 1, bindings);
    expect(r4.explicitAcks).toHaveLength(1);
    expect(await eventRow(looping.webhook_event_id)).toMatchObject({ status: "FAILED" });
    expect(await deadLetter(looping.webhook_event_id)).toMatchObject({
      status: "DEAD",
      last_error: expect.stringContaining("never reached"),
    });
    expect(main.sent).toHaveLength(1);
    await retire([neverSettled.webhook_event_id]);
  });

  it("a duplicate delivery of a RECEIVED event is re-queued (202); of a FAILED one is reopened and re-queued; of a PROCESSED one is a 200 no-op", async () => {
    const p = await initiatedPayment();
    const delivery = successDelivery(p);
    const first = queueStub();
    const res = await delivery.post(withQueue(first.queue));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };

    // Its message was lost: the provider's retry re-queues it.
    const again = queueStub();
    const retry = await delivery.post(withQueue(again.queue));
    expect(retry.status).toBe(202);
    expect(await retry.json()).toEqual({ received: true, id });
    expect(again.sent).toEqual([expect.objectContaining({ webhook_event_id: id, event_id: delivery.eventId })]);

    // Dead-lettered meanwhile: the retry reopens it (the dead letter is marked REPLAYED) and re-queues it.
    await sql("UPDATE webhook_events SET status = 'FAILED' WHERE id = $1", [id]);
    await sql(
      "INSERT INTO dead_letters (queue, message_key, body, attempts, last_error) VALUES ('toko-payment-events', $1, $2::jsonb, 4, 'database unavailable')",
      [`webhook:${id}`, JSON.stringify(first.sent[0])],
    );
    const reopened = queueStub();
    expect((await delivery.post(withQueue(reopened.queue))).status).toBe(202);
    expect(reopened.sent).toHaveLength(1);
    expect(await eventRow(id)).toMatchObject({ status: "RECEIVED" });
    expect(await deadLetter(id)).toMatchObject({ status: "REPLAYED" });

    // Processed: a retry changes nothing.
    await deliver("toko-payment-events", reopened.sent[0], 1, env);
    expect(await orderStatus(p.orderId)).toBe("PAID");
    const done = queueStub();
    const noop = await delivery.post(withQueue(done.queue));
    expect(noop.status).toBe(200);
    expect(await noop.json()).toEqual({ received: true, duplicate: true });
    expect(done.sent).toEqual([]);
  });

  it("an event that could not be queued stays stored (503 to the provider, which retries); the retry queues it", async () => {
    const p = await initiatedPayment();
    const delivery = successDelivery(p);
    const refused = await delivery.post(withQueue(queueStub({ fail: true }).queue));
    await expectProblem(refused, 503, "service_unavailable");
    expect(refused.headers.get("retry-after")).toBeTruthy();
    const [row] = await sql<{ id: string; status: string }>("SELECT id, status::text AS status FROM webhook_events WHERE event_id = $1", [
      delivery.eventId,
    ]);
    expect(row?.status).toBe("RECEIVED");
    const ok = queueStub();
    const retry = await delivery.post(withQueue(ok.queue));
    expect(retry.status).toBe(202);
    expect(ok.sent).toEqual([expect.objectContaining({ webhook_event_id: row?.id })]);
    await deliver("toko-payment-events", ok.sent[0], 1, env);
    expect(await orderStatus(p.orderId)).toBe("PAID");
  });
});

describe("the webhook sweeper", () => {
  // These runs use a 60 s threshold on rows younger than the default 300 s, so a concurrent cron run elsewhere
  // in the suite (default threshold) never takes them first.
  const SWEEP = { WEBHOOK_SWEEP_AFTER_SEC: "60", JOB_BATCH_SIZE: "2" };
  const sweep = async (queue: Queue<PaymentEventMessage>) =>
    apiSettled("/api/v1/admin/jobs/webhook-sweep/run", { method: "POST", headers: admin.auth }, withQueue(queue, SWEEP));

  it("re-queues RECEIVED events past WEBHOOK_SWEEP_AFTER_SEC, in batches, spacing repeats by attempts; leaves the rest", async () => {
    const due = await Promise.all([1, 2, 3].map(() => storedEvent({ age: "100 seconds" })));
    const young = await storedEvent({ age: "30 seconds" });
    const sweptOnce = await storedEvent({ age: "100 seconds", attempts: 1 });
    const processed = await storedEvent({ age: "1 hour", status: "PROCESSED" });
    const failed = await storedEvent({ age: "1 hour", status: "FAILED", attempts: 4, lastError: "x" });
    const mine = [...due, young, sweptOnce, processed, failed];
    const ids = (sent: PaymentEventMessage[]) =>
      sent
        .map((m) => m.webhook_event_id)
        .filter((i) => mine.some((m) => m.webhook_event_id === i))
        .sort();
    const run = async () => {
      const q = queueStub();
      const res = await sweep(q.queue);
      expect(res.status).toBe(200);
      return { sent: q.sent, body: (await res.json()) as { job: string; counts: Record<string, number> } };
    };

    const first = await run();
    expect(first.body.job).toBe("webhook-sweep");
    expect(first.body.counts.requeued).toBeGreaterThanOrEqual(3);
    expect(first.body.counts.batches).toBeGreaterThanOrEqual(2);
    expect(ids(first.sent)).toEqual(due.map((m) => m.webhook_event_id).sort());
    for (const m of due) expect(first.sent).toContainEqual(m);
    for (const m of due) expect(await eventRow(m.webhook_event_id)).toMatchObject({ status: "RECEIVED", attempts: 1 });
    expect(await eventRow(young.webhook_event_id)).toMatchObject({ attempts: 0 });
    expect(await eventRow(sweptOnce.webhook_event_id)).toMatchObject({ attempts: 1 });

    // Run again at once: nothing of ours is re-sent (a swept event waits another WEBHOOK_SWEEP_AFTER_SEC).
    expect(ids((await run()).sent)).toEqual([]);
    // Older now (past 2 × 60 s): the next pass takes it again.
    await sql("UPDATE webhook_events SET received_at = now() - interval '130 seconds' WHERE id = $1", [due[0]?.webhook_event_id]);
    expect(ids((await run()).sent)).toEqual([due[0]?.webhook_event_id]);
    expect(await eventRow(due[0]?.webhook_event_id as string)).toMatchObject({ attempts: 2 });

    const list = (await (await apiSettled("/api/v1/admin/jobs", { headers: admin.auth })).json()) as {
      data: { name: string; schedules: string[] }[];
    };
    expect(list.data).toEqual(expect.arrayContaining([expect.objectContaining({ name: "webhook-sweep", schedules: ["* * * * *"] })]));
    await retire(mine.map((m) => m.webhook_event_id));
  });

  it("a queue that refuses the batch fails the run and changes nothing (the next run retries)", async () => {
    const due = await storedEvent({ age: "100 seconds" });
    await expectProblem(await sweep(queueStub({ fail: true }).queue), 503, "service_unavailable");
    expect(await eventRow(due.webhook_event_id)).toMatchObject({ status: "RECEIVED", attempts: 0 });
    await retire([due.webhook_event_id]);
  });
});
