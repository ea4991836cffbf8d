/**
 * Dead letters: what the DLQ consumer keeps (visible, replayable), listed and replayed by ADMIN.
 * Replays cannot double-apply: settlement is idempotent per webhook event.
 */
import { PaymentEventMessage } from "../../queues/messages.ts";
import type { Drizzle } from "../db/client.ts";
import {
  claimForReplay,
  type DeadLetterRow,
  listDeadLetters,
  queueStats,
  reopenWebhookEvent,
  upsertDeadLetter,
} from "../db/payments.repo.ts";
import { countRequeue, eventState, overdueCount, parkWebhookEvent } from "../db/webhook-events.repo.ts";
import { keysetPage, PG_TIMESTAMP, readKeyset } from "../lib/cursor.ts";
import { ApiError } from "../lib/problem.ts";
import { outboundStats } from "./outbound-maintenance.service.ts";

export type DeadLetterDto = Omit<DeadLetterRow, "seen_key">;

const toDto = (r: DeadLetterRow & { seen_key?: string }): DeadLetterDto => {
  const { seen_key: _k, ...rest } = r;
  return rest;
};

/**
 * An event whose message dies this many times (re-queues and failed settlements, `attempts`)
 * without any settlement failure being recorded is parked rather than sent back again: something
 * crashes its consumer, and it must become visible instead of looping.
 */
export const MAX_SILENT_REQUEUES = 10;

export type DeadLetterOutcome = "parked" | "requeued" | "dropped";

/**
 * What the DLQ consumer does with one message (it acks it afterwards; anything thrown means "not
 * stored": retry later). The webhook_events row decides:
 * - applied (PROCESSED / IGNORED), e.g. by a copy the sweeper queued: dropped, nothing to keep;
 * - RECEIVED with no settlement failure recorded: it never reached settlement (its consumer could
 *   not reach Postgres), nothing is wrong with it: sent back to the payment-events queue;
 * - otherwise (a recorded failure, a malformed message, an unknown event): parked in `dead_letters`
 *   (the event marked FAILED) for an ADMIN to replay.
 */
export async function handleDeadLetter(
  db: Drizzle,
  mainQueue: Queue<PaymentEventMessage>,
  source: string,
  msg: { id: string; body: unknown },
): Promise<{ outcome: DeadLetterOutcome; key: string; attempts?: number | undefined; status?: string | undefined }> {
  const parsed = PaymentEventMessage.safeParse(msg.body);
  if (!parsed.success) {
    await upsertDeadLetter(db, {
      queue: source,
      messageKey: `message:${msg.id}`,
      body: msg.body ?? null,
      attempts: 0,
      lastError: "malformed message",
    });
    return { outcome: "parked", key: msg.id };
  }
  const m = parsed.data;
  const state = await eventState(db, m.webhook_event_id);
  const status = state?.status;
  if (status === "PROCESSED" || status === "IGNORED") return { outcome: "dropped", key: m.event_id, attempts: state?.attempts, status };
  if (state && status === "RECEIVED" && state.last_error === null && state.attempts < MAX_SILENT_REQUEUES) {
    if (!(await countRequeue(db, m.webhook_event_id))) return { outcome: "dropped", key: m.event_id, status: "changed meanwhile" };
    await mainQueue.send(m, { contentType: "json" });
    return { outcome: "requeued", key: m.event_id, attempts: state.attempts + 1, status };
  }
  const failure =
    status === "RECEIVED"
      ? ((await parkWebhookEvent(
          db,
          m.webhook_event_id,
          `re-queued ${state?.attempts} times and never reached settlement (its consumer could not reach Postgres, or crashed)`,
        )) ?? state)
      : state;
  await upsertDeadLetter(db, {
    queue: source,
    messageKey: `webhook:${m.webhook_event_id}`,
    body: msg.body,
    attempts: failure?.attempts ?? 0,
    lastError: failure?.last_error ?? (state ? null : "webhook event not found"),
  });
  return { outcome: "parked", key: m.event_id, attempts: failure?.attempts, status };
}

export async function deadLetterPage(
  db: Drizzle,
  secret: string,
  q: { status?: "DEAD" | "REPLAYED" | undefined; queue?: string | undefined; limit?: number | undefined; cursor?: string | undefined },
) {
  const scope = JSON.stringify(["dlq", q.status ?? "", q.queue ?? ""]);
  const pos = await readKeyset(secret, scope, q.cursor, PG_TIMESTAMP);
  const limit = q.limit ?? 20;
  const rows = await listDeadLetters(db, { status: q.status, queue: q.queue }, pos && { seen: pos.key, id: pos.id }, limit);
  return keysetPage(rows, limit, { secret, scope, keyOf: (r) => r.seen_key }, toDto);
}

/** Claims DEAD letters (one by id, or all since a time), reopens their events and sends them back to the queue. */
export async function replayDeadLetters(
  db: Drizzle,
  queue: Queue<PaymentEventMessage>,
  sel: { id: string } | { since: string },
  /** Other pipelines' dead letters (outbound webhooks, emails): true when it took the body. */
  replayOther: (db: Drizzle, body: unknown) => Promise<boolean> = async () => false,
): Promise<DeadLetterDto[]> {
  const rows = await claimForReplay(db, sel);
  if ("id" in sel && !rows.length) throw new ApiError("not_found", "No dead letter with that id is waiting (already replayed?).");
  for (const r of rows) {
    if (await replayOther(db, r.body)) continue;
    const body = r.body as PaymentEventMessage;
    if (body.kind === "payment-event") await reopenWebhookEvent(db, body.webhook_event_id);
    await queue.send(body, { contentType: "json" });
  }
  return rows.map(toDto);
}

/** Events per status, the RECEIVED backlog's oldest age and how much of it is overdue (the sweeper's work), DLQ size. */
export async function webhookQueueStats(db: Drizzle, cfg: { WEBHOOK_SWEEP_AFTER_SEC: number }) {
  return {
    ...(await queueStats(db)),
    received_overdue: await overdueCount(db, cfg.WEBHOOK_SWEEP_AFTER_SEC),
    ...(await outboundStats(db)),
  };
}
