/** ADMIN: customer emails, newest first. With the sandbox provider (development) each keeps its rendered subject, text and HTML. */
import { createRoute } from "@hono/zod-openapi";
import { authResponses, jsonContent, problemResponses } from "../schemas/common.ts";
import { NotificationPageSchema, NotificationQuerySchema } from "../schemas/webhook-endpoints.ts";
import { notificationPage } from "../services/notifications.service.ts";
import { createRouter } from "./router.ts";

export const adminNotificationsRouter = createRouter().openapi(
  createRoute({
    method: "get",
    path: "/notifications",
    operationId: "adminListNotifications",
    tags: ["Admin"],
    summary: "Customer emails (order paid, shipped, refunded, payment failed) and their state; sandbox emails with their content",
    security: [{ bearerAuth: [] }],
    request: { query: NotificationQuerySchema },
    responses: { 200: { description: "A page", content: jsonContent(NotificationPageSchema) }, ...authResponses, ...problemResponses },
  }),
  async (c) =>
    c.json((await notificationPage(await c.get("dbFresh").orm(), c.get("config").CURSOR_SECRET, c.req.valid("query"))) as never, 200, {
      "Cache-Control": "no-store",
    }),
);
