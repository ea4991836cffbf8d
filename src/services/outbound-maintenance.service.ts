/**
 * The safety nets of the outbound pipeline: the dead letters of its three queues (kept in the same
 * `dead_letters` table as payment events, so GET /api/v1/admin/queue/dlq shows them, and replayed
 * from there), the sweep that re-queues deliveries and emails whose message was lost, retention,
 * and the numbers for /api/v1/admin/queue/stats.
 */
import { type NotificationMessage, OutboundMessage, type OutboxEventMessage, type WebhookDeliveryMessage } from "../../queues/messages.ts";
import type { Drizzle } from "../db/client.ts";
import {
  deleteOldNotifications,
  failNotification,
  notificationStats,
  reopenNotification,
  sweepPendingNotifications,
} from "../db/notifications.repo.ts";
import { unpublishedCount } from "../db/outbox.repo.ts";
import { upsertDeadLetter } from "../db/payments.repo.ts";
import { deleteOldMessages, deliveryStats, failDelivery, resetDelivery, sweepDueDeliveries } from "../db/webhook-deliveries.repo.ts";
import { sendAll } from "./outbox-fanout.service.ts";

export interface OutboundQueues {
  outbox: Pick<Queue<OutboxEventMessage>, "sendBatch">;
  deliveries: Pick<Queue<WebhookDeliveryMessage>, "sendBatch">;
  notifications: Pick<Queue<NotificationMessage>, "sendBatch">;
}

export const outboundQueues = (env: Env): OutboundQueues => ({
  outbox: env.OUTBOX_EVENTS,
  deliveries: env.WEBHOOK_DELIVERIES,
  notifications: env.NOTIFICATIONS,
});

/** The queue a message of `kind` came from, given the shared DLQ's name (`toko-outbound[-env]-dlq`). */
export function sourceQueue(dlq: string, kind: string | undefined): string {
  const env = /^toko-outbound(-[a-z]+)?-dlq$/.exec(dlq)?.[1] ?? "";
  const base = kind === "outbox-event" ? "toko-outbox" : kind === "webhook-delivery" ? "toko-webhook-deliveries" : "toko-notifications";
  return kind ? `${base}${env}` : dlq;
}

/**
 * Records one message of the outbound DLQ (its queue gave up on it: its consumer kept failing) as a
 * dead letter, and marks its delivery or notification FAILED. Throws when it cannot be stored: the
 * DLQ consumer then keeps the message.
 */
export async function handleOutboundDeadLetter(
  db: Drizzle,
  dlq: string,
  msg: { id: string; body: unknown; attempts: number },
): Promise<{ key: string }> {
  const parsed = OutboundMessage.safeParse(msg.body);
  if (!parsed.success) {
    const key = `message:${msg.id}`;
    await upsertDeadLetter(db, {
      queue: dlq,
      messageKey: key,
      body: msg.body ?? null,
      attempts: msg.attempts,
      lastError: "malformed message",
    });
    return { key };
  }
  const m = parsed.data;
  const note = `its consumer failed ${msg.attempts} times`;
  let key: string;
  let attempts = msg.attempts;
  let lastError: string | null = note;
  if (m.kind === "outbox-event") {
    key = `outbox:${m.outbox_id}`;
  } else if (m.kind === "webhook-delivery") {
    key = `delivery:${m.delivery_id}`;
    await failDelivery(db, m.delivery_id, note);
  } else {
    key = `notification:${m.notification_id}`;
    const failed = await failNotification(db, m.notification_id, note);
    if (failed) {
      attempts = failed.attempts;
      lastError = failed.last_error;
    }
  }
  await upsertDeadLetter(db, { queue: sourceQueue(dlq, m.kind), messageKey: key, body: m, attempts, lastError });
  return { key };
}

/** Replays an outbound dead letter (its row is already marked REPLAYED). False when the body is not an outbound message. */
export async function replayOutbound(db: Drizzle, queues: OutboundQueues, body: unknown): Promise<boolean> {
  const parsed = OutboundMessage.safeParse(body);
  if (!parsed.success) return false;
  const m = parsed.data;
  if (m.kind === "outbox-event") await sendAll(queues.outbox, [m]);
  else if (m.kind === "webhook-delivery") {
    // Missing (endpoint deleted) or disabled: nothing to send; the dead letter stays REPLAYED.
    if ((await resetDelivery(db, m.delivery_id)) === "reset") await sendAll(queues.deliveries, [m]);
  } else {
    await reopenNotification(db, m.notification_id);
    await sendAll(queues.notifications, [m]);
  }
  return true;
}

/** outbound-sweep: queues again what is due and has no message (bounded; once per `afterSec`). */
export async function sweepOutbound(db: Drizzle, queues: OutboundQueues, opts: { afterSec: number; batchSize: number }) {
  const deliveries = await sweepDueDeliveries(db, opts.afterSec, opts.batchSize);
  await sendAll(
    queues.deliveries,
    deliveries.map((id) => ({ kind: "webhook-delivery" as const, delivery_id: id })),
  );
  const notifications = await sweepPendingNotifications(db, opts.afterSec, opts.batchSize);
  await sendAll(
    queues.notifications,
    notifications.map((id) => ({ kind: "notification" as const, notification_id: id })),
  );
  return { deliveries_requeued: deliveries.length, notifications_requeued: notifications.length };
}

/** outbound-retention: old delivery logs and finished notifications, in batches until the deadline. */
export async function purgeOutbound(db: Drizzle, opts: { retentionSec: number; batchSize: number; deadline: number }) {
  const out = { webhook_messages: 0, notifications: 0 };
  for (const [key, purge] of [
    ["webhook_messages", deleteOldMessages],
    ["notifications", deleteOldNotifications],
  ] as const) {
    while (Date.now() < opts.deadline) {
      const n = await purge(db, opts.retentionSec, opts.batchSize);
      out[key] += n;
      if (n < opts.batchSize) break;
    }
  }
  return out;
}

export async function outboundStats(db: Drizzle): Promise<Record<string, number | null>> {
  const outbox = await unpublishedCount(db);
  return {
    outbox_unpublished: outbox.unpublished,
    outbox_oldest_unpublished_age_sec: outbox.oldest_age_sec,
    ...(await deliveryStats(db)),
    ...(await notificationStats(db)),
  };
}
