/** Order statuses and the transitions the API allows (the server's own state machine module, not a copy). */
import { TRANSITIONS } from "../../src/services/order-state.ts";
import type { OrderStatus } from "./types.ts";

export const STATUSES = Object.keys(TRANSITIONS) as OrderStatus[];
export const nextStatuses = (s: OrderStatus): readonly OrderStatus[] => TRANSITIONS[s];
/** Transitions that cannot be undone and deserve a confirmation. */
export const CONSEQUENTIAL: readonly OrderStatus[] = ["CANCELLED", "REFUNDED"];
