/**
 * The outbox queue's consumer side: each published event becomes one webhook message with one
 * delivery per matching endpoint, and at most one customer email. Idempotent per event (unique
 * keys), so the relay's at-least-once publication never delivers or emails twice.
 */
import type { NotificationMessage, WebhookDeliveryMessage } from "../../queues/messages.ts";
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import { insertNotifications, readOutboxEvents } from "../db/notifications.repo.ts";
import { fanOutWebhooks } from "../db/webhook-deliveries.repo.ts";
import { templateFor } from "../notifications/templates.ts";

export interface FanOutDeps {
  db: Drizzle;
  cfg: Pick<Config, "WEBHOOK_RETRY_SCHEDULE_SEC">;
  deliveries: Pick<Queue<WebhookDeliveryMessage>, "sendBatch">;
  notifications: Pick<Queue<NotificationMessage>, "sendBatch">;
}

/** Sends in chunks of 100 (the sendBatch limit). */
export async function sendAll<T>(queue: Pick<Queue<T>, "sendBatch">, bodies: T[], delaySeconds = 0): Promise<void> {
  for (let i = 0; i < bodies.length; i += 100) {
    await queue.sendBatch(
      bodies.slice(i, i + 100).map((body) => ({ body, contentType: "json" as const, ...(delaySeconds ? { delaySeconds } : {}) })),
    );
  }
}

export async function fanOutEvents(
  deps: FanOutDeps,
  outboxIds: number[],
): Promise<{ events: number; deliveries: number; notifications: number }> {
  const events = await readOutboxEvents(deps.db, outboxIds);
  const emails = events.flatMap((e) => {
    const template = templateFor(e);
    return template ? [{ outboxId: e.id, template }] : [];
  });
  const ids = events.map((e) => e.id);
  const { deliveryIds, notificationIds } = await deps.db.transaction(async (tx) => ({
    deliveryIds: ids.length ? await fanOutWebhooks(tx, ids) : [],
    notificationIds: await insertNotifications(tx, emails),
  }));
  // After the commit: a failed send retries the whole batch, and the fan-out above is then a no-op
  // that returns the same not-yet-attempted rows to send again.
  await sendAll(
    deps.deliveries,
    deliveryIds.map((id) => ({ kind: "webhook-delivery" as const, delivery_id: id })),
    deps.cfg.WEBHOOK_RETRY_SCHEDULE_SEC[0] ?? 0,
  );
  await sendAll(
    deps.notifications,
    notificationIds.map((id) => ({ kind: "notification" as const, notification_id: id })),
  );
  return { events: events.length, deliveries: deliveryIds.length, notifications: notificationIds.length };
}
