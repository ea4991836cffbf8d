/** ADMIN: outbound webhook endpoints, their delivery log, retries and replays (docs/webhooks.md). */
import { createRoute, z } from "@hono/zod-openapi";
import { IdParamSchema } from "../schemas/admin-catalog.ts";
import { authResponses, jsonContent, problem, problemResponses } from "../schemas/common.ts";
import {
  DeliveryPageSchema,
  DeliveryQuerySchema,
  DeliverySchema,
  EndpointCreateSchema,
  EndpointPageSchema,
  EndpointSchema,
  EndpointUpdateSchema,
  EndpointWithSecretSchema,
  PageQuerySchema,
  PingSchema,
  ReplaySchema,
} from "../schemas/webhook-endpoints.ts";
import {
  createEndpoint,
  deliveryPage,
  endpointPage,
  patchEndpoint,
  pingEndpoint,
  readEndpoint,
  removeEndpoint,
  replayEndpointSince,
  retryDelivery,
  rotateEndpointSecret,
} from "../services/webhook-endpoints.service.ts";
import { createRouter } from "./router.ts";

const security = [{ bearerAuth: [] }];
const tags = ["Admin"];
const errors = {
  ...authResponses,
  409: problem("The endpoint is disabled, or an attempt is in flight"),
  422: problem("The URL may not receive webhooks (SSRF rules): `reason` says why"),
  ...problemResponses,
};
const body = <T>(schema: T) => ({ body: { required: true, content: jsonContent(schema) } });
/** Answers that carry a secret are never stored by a cache. */
const NO_STORE = { "Cache-Control": "no-store" };

