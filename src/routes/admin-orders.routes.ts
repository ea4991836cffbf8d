/** ADMIN: an order's timeline for the console's order detail (auth applied in app.ts; reads run no guard). */
import { createRoute } from "@hono/zod-openapi";
import { IdParamSchema } from "../schemas/admin-catalog.ts";
import { authResponses, jsonContent, problemResponses } from "../schemas/common.ts";
import { OrderTimelineSchema } from "../schemas/order-timeline.ts";
import { readOrderTimeline } from "../services/order-timeline.service.ts";
import { createRouter } from "./router.ts";

export const adminOrdersRouter = createRouter().openapi(
  createRoute({
    method: "get",
    path: "/orders/{id}/timeline",
    operationId: "adminOrderTimeline",
    tags: ["Admin"],
    summary: "An order's status history (who, when, why) and its payments",
    security: [{ bearerAuth: [] }],
    request: { params: IdParamSchema },
    responses: { 200: { description: "The timeline", content: jsonContent(OrderTimelineSchema) }, ...authResponses, ...problemResponses },
  }),
  async (c) =>
    c.json(await readOrderTimeline(await c.get("dbFresh").orm(), c.req.valid("param").id), 200, { "Cache-Control": "private, no-store" }),
);
