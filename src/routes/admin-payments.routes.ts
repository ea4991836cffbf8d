/** ADMIN: payment anomalies — money events that were not applied as they came (mismatches, surplus captures). */
import { createRoute, z } from "@hono/zod-openapi";
import { authResponses, CursorSchema, jsonContent, LimitSchema, problemResponses, queryBool } from "../schemas/common.ts";
import { anomalyPage } from "../services/payments.service.ts";
import { createRouter } from "./router.ts";

const KINDS = ["amount_mismatch", "currency_mismatch", "reference_mismatch", "surplus_capture"] as const;

const AnomalySchema = z
  .object({
    id: z.string().uuid(),
    kind: z.enum(KINDS),
    payment_id: z.string().uuid().nullable(),
    order_id: z.string().uuid().nullable(),
    webhook_event_id: z.string().uuid().nullable(),
    provider: z.string(),
    provider_ref: z.string().nullable(),
    amount_cents: z.number().int().nullable(),
    currency: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()),
    refund_status: z.enum(["pending", "refunded"]).nullable().openapi({ description: "Surplus captures: pending until refunded" }),
    created_at: z.string(),
    resolved_at: z.string().nullable(),
  })
  .openapi("PaymentAnomaly");

const QuerySchema = z
  .object({
    kind: z
      .enum(KINDS)
      .optional()
      .openapi({ param: { name: "kind", in: "query" } }),
    open: queryBool
      .optional()
      .openapi({ param: { name: "open", in: "query" }, description: "true: unresolved only; false: resolved only" }),
    limit: LimitSchema,
    cursor: CursorSchema,
  })
  .strict();

export const adminPaymentsRouter = createRouter().openapi(
  createRoute({
    method: "get",
    path: "/payments/anomalies",
    operationId: "adminListPaymentAnomalies",
    tags: ["Admin"],
    summary: "Payment anomalies, newest first: amount/currency/reference mismatches and surplus captures (with their refunds)",
    security: [{ bearerAuth: [] }],
    request: { query: QuerySchema },
    responses: {
      200: {
        description: "A page",
        content: jsonContent(z.object({ data: z.array(AnomalySchema), has_more: z.boolean(), next_cursor: z.string().nullable() })),
      },
      ...authResponses,
      ...problemResponses,
    },
  }),
  async (c) =>
    c.json((await anomalyPage(await c.get("dbFresh").orm(), c.get("config").CURSOR_SECRET, c.req.valid("query"))) as never, 200, {
      "Cache-Control": "no-store",
    }),
);
