/**
 * Dead letters: recorded by the DLQ consumer (visible, replayable), listed and replayed by
 * ADMIN. Replays cannot double-apply: settlement is idempotent per webhook event.
 */
import { PaymentEventMessage } from "../../queues/messages.ts";
import type { Drizzle } from "../db/client.ts";
import {
  claimForReplay,
  type DeadLetterRow,
  listDeadLetters,
  markWebhookDead,
  queueStats,
  reopenWebhookEvent,
  upsertDeadLetter,
} from "../db/payments.repo.ts";
import { keysetPage, PG_TIMESTAMP, readKeyset } from "../lib/cursor.ts";
import { ApiError } from "../lib/problem.ts";

export type DeadLetterDto = Omit<DeadLetterRow, "seen_key">;

const toDto = (r: DeadLetterRow & { seen_key?: string }): DeadLetterDto => {
  const { seen_key: _k, ...rest } = r;
  return rest;
};

/** Called by the DLQ consumer for each message: marks its webhook event FAILED and records the letter. */
export async function recordDeadLetter(db: Drizzle, queue: string, msg: { id: string; body: unknown }) {
  const parsed = PaymentEventMessage.safeParse(msg.body);
  const failure = parsed.success ? await markWebhookDead(db, parsed.data.webhook_event_id) : null;
  await upsertDeadLetter(db, {
    queue,
    messageKey: parsed.success ? `webhook:${parsed.data.webhook_event_id}` : `message:${msg.id}`,
    body: msg.body ?? null,
    attempts: failure?.attempts ?? 0,
    lastError: failure?.last_error ?? (parsed.success ? null : "malformed message"),
  });
  return { key: parsed.success ? parsed.data.event_id : msg.id, attempts: failure?.attempts };
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
): Promise<DeadLetterDto[]> {
  const rows = await claimForReplay(db, sel);
  if ("id" in sel && !rows.length) throw new ApiError("not_found", "No dead letter with that id is waiting (already replayed?).");
  for (const r of rows) {
    const body = r.body as PaymentEventMessage;
    if (body.kind === "payment-event") await reopenWebhookEvent(db, body.webhook_event_id);
    await queue.send(body, { contentType: "json" });
  }
  return rows.map(toDto);
}

export function webhookQueueStats(db: Drizzle) {
  return queueStats(db);
}