export const adminWebhookEndpointsRouter = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/webhook-endpoints",
      operationId: "adminCreateWebhookEndpoint",
      tags,
      summary: "Register a webhook endpoint; its whsec_ signing secret is in this answer only",
      security,
      request: body(EndpointCreateSchema),
      responses: { 201: { description: "Created", content: jsonContent(EndpointWithSecretSchema) }, ...errors },
    }),
    async (c) => {
      const ep = await createEndpoint(await c.get("dbFresh").orm(), c.get("config"), c.req.valid("json"));
      c.get("log").info("webhook endpoint created", { component: "admin", endpoint_id: ep.id, actor: c.get("principal").userId });
      return c.json(ep, 201, { ...NO_STORE, Location: `/api/v1/admin/webhook-endpoints/${ep.id}` });
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/webhook-endpoints",
      operationId: "adminListWebhookEndpoints",
      tags,
      summary: "Webhook endpoints, newest first (secrets are never listed)",
      security,
      request: { query: PageQuerySchema },
      responses: { 200: { description: "A page", content: jsonContent(EndpointPageSchema) }, ...errors },
    }),
    async (c) => c.json(await endpointPage(await c.get("dbFresh").orm(), c.get("config").CURSOR_SECRET, c.req.valid("query")), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/webhook-endpoints/{id}",
      operationId: "adminGetWebhookEndpoint",
      tags,
      summary: "One webhook endpoint",
      security,
      request: { params: IdParamSchema },
      responses: { 200: { description: "The endpoint", content: jsonContent(EndpointSchema) }, ...errors },
    }),
    async (c) => c.json(await readEndpoint(await c.get("dbFresh").orm(), c.req.valid("param").id), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/webhook-endpoints/{id}",
      operationId: "adminUpdateWebhookEndpoint",
      tags,
      summary: "Change url, events, description, or enable/disable",
      security,
      request: { params: IdParamSchema, ...body(EndpointUpdateSchema) },
      responses: { 200: { description: "Updated", content: jsonContent(EndpointSchema) }, ...errors },
    }),
    async (c) => {
      const actor = c.get("principal").userId;
      const ep = await patchEndpoint(await c.get("dbFresh").orm(), c.get("config"), c.req.valid("param").id, c.req.valid("json"), actor);
      c.get("log").info("webhook endpoint updated", { component: "admin", endpoint_id: ep.id, enabled: ep.enabled, actor });
      return c.json(ep, 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/webhook-endpoints/{id}",
      operationId: "adminDeleteWebhookEndpoint",
      tags,
      summary: "Delete an endpoint with its delivery log",
      security,
      request: { params: IdParamSchema },
      responses: { 204: { description: "Deleted" }, ...errors },
    }),
    async (c) => {
      await removeEndpoint(await c.get("dbFresh").orm(), c.req.valid("param").id);
      c.get("log").info("webhook endpoint deleted", {
        component: "admin",
        endpoint_id: c.req.valid("param").id,
        actor: c.get("principal").userId,
      });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/webhook-endpoints/{id}/rotate-secret",
      operationId: "adminRotateWebhookSecret",
      tags,
      summary: "New signing secret (shown once); the previous one keeps signing for WEBHOOK_SECRET_GRACE_SEC",
      security,
      request: { params: IdParamSchema },
      responses: { 200: { description: "Rotated", content: jsonContent(EndpointWithSecretSchema) }, ...errors },
    }),
    async (c) => {
      const ep = await rotateEndpointSecret(await c.get("dbFresh").orm(), c.get("config"), c.req.valid("param").id);
      c.get("log").info("webhook secret rotated", { component: "admin", endpoint_id: ep.id, actor: c.get("principal").userId });
      return c.json(ep, 200, NO_STORE);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/webhook-endpoints/{id}/test",
      operationId: "adminPingWebhookEndpoint",
      tags,
      summary: "Send a signed `ping` event through the normal delivery path",
      security,
      request: { params: IdParamSchema },
      responses: { 202: { description: "Queued", content: jsonContent(PingSchema) }, ...errors },
    }),
    async (c) => c.json(await pingEndpoint(await c.get("dbFresh").orm(), c.env.WEBHOOK_DELIVERIES, c.req.valid("param").id), 202),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/webhook-endpoints/{id}/deliveries",
      operationId: "adminListWebhookDeliveries",
      tags,
      summary: "The endpoint's deliveries, newest first, each with every attempt",
      security,
      request: { params: IdParamSchema, query: DeliveryQuerySchema },
      responses: { 200: { description: "A page", content: jsonContent(DeliveryPageSchema) }, ...errors },
    }),
    async (c) =>
      c.json(
        await deliveryPage(await c.get("dbFresh").orm(), c.get("config").CURSOR_SECRET, c.req.valid("param").id, c.req.valid("query")),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/webhook-endpoints/{id}/replay",
      operationId: "adminReplayWebhookEndpoint",
      tags,
      summary: "Deliver again every event since a time that this endpoint did not get (failed, cancelled, or never sent)",
      security,
      request: { params: IdParamSchema, ...body(ReplaySchema) },
      responses: { 202: { description: "Queued", content: jsonContent(z.object({ replayed: z.number().int() })) }, ...errors },
    }),
    async (c) => {
      const id = c.req.valid("param").id;
      const res = await replayEndpointSince(await c.get("dbFresh").orm(), c.env.WEBHOOK_DELIVERIES, id, c.req.valid("json").since);
      c.get("log").info("webhook deliveries replayed", { component: "admin", endpoint_id: id, ...res, actor: c.get("principal").userId });
      return c.json(res, 202);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/webhook-deliveries/{id}/retry",
      operationId: "adminRetryWebhookDelivery",
      tags,
      summary: "One more attempt of a delivery now (same webhook-id)",
      security,
      request: { params: IdParamSchema },
      responses: { 202: { description: "Queued", content: jsonContent(DeliverySchema) }, ...errors },
    }),
    async (c) =>
      c.json((await retryDelivery(await c.get("dbFresh").orm(), c.env.WEBHOOK_DELIVERIES, c.req.valid("param").id)) as never, 202),
  );
