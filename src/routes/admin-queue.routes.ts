/** ADMIN: dead letters (list, replay one, replay since) and queue stats. Replays cannot double-apply: settlement is idempotent. */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import { IdParamSchema } from "../schemas/admin-catalog.ts";
import { authResponses, jsonContent, problemResponses } from "../schemas/common.ts";
import { DeadLetterQuerySchema, DeadLetterSchema, ReplaySinceSchema } from "../schemas/payments.ts";
import { deadLetterPage, replayDeadLetters, webhookQueueStats } from "../services/dead-letters.service.ts";
import { outboundQueues, replayOutbound } from "../services/outbound-maintenance.service.ts";
import { createRouter } from "./router.ts";

const security = [{ bearerAuth: [] }];

async function replay(c: Context<AppEnv>, sel: { id: string } | { since: string }) {
  const rows = await replayDeadLetters(await c.get("dbFresh").orm(), c.env.PAYMENT_EVENTS, sel, (db, body) =>
    replayOutbound(db, outboundQueues(c.env), body),
  );
  c.get("log").info("dead letters replayed", { component: "admin", count: rows.length, actor: c.get("principal").userId });
  return rows;
}

export const adminQueueRouter = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/dlq",
      operationId: "adminListDeadLetters",
      tags: ["Admin"],
      summary: "Dead-lettered messages, newest first",
      security,
      request: { query: DeadLetterQuerySchema },
      responses: {
        200: {
          description: "A page",
          content: jsonContent(z.object({ data: z.array(DeadLetterSchema), has_more: z.boolean(), next_cursor: z.string().nullable() })),
        },
        ...authResponses,
        ...problemResponses,
      },
    }),
    async (c) => c.json(await deadLetterPage(await c.get("dbFresh").orm(), c.get("config").CURSOR_SECRET, c.req.valid("query")), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/dlq/{id}/replay",
      operationId: "adminReplayDeadLetter",
      tags: ["Admin"],
      summary: "Send one dead letter back to its queue",
      security,
      request: { params: IdParamSchema },
      responses: { 202: { description: "Re-queued", content: jsonContent(DeadLetterSchema) }, ...authResponses, ...problemResponses },
    }),
    async (c) => {
      const [first] = await replay(c, { id: c.req.valid("param").id });
      return c.json(first as never, 202);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/dlq/replay",
      operationId: "adminReplayDeadLettersSince",
      tags: ["Admin"],
      summary: "Replay every dead letter last seen since a time",
      security,
      request: { body: { required: true, content: jsonContent(ReplaySinceSchema) } },
      responses: {
        202: { description: "Re-queued", content: jsonContent(z.object({ replayed: z.number().int(), data: z.array(DeadLetterSchema) })) },
        ...authResponses,
        ...problemResponses,
      },
    }),
    async (c) => {
      const data = await replay(c, { since: c.req.valid("json").since });
      return c.json({ replayed: data.length, data } as never, 202);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/stats",
      operationId: "adminQueueStats",
      tags: ["Admin"],
      summary: "Webhook events per status, RECEIVED backlog (oldest age, overdue for the sweeper), DLQ size",
      security,
      responses: {
        200: { description: "Stats", content: jsonContent(z.record(z.string(), z.number().nullable())) },
        ...authResponses,
        ...problemResponses,
      },
    }),
    async (c) =>
      c.json((await webhookQueueStats(await c.get("dbFresh").orm(), c.get("config"))) as Record<string, number | null>, 200, {
        "Cache-Control": "no-store",
      }),
  );
