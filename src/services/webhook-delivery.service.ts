/**
 * Outbound webhook delivery: one attempt per due delivery, signed with Standard Webhooks headers,
 * through the endpoint's breaker and concurrency cap (a CircuitBreaker Durable Object per endpoint),
 * after the SSRF check of its URL. The outcome is stored with the attempt; a retry is a new queue
 * message delayed by the schedule (Svix's, jittered), or by Retry-After on 429/503 when longer.
 */
import type { WebhookDeliveryMessage } from "../../queues/messages.ts";
import type { Drizzle } from "../db/client.ts";
import { insertOutbox } from "../db/orders.repo.ts";
import { upsertDeadLetter } from "../db/payments.repo.ts";
import {
  type AttemptRecord,
  type ClaimedDelivery,
  cancelDeliveries,
  claimDeliveries,
  deferDeliveries,
  recordAttempts,
} from "../db/webhook-deliveries.repo.ts";
import { disableEndpoint } from "../db/webhook-endpoints.repo.ts";
import { errorFields, type Logger } from "../lib/logger.ts";
import { MAX_QUEUE_DELAY_SEC } from "../outbound-config.ts";
import { type DeliveryConfig, type Exchange, exchange, scheduledWait } from "./webhook-request.ts";

export interface DeliveryDeps {
  db: Drizzle;
  cfg: DeliveryConfig;
  log: Logger;
  /** Where retries and held-back deliveries go (the delivery queue itself). */
  queue: Pick<Queue<WebhookDeliveryMessage>, "sendBatch">;
  breakers: Env["CIRCUIT_BREAKER"];
  /** The delivery queue's name, for dead letters. */
  queueName: string;
}

/** Disables an endpoint once (410, or failing too long): an outbox event for the admins, and an error line. */
async function disable(deps: DeliveryDeps, endpointId: string, reason: string): Promise<void> {
  const done = await deps.db.transaction(async (tx) => {
    const ep = await disableEndpoint(tx, endpointId, reason);
    if (!ep) return false;
    await insertOutbox(tx, {
      aggregateType: "webhook_endpoint",
      aggregateId: endpointId,
      eventType: "webhook_endpoint.disabled",
      // Not the URL: it may carry a token, and this event goes to the other endpoints too.
      payload: { endpoint_id: endpointId, reason },
    });
    return true;
  });
  if (done) deps.log.error("webhook endpoint disabled", { component: "webhooks", endpoint_id: endpointId, reason });
}

interface Attempted {
  d: ClaimedDelivery;
  ex: Exchange;
  rec: AttemptRecord;
  /** Seconds until the next attempt; null when there is none (delivered, gone, schedule used up). */
  wait: number | null;
}

/** One attempt, not stored yet: the exchange and what it means for the delivery. */
async function attempt(deps: DeliveryDeps, d: ClaimedDelivery): Promise<Attempted> {
  const startedAt = new Date();
  const ex = await exchange(deps.cfg, d);
  const durationMs = Date.now() - startedAt.getTime();
  const ok = ex.status !== null && ex.status >= 200 && ex.status < 300;
  const gone = ex.status === 410;
  let wait = ok || gone ? null : scheduledWait(deps.cfg.WEBHOOK_RETRY_SCHEDULE_SEC, d.attempts + 2);
  if (wait !== null && ex.retryAfter !== null) wait = Math.min(MAX_QUEUE_DELAY_SEC, Math.max(wait, ex.retryAfter));
  const rec: AttemptRecord = {
    deliveryId: d.id,
    status: ok ? "DELIVERED" : wait === null ? "FAILED" : "PENDING",
    outcome: ok ? "delivered" : gone ? "gone" : wait === null ? "failed" : "retry",
    startedAt: startedAt.toISOString(),
    durationMs,
    responseStatus: ex.status,
    responseBody: ex.body,
    error: ex.error,
    nextAttemptAt: wait === null ? null : new Date(Date.now() + wait * 1000).toISOString(),
    ok,
  };
  return { d, ex, rec, wait };
}

