/** ADMIN: dead letters (list, replay one, replay since) and queue stats. Replays cannot double-apply: settlement is idempotent. */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { PaymentEventMessage } from "../../queues/messages.ts";
import type { AppEnv } from "../app-env.ts";
import { claimForReplay, type DeadLetterRow, listDeadLetters, queueStats, reopenWebhookEvent } from "../db/payments.repo.ts";
import { keysetPage, PG_TIMESTAMP, readKeyset } from "../lib/cursor.ts";
import { ApiError } from "../lib/problem.ts";
import { createRouter } from "../lib/router.ts";
import { IdParamSchema } from "../schemas/admin-catalog.ts";
import { authResponses, jsonContent, problemResponses } from "../schemas/common.ts";
import { DeadLetterQuerySchema, DeadLetterSchema, ReplaySinceSchema } from "../schemas/payments.ts";

const security = [{ bearerAuth: [] }];
const dto = (r: DeadLetterRow) => {
  const { seen_key: _k, ...rest } = r as DeadLetterRow & { seen_key?: string };
  return rest;
};

async function replay(c: Context<AppEnv>, rows: DeadLetterRow[]) {
  const db = await c.get("dbFresh").orm();
  for (const r of rows) {
    const body = r.body as PaymentEventMessage;
    if (body.kind === "payment-event") await reopenWebhookEvent(db, body.webhook_event_id);
    await c.env.PAYMENT_EVENTS.send(body, { contentType: "json" });
  }
  c.get("log").info("dead letters replayed", { component: "admin", count: rows.length, actor: c.get("principal").userId });
  return rows.map(dto);
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
    async (c) => {
      const q = c.req.valid("query");
      const secret = c.get("config").CURSOR_SECRET;
      const scope = JSON.stringify(["dlq", q.status ?? "", q.queue ?? ""]);
      const pos = await readKeyset(secret, scope, q.cursor, PG_TIMESTAMP);
      const limit = q.limit ?? 20;
      const rows = await listDeadLetters(
        await c.get("dbFresh").orm(),
        { status: q.status, queue: q.queue },
        pos && { seen: pos.key, id: pos.id },
        limit,
      );
      return c.json(await keysetPage(rows, limit, { secret, scope, keyOf: (r) => r.seen_key }, dto), 200);
    },
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
      const rows = await claimForReplay(await c.get("dbFresh").orm(), { id: c.req.valid("param").id });
      if (!rows.length) throw new ApiError("not_found", "No dead letter with that id is waiting (already replayed?).");
      const [first] = await replay(c, rows);
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
      const rows = await claimForReplay(await c.get("dbFresh").orm(), { since: c.req.valid("json").since });
      const data = await replay(c, rows);
      return c.json({ replayed: data.length, data } as never, 202);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/stats",
      operationId: "adminQueueStats",
      tags: ["Admin"],
      summary: "Webhook processing counts, oldest pending age, DLQ size",
      security,
      responses: {
        200: { description: "Stats", content: jsonContent(z.record(z.string(), z.number().nullable())) },
        ...authResponses,
        ...problemResponses,
      },
    }),
    async (c) =>
      c.json((await queueStats(await c.get("dbFresh").orm())) as Record<string, number | null>, 200, { "Cache-Control": "no-store" }),
  );
