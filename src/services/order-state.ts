/** The order state machine: the only transitions there are. */
import type { OrderStatus } from "../schemas/orders.ts";

export const TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  PENDING: ["PAID", "CANCELLED"],
  PAID: ["FULFILLED", "REFUNDED"],
  FULFILLED: ["SHIPPED"],
  SHIPPED: ["DELIVERED"],
  DELIVERED: [],
  CANCELLED: [],
  REFUNDED: [],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Transitions that put the reserved units back on the shelf. Refunds do not: the goods may not come back. */
export function restocks(to: OrderStatus): boolean {
  return to === "CANCELLED";
}