/** Stores a group's attempts in one statement, then acts on them: retries queued, dead letters, disabling. */
async function settleAttempts(deps: DeliveryDeps, done: Attempted[]): Promise<void> {
  const { cfg, log } = deps;
  const stored = await recordAttempts(
    deps.db,
    done.map((a) => a.rec),
  );
  const retries = done.filter((a) => a.rec.outcome === "retry");
  for (const a of retries) {
    log.warn("webhook attempt failed; retrying", {
      component: "webhooks",
      delivery_id: a.d.id,
      endpoint_id: a.d.endpoint_id,
      attempt: a.d.attempts + 1,
      status: a.ex.status,
      error: a.ex.error,
      retry_in_sec: a.wait,
    });
  }
  try {
    await sendAll(
      deps.queue,
      retries.map((a) => ({ body: { kind: "webhook-delivery" as const, delivery_id: a.d.id }, delaySeconds: a.wait ?? 0 })),
    );
  } catch (err) {
    // The rows say when they are due; the outbound-sweep job queues them again.
    log.error("webhook retries not queued; the sweep will", { component: "webhooks", count: retries.length, ...errorFields(err) });
  }
  for (const a of done.filter((x) => x.rec.outcome === "failed")) {
    log.error("webhook delivery failed: retries exhausted, dead-lettered", {
      component: "webhooks",
      delivery_id: a.d.id,
      endpoint_id: a.d.endpoint_id,
      status: a.ex.status,
      error: a.ex.error,
    });
    await upsertDeadLetter(deps.db, {
      queue: deps.queueName,
      messageKey: `delivery:${a.d.id}`,
      body: { kind: "webhook-delivery", delivery_id: a.d.id },
      attempts: stored.get(a.d.id)?.attempts ?? a.d.attempts + 1,
      lastError: a.ex.error,
    });
  }
  const endpointId = done[0]?.d.endpoint_id;
  if (!endpointId) return;
  const failingFor = Math.max(...done.map((a) => stored.get(a.d.id)?.failing_for_sec ?? -1));
  if (done.some((a) => a.rec.outcome === "gone")) await disable(deps, endpointId, "the receiver answered 410 Gone");
  else if (failingFor >= cfg.WEBHOOK_DISABLE_AFTER_SEC) {
    await disable(deps, endpointId, `every attempt failed for ${Math.floor(failingFor / 86_400)} days`);
  }
}

/** Sends in chunks of 100 (the sendBatch limit), each message with its own delay. */
async function sendAll(queue: DeliveryDeps["queue"], msgs: { body: WebhookDeliveryMessage; delaySeconds: number }[]): Promise<void> {
  for (let i = 0; i < msgs.length; i += 100) {
    await queue.sendBatch(
      msgs.slice(i, i + 100).map((m) => ({ body: m.body, contentType: "json" as const, delaySeconds: m.delaySeconds })),
    );
  }
}

/**
 * Granted slots are reused for the endpoint's next deliveries of the batch only this long after the
 * group started: a fast receiver gets the whole batch in one go; a slow one gets one wave, and the
 * rest of its deliveries go back to the queue instead of holding the consumer.
 */
const SLOT_REUSE_MS = 1000;

