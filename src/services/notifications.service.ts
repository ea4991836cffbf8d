/**
 * Customer emails (order paid, shipped, refunded, payment failed). A notification row per event
 * (unique event key) is created by the outbox fan-out; sending claims it first, so a duplicate queue
 * message cannot send it twice, and the provider gets the notification's id as its idempotency key,
 * so a retry after a lost answer is not a second email either. Failures are retried by the queue and
 * dead-lettered after its last retry.
 */
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import {
  claimNotification,
  failNotification,
  listNotifications,
  markNotificationSent,
  type NotificationRow,
  recordNotificationFailure,
} from "../db/notifications.repo.ts";
import { getOrder } from "../db/orders.repo.ts";
import { upsertDeadLetter } from "../db/payments.repo.ts";
import { keysetPage, PG_TIMESTAMP, readKeyset } from "../lib/cursor.ts";
import type { Logger } from "../lib/logger.ts";
import { EmailError, type EmailProvider, resendEmail, sandboxEmail } from "../notifications/email-providers.ts";
import { render, type Template } from "../notifications/templates.ts";

export function emailProvider(
  cfg: Pick<Config, "EMAIL_PROVIDER" | "RESEND_API_KEY" | "RESEND_API_BASE" | "EMAIL_TIMEOUT_MS">,
): EmailProvider {
  if (cfg.EMAIL_PROVIDER === "resend") {
    return resendEmail({ apiKey: cfg.RESEND_API_KEY ?? "", apiBase: cfg.RESEND_API_BASE, timeoutMs: cfg.EMAIL_TIMEOUT_MS });
  }
  return sandboxEmail;
}

export interface NotifyDeps {
  db: Drizzle;
  cfg: Pick<Config, "EMAIL_FROM" | "EMAIL_TIMEOUT_MS">;
  log: Logger;
  provider: EmailProvider;
  queueName: string;
}

/**
 * Sends one notification. "sent"; "skipped" (already sent, or being sent elsewhere); "failed" (the
 * provider refused it for good: FAILED and dead-lettered at once). Throws on a retryable failure
 * (the row keeps the error; the queue retries after `retryInSec`).
 */
export async function sendNotification(deps: NotifyDeps, id: string, retryInSec: number): Promise<"sent" | "skipped" | "failed"> {
  const { db, log } = deps;
  const leaseSec = Math.ceil(deps.cfg.EMAIL_TIMEOUT_MS / 1000) + 20;
  const n = await claimNotification(db, id, leaseSec);
  if (!n) return "skipped";
  const fields = { component: "notifications", notification_id: n.id, template: n.template, event_key: n.event_key, attempt: n.attempts };
  const order = n.order_id ? await getOrder(db, n.order_id) : null;
  if (!order) {
    await failNotification(db, n.id, "the order no longer exists");
    log.warn("notification dropped: its order is gone", fields);
    return "failed";
  }
  const message = render(n.template as Template, order, n.payload);
  try {
    const sent = await deps.provider.send({
      from: deps.cfg.EMAIL_FROM,
      to: n.recipient,
      ...message,
      idempotencyKey: `toko-notification-${n.id}`,
    });
    await markNotificationSent(db, n.id, { provider: deps.provider.name, messageId: sent.messageId, stored: sent.stored });
    log.info("notification sent", { ...fields, provider: deps.provider.name });
    return "sent";
  } catch (err) {
    const error = err instanceof Error ? err.message.slice(0, 300) : "error";
    if (err instanceof EmailError && !err.retryable) {
      const failed = await failNotification(db, n.id, error);
      await upsertDeadLetter(db, {
        queue: deps.queueName,
        messageKey: `notification:${n.id}`,
        body: { kind: "notification", notification_id: n.id },
        attempts: failed?.attempts ?? n.attempts,
        lastError: error,
      });
      log.error("notification refused by the provider: dead-lettered", { ...fields, error });
      return "failed";
    }
    await recordNotificationFailure(db, n.id, error, retryInSec);
    throw err;
  }
}

export type NotificationDto = Omit<NotificationRow, "created_at_key">;

export async function notificationPage(
  db: Drizzle,
  secret: string,
  q: {
    status?: "PENDING" | "SENT" | "FAILED" | undefined;
    order_id?: string | undefined;
    limit?: number | undefined;
    cursor?: string | undefined;
  },
) {
  const scope = JSON.stringify(["notifications", q.status ?? "", q.order_id ?? ""]);
  const pos = await readKeyset(secret, scope, q.cursor, PG_TIMESTAMP);
  const limit = q.limit ?? 20;
  const rows = await listNotifications(db, { status: q.status, orderId: q.order_id }, pos && { createdAt: pos.key, id: pos.id }, limit);
  return keysetPage(
    rows,
    limit,
    { secret, scope, keyOf: (r) => r.created_at_key },
    ({ created_at_key: _k, ...dto }): NotificationDto => dto,
  );
}
