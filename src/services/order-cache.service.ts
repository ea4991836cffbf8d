/**
 * The private order cache's rules (GET /api/v1/orders/{id}; storage in src/lib/private-cache.ts):
 * which orders may be cached, and how a change reaches the cache.
 *
 * - An order in a status it can leave without an API call is never cached: PENDING (paid by a
 *   webhook, cancelled by the expiry job) and PAID (refunded by a webhook). Those changes happen in
 *   a queue consumer or a cron run, in some other location, with no request origin to rebuild the
 *   cache key from, so no invalidation could be relied on to reach the customer's location before
 *   their next read. They are also the states a customer polls while waiting for the outcome.
 * - Every other status (FULFILLED, SHIPPED, DELIVERED, CANCELLED, REFUNDED) changes only through
 *   `PATCH /api/v1/orders/{id}/status`, which bumps the order's generation before it answers (the
 *   next read in that location misses) and purges `order:<id>` by tag (every location, when zone
 *   purge is configured).
 * - invalidateOrders() is also called after settlement and by the expiry job: a purge by tag costs
 *   nothing when nothing is cached, and keeps working if a status is ever made cacheable.
 */
import type { Config } from "../config.ts";
import { cacheTags, tag } from "../lib/cache-tags.ts";
import { errorFields, type Logger } from "../lib/logger.ts";
import { bumpResourceGeneration, orderResource } from "../lib/private-cache.ts";
import type { OrderStatus } from "../schemas/orders.ts";
import { purgeTags } from "./cache-invalidation.ts";

/** Statuses an order leaves without an API call (webhooks, the expiry job): never cached. */
const CHANGES_WITHOUT_A_REQUEST: ReadonlySet<OrderStatus> = new Set<OrderStatus>(["PENDING", "PAID"]);

export function isOrderCacheable(status: OrderStatus): boolean {
  return !CHANGES_WITHOUT_A_REQUEST.has(status);
}

/** The Cache-Tags a stored order entry carries (lower-case id). */
export function orderCacheTags(id: string): string[] {
  return cacheTags(tag.order(id));
}

/**
 * Makes the next read of these orders miss. With `origin` (a request in this location): bumps each
 * order's generation before returning. Always: purges `order:<id>` by tag through the zone API
 * (when configured), awaited, or handed to `waitUntil`. Ids are normalised (lower case) and
 * de-duplicated. Never throws: the change it follows is already committed.
 */
export async function invalidateOrders(
  cfg: Config,
  log: Logger,
  orderIds: readonly string[],
  opts: { origin?: string; waitUntil?: (p: Promise<unknown>) => void } = {},
): Promise<void> {
  const ids = [...new Set(orderIds.map((id) => id.toLowerCase()))];
  if (!ids.length) return;
  const { origin } = opts;
  if (origin) {
    await Promise.all(ids.map((id) => bumpResourceGeneration(origin, orderResource(id)))).catch((err) =>
      log.warn("order cache generation bump failed", { component: "cache", orders: ids.length, ...errorFields(err) }),
    );
  }
  const purge = purgeTags(cfg, log, ids.flatMap(orderCacheTags)).then(
    () => undefined,
    (err) => log.error("order cache purge failed", { component: "cache", orders: ids.length, ...errorFields(err) }),
  );
  if (opts.waitUntil) opts.waitUntil(purge);
  else await purge;
}