/** One endpoint's share of a batch: through its breaker and cap, attempted, stored. Returns the ids that failed unexpectedly. */
async function deliverGroup(deps: DeliveryDeps, endpointId: string, group: ClaimedDelivery[], leaseSec: number): Promise<string[]> {
  const { cfg, log } = deps;
  const breaker = deps.breakers.get(deps.breakers.idFromName(`webhook:${endpointId}`));
  let slots: number[] | null;
  let room = group.length;
  let holdSec = 1;
  let reuse = true;
  try {
    const adm = await breaker.admit(group.length, {
      openMs: cfg.WEBHOOK_BREAKER_OPEN_SEC * 1000,
      cap: cfg.WEBHOOK_ENDPOINT_CONCURRENCY,
      leaseMs: leaseSec * 1000,
    });
    slots = adm.slots;
    room = adm.slots.length;
    holdSec = adm.retryAfterSec;
    // A half-open breaker lets one probe through: one attempt, not one lane.
    reuse = adm.state === "closed";
  } catch (err) {
    // The breaker is a protection, not a dependency: without it, deliver (capped per batch by the config).
    log.warn("webhook breaker unavailable: delivering without it", { component: "webhooks", endpoint_id: endpointId, ...errorFields(err) });
    slots = null;
    room = Math.min(group.length, cfg.WEBHOOK_ENDPOINT_CONCURRENCY);
  }
  const todo = [...group];
  const done: Attempted[] = [];
  const started = Date.now();
  const lanes = Array.from({ length: room }, async () => {
    let first = true;
    while (todo.length && (first || (reuse && Date.now() - started < SLOT_REUSE_MS))) {
      first = false;
      done.push(await attempt(deps, todo.shift() as ClaimedDelivery));
    }
  });
  await Promise.all(lanes);
  const failed: string[] = [];
  try {
    await settleAttempts(deps, done);
  } catch (err) {
    failed.push(...done.map((a) => a.d.id));
    log.error("webhook attempts not recorded", { component: "webhooks", endpoint_id: endpointId, count: done.length, ...errorFields(err) });
  }
  if (slots) {
    const healthy = done.map((a) => a.ex.healthy);
    await breaker
      .release(
        slots,
        { ok: healthy.filter((h) => h === true).length, failed: healthy.filter((h) => h === false).length },
        cfg.WEBHOOK_BREAKER_THRESHOLD,
      )
      .catch(() => {});
  }
  if (todo.length) {
    // Held back without an attempt (breaker open, cap reached, slow receiver): spread over a few seconds.
    const delay = holdSec + Math.floor(Math.random() * 3);
    await deferDeliveries(
      deps.db,
      todo.map((d) => d.id),
      delay,
    );
    await sendAll(
      deps.queue,
      todo.map((d) => ({ body: { kind: "webhook-delivery" as const, delivery_id: d.id }, delaySeconds: delay })),
    ).catch((err) => log.error("held-back webhooks not queued; the sweep will", { component: "webhooks", ...errorFields(err) }));
    log.info("webhooks held back by the endpoint's breaker or cap", {
      component: "webhooks",
      endpoint_id: endpointId,
      held: todo.length,
      retry_in_sec: delay,
    });
  }
  return failed;
}

export type DeliveryOutcome = "done" | "error";

/**
 * Attempts the due deliveries among `ids` (queue messages): stale, duplicate or finished ones are
 * simply done; a disabled endpoint's are cancelled; what the endpoint's breaker or cap holds back is
 * deferred (no attempt counted). Per id, "error" means something unexpected (the database) failed
 * and its message should come back after the lease.
 */
export async function deliverBatch(deps: DeliveryDeps, ids: string[]): Promise<Map<string, DeliveryOutcome>> {
  const out = new Map<string, DeliveryOutcome>(ids.map((id) => [id, "done"]));
  const leaseSec = Math.ceil(deps.cfg.WEBHOOK_TIMEOUT_MS / 1000) + 20;
  const claimed = await claimDeliveries(deps.db, ids, leaseSec);
  const off = claimed.filter((d) => !d.enabled);
  if (off.length) {
    await cancelDeliveries(
      deps.db,
      off.map((d) => d.id),
      "endpoint disabled",
    );
  }
  const byEndpoint = new Map<string, ClaimedDelivery[]>();
  for (const d of claimed.filter((x) => x.enabled)) byEndpoint.set(d.endpoint_id, [...(byEndpoint.get(d.endpoint_id) ?? []), d]);
  const failed = await Promise.all([...byEndpoint].map(([endpointId, group]) => deliverGroup(deps, endpointId, group, leaseSec)));
  for (const id of failed.flat()) out.set(id, "error");
  const counts = { claimed: claimed.length, cancelled: off.length, endpoints: byEndpoint.size };
  deps.log.debug("webhook batch done", { component: "webhooks", ...counts });
  return out;
}
