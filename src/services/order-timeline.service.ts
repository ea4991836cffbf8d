/** ADMIN order detail: what happened to an order (status history) and the money behind it (payments). */
import type { Drizzle } from "../db/client.ts";
import { orderTimeline } from "../db/order-timeline.repo.ts";
import { ApiError } from "../lib/problem.ts";
import type { OrderTimeline } from "../schemas/order-timeline.ts";

export async function readOrderTimeline(db: Drizzle, orderId: string): Promise<OrderTimeline> {
  const id = orderId.toLowerCase();
  const t = await orderTimeline(db, id);
  if (!t) throw new ApiError("not_found", "No order with that id.");
  // Statuses come from the Postgres enums the schema is built from (src/db/schema.ts).
  return { order_id: id, history: t.history, payments: t.payments } as OrderTimeline;
}
