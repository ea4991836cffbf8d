/**
 * The API's shapes, inferred from the zod schemas that validate and document it (src/schemas): a
 * change to the API is a type error here. Type-only imports: nothing of zod reaches the bundle.
 */
import type { z } from "@hono/zod-openapi";
import type { StockAdjustmentPageSchema } from "../../src/schemas/admin-catalog.ts";
import type { CategorySchema, ProductListSchema, ProductSchema } from "../../src/schemas/catalog.ts";
import type { OrderTimelineSchema } from "../../src/schemas/order-timeline.ts";
import type { OrderListSchema, OrderSchema, OrderStatusSchema } from "../../src/schemas/orders.ts";
import type { DeadLetterSchema } from "../../src/schemas/payments.ts";
import type { SalesReportSchema, SalesSummarySchema } from "../../src/schemas/reports.ts";
import type { AccountLookupSchema, AccountUnlockSchema, AdminUserSchema } from "../../src/schemas/users.ts";
import type {
  DeliveryPageSchema,
  DeliverySchema,
  EndpointPageSchema,
  EndpointSchema,
  EndpointWithSecretSchema,
  EVENT_TYPES,
} from "../../src/schemas/webhook-endpoints.ts";

export type Order = z.infer<typeof OrderSchema>;
export type OrderList = z.infer<typeof OrderListSchema>;
export type OrderStatus = z.infer<typeof OrderStatusSchema>;
export type OrderTimeline = z.infer<typeof OrderTimelineSchema>;
export type Product = z.infer<typeof ProductSchema>;
export type ProductList = z.infer<typeof ProductListSchema>;
export type StockAdjustmentPage = z.infer<typeof StockAdjustmentPageSchema>;
export type Category = z.infer<typeof CategorySchema>;
export type DeadLetter = z.infer<typeof DeadLetterSchema>;
export type Page<T> = { data: T[]; has_more: boolean; next_cursor: string | null };
export type SalesReport = z.infer<typeof SalesReportSchema>;
export type SalesSummary = z.infer<typeof SalesSummarySchema>;
export type AdminUser = z.infer<typeof AdminUserSchema>;
export type AccountLookup = z.infer<typeof AccountLookupSchema>;
export type AccountUnlock = z.infer<typeof AccountUnlockSchema>;
export type Endpoint = z.infer<typeof EndpointSchema>;
export type EndpointPage = z.infer<typeof EndpointPageSchema>;
export type EndpointWithSecret = z.infer<typeof EndpointWithSecretSchema>;
export type Delivery = z.infer<typeof DeliverySchema>;
export type DeliveryPage = z.infer<typeof DeliveryPageSchema>;
export type EventType = (typeof EVENT_TYPES)[number];

export interface LoginResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  role: "ADMIN" | "USER";
}
