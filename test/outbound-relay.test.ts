/**
 * The outbox relay: at-least-once and never lost across a crash mid-batch, no row taken by two relays
 * at once (FOR UPDATE SKIP LOCKED), each aggregate's events in order, and a post-commit nudge.
 *
 * Other test files run relays of their own on the same database (every order they place kicks one).
 * So the crash case works inside one transaction that no other connection can see (the relay's own
 * transactions are savepoints in it), and the concurrent cases only assert what other relays cannot
 * change (nothing published twice, nothing left unpublished, nothing out of order).
 */
import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/node-postgres";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Drizzle } from "../src/db/client.ts";
import * as schema from "../src/db/schema.ts";
import { relayOutbox } from "../src/services/outbox-relay.service.ts";
import { apiSettled, connect, createUser, jsonInit, runCron, sql } from "./helpers.ts";
import { makeProduct } from "./orders.helpers.ts";
import { answers, captureQueue, endpointRow, outboxCapture, runQueue, stubNetwork, verifyWith } from "./outbound-helpers.ts";

afterEach(() => vi.restoreAllMocks());

const realPostgres = env.TEST_DATABASE_KIND === "postgres";
type Sent = { outbox_id: number; aggregate_id: string; event_type: string };
const idsOf = (q: ReturnType<typeof captureQueue>) => q.sent.map((m) => (m.body as Sent).outbox_id);

/** Unpublished rows for `aggregates` (round robin), in id order. */
async function insertEvents(run: (q: string, p: unknown[]) => Promise<{ id: number }[]>, type: string, aggregates: string[], n: number) {
  const rows: { id: number; aggregate: string }[] = [];
  for (let i = 0; i < n; i++) {
    const aggregate = aggregates[i % aggregates.length] as string;
    const [r] = await run(
      "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload) VALUES ('order', $1, $2, $3::jsonb) RETURNING id::int",
      [aggregate, type, JSON.stringify({ seq: i })],
    );
    rows.push({ id: (r as { id: number }).id, aggregate });
  }
  return rows;
}

describe("outbox relay", () => {
  it("a crash after sending a batch but before marking it loses nothing; only that batch goes out twice; the fan-out makes one delivery per event", async () => {
    const type = `test.${crypto.randomUUID()}`;
    const aggregates = [crypto.randomUUID(), crypto.randomUUID()];
    // Subscribed before the events happen (an endpoint only gets events from after its registration).
    const ep = await endpointRow("https://relay.hooks.test/hook", { events: [type] });
    const client = await connect();
    const stream: Sent[] = [];
    try {
      await drizzle(client, { schema }).transaction(async (outer) => {
        // Savepoints in one transaction: no other connection (other suites' relays) sees these rows before the end.
        const tx = outer as unknown as Drizzle;
        const run = async (q: string, p: unknown[]) => (await client.query(q, p)).rows as { id: number }[];
        const rows = await insertEvents(run, type, aggregates, 7);
        const mineIds = new Set(rows.map((r) => r.id));
        const mine = (ids: number[]) => ids.filter((id) => mineIds.has(id));
        const unpublished = async () =>
          (await run("SELECT id::int FROM outbox WHERE id = ANY($1::bigint[]) AND published_at IS NULL ORDER BY id", [[...mineIds]])).map(
            (r) => r.id,
          );
        // The queue is down: nothing is sent, so nothing may be marked.
        const down = { sendBatch: async () => Promise.reject(new Error("queue unavailable (test)")) };
        await expect(relayOutbox(tx, down, { batchSize: 3, deadline: Date.now() + 10_000 })).rejects.toThrow(/unavailable/);
        expect(await unpublished()).toEqual(rows.map((r) => r.id));
        // Sends the batch holding our 4th event, then "dies" before the mark and the commit.
        const crashing = outboxCapture(mineIds);
        const crashingQueue = {
          sendBatch: async (m: Iterable<MessageSendRequest<{ outbox_id: number }>>) => {
            const batch = [...m];
            const res = await crashing.sendBatch(batch);
            if (batch.some((x) => x.body.outbox_id === rows[3]?.id)) throw new Error("worker killed (test)");
            return res;
          },
        };
        await expect(relayOutbox(tx, crashingQueue, { batchSize: 3, deadline: Date.now() + 10_000 })).rejects.toThrow(/killed/);
        const sentBeforeCrash = mine(idsOf(crashing));
        const published = (
          await run("SELECT id::int FROM outbox WHERE id = ANY($1::bigint[]) AND published_at IS NOT NULL ORDER BY id", [[...mineIds]])
        ).map((r) => r.id);
        // What went out before the crashed batch is marked; the crashed batch is not (its transaction never committed).
        expect(published).toEqual(
          sentBeforeCrash.filter((id) => id < (rows[3]?.id as number) && !sameBatch(crashing, id, rows[3]?.id as number)),
        );
        expect(published).not.toContain(rows[3]?.id);

        const healthy = outboxCapture(mineIds);
        await relayOutbox(tx, healthy, { batchSize: 3, deadline: Date.now() + 10_000 });
        const left = await run("SELECT id::int FROM outbox WHERE id = ANY($1::bigint[]) AND published_at IS NULL", [[...mineIds]]);
        expect(left).toEqual([]);
        // At least once: every event out; twice only the events of the crashed batch (our 4th among them).
        const all = [...sentBeforeCrash, ...mine(idsOf(healthy))];
        const counts = new Map<number, number>();
        for (const id of all) counts.set(id, (counts.get(id) ?? 0) + 1);
        const twice = rows.filter((r) => counts.get(r.id) === 2).map((r) => r.id);
        expect(rows.every((r) => (counts.get(r.id) ?? 0) >= 1)).toBe(true);
        expect(twice).toContain(rows[3]?.id);
        expect(twice.every((id) => sameBatch(crashing, id, rows[3]?.id as number))).toBe(true);
        expect(rows.filter((r) => (counts.get(r.id) ?? 0) > 2)).toEqual([]);
        // Per aggregate, first publications follow the event order.
        for (const a of aggregates) {
          const firsts = [...new Set(all)].filter((id) => rows.find((r) => r.id === id)?.aggregate === a);
          expect(firsts).toEqual([...firsts].sort((x, y) => x - y));
        }
        stream.push(...[...crashing.sent, ...healthy.sent].map((m) => m.body as unknown as Sent));
      });
    } finally {
      await client.end().catch(() => {});
    }

    // The duplicated stream through the real fan-out and delivery consumers: one delivery, one receipt per event.
    const net = stubNetwork();
    net.dns.set("relay.hooks.test", { A: ["93.184.216.34"] });
    net.routes.set("https://relay.hooks.test/", answers(200));
    const deliveries = captureQueue();
    const b = { ...env, WEBHOOK_DELIVERIES: deliveries, NOTIFICATIONS: captureQueue() } as unknown as Env;
    for (const m of stream) await runQueue("toko-outbox", [{ kind: "outbox-event", ...m }], b);
    const [count] = await sql<{ n: number; messages: number }>(
      "SELECT count(*)::int AS n, count(DISTINCT message_id)::int AS messages FROM webhook_deliveries WHERE endpoint_id = $1",
      [ep.id],
    );
    expect(count).toEqual({ n: 7, messages: 7 });
    await runQueue(
      "toko-webhook-deliveries",
      deliveries.sent.map((m) => m.body),
      b,
    );
    expect(net.received).toHaveLength(7);
    expect(new Set(net.received.map((r) => r.headers.get("webhook-id"))).size).toBe(7);
    const seqs = await Promise.all(net.received.map(async (r) => (await verifyWith(ep.secret, r)).data.seq as number));
    expect([...seqs].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await sql("DELETE FROM webhook_endpoints WHERE id = $1", [ep.id]);
  });

  it.skipIf(!realPostgres)("relays running at once never publish the same row (SKIP LOCKED), and publish every row", async () => {
    const type = `test.${crypto.randomUUID()}`;
    const rows = await insertEvents(
      async (q, p) => sql<{ id: number }>(q, p),
      type,
      Array.from({ length: 40 }, () => crypto.randomUUID()),
      120,
    );
    const mineIds = new Set(rows.map((r) => r.id));
    const clients = await Promise.all([1, 2, 3, 4].map(() => connect()));
    try {
      const queues = clients.map(() => outboxCapture(mineIds));
      await Promise.all(
        clients.map((c, i) =>
          relayOutbox(drizzle(c, { schema }) as unknown as Drizzle, queues[i] as ReturnType<typeof outboxCapture>, {
            batchSize: 7,
            deadline: Date.now() + 20_000,
          }),
        ),
      );
      const mine = queues.flatMap(idsOf);
      expect(mine.length).toBe(new Set(mine).size); // never twice
      expect(queues.filter((q) => idsOf(q).length > 0).length).toBeGreaterThan(1); // they did share the work
      const left = await sql("SELECT 1 FROM outbox WHERE id = ANY($1::bigint[]) AND published_at IS NULL", [[...mineIds]]);
      expect(left).toEqual([]);
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
    }
  });

  it.skipIf(!realPostgres)(
    "an aggregate's later event waits while an earlier one is held by another relay; other aggregates go on",
    async () => {
      const type = `test.${crypto.randomUUID()}`;
      const holder = await connect();
      try {
        let ids: { a1: number; a2: number; b1: number } | undefined;
        // Another suite's relay may take the rows between the insert and our lock: then try again.
        for (let attempt = 0; attempt < 5 && !ids; attempt++) {
          const [x, y] = [crypto.randomUUID(), crypto.randomUUID()];
          const rows = await sql<{ id: number }>(
            `INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
           SELECT 'order', t.a::uuid, $3, '{}'::jsonb FROM unnest(ARRAY[$1, $1, $2]) WITH ORDINALITY AS t(a, n) ORDER BY t.n RETURNING id::int`,
            [x, y, type],
          );
          const [a1, a2, b1] = rows.map((r) => r.id).sort((p, q) => p - q) as [number, number, number];
          await holder.query("BEGIN");
          const held = await holder.query("SELECT id FROM outbox WHERE id = $1 AND published_at IS NULL FOR UPDATE SKIP LOCKED", [a1]);
          if (held.rows.length === 1) ids = { a1, a2, b1 };
          else await holder.query("ROLLBACK");
        }
        if (!ids) throw new Error("could not hold the first event: other relays kept taking it");
        const q = outboxCapture(new Set([ids.a1, ids.a2, ids.b1]));
        const c = await connect();
        try {
          await relayOutbox(drizzle(c, { schema }) as unknown as Drizzle, q, { batchSize: 100, deadline: Date.now() + 5000 });
        } finally {
          await c.end().catch(() => {});
        }
        expect(idsOf(q)).not.toContain(ids.a1);
        expect(idsOf(q)).not.toContain(ids.a2);
        const state = async () =>
          new Map(
            (
              await sql<{ id: number; published: boolean }>(
                "SELECT id::int, published_at IS NOT NULL AS published FROM outbox WHERE id = ANY($1::int[])",
                [[ids?.a1, ids?.a2, ids?.b1]],
              )
            ).map((r) => [r.id, r.published]),
          );
        const during = await state();
        expect(during.get(ids.a2)).toBe(false); // no relay (ours or another suite's) may publish it before a1
        expect(during.get(ids.b1)).toBe(true);
        await holder.query("ROLLBACK");
        await relayOutbox(drizzle(holder, { schema }) as unknown as Drizzle, outboxCapture(new Set()), {
          batchSize: 100,
          deadline: Date.now() + 5000,
        });
        const after = await state();
        expect([after.get(ids.a1), after.get(ids.a2)]).toEqual([true, true]);
      } finally {
        await holder.query("ROLLBACK").catch(() => {});
        await holder.end().catch(() => {});
      }
    },
  );

  it("post-commit nudge: an order's events are published before its request's background work ends, not at the next cron tick", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10, price: 1200 });
    const res = await apiSettled(
      "/api/v1/orders",
      jsonInit("POST", { items: [{ sku: p.sku, qty: 1 }] }, { ...u.auth, "Idempotency-Key": crypto.randomUUID() }),
    );
    expect(res.status).toBe(201);
    const order = (await res.json()) as { id: string };
    const [row] = await sql<{ lag_ms: number | null }>(
      "SELECT extract(epoch FROM published_at - created_at) * 1000 AS lag_ms FROM outbox WHERE aggregate_id = $1",
      [order.id],
    );
    // No cron runs in tests: only a kick can have published it, within the request's waitUntil.
    expect(row?.lag_ms).not.toBeNull();
    expect(Number(row?.lag_ms)).toBeLessThan(5000);
  });

  it("the outbox-relay job publishes what is left (the cron path)", async () => {
    const [row] = await sql<{ id: number }>(
      "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload) VALUES ('order', gen_random_uuid(), $1, '{}') RETURNING id::int",
      [`test.${crypto.randomUUID()}`],
    );
    await runCron("* * * * *");
    const [r] = await sql<{ published: boolean }>("SELECT published_at IS NOT NULL AS published FROM outbox WHERE id = $1", [row?.id]);
    expect(r?.published).toBe(true);
  });
});

/** Were `a` and `b` sent in the same sendBatch call of `q`? (Messages of one call are recorded together, in id order.) */
function sameBatch(q: ReturnType<typeof outboxCapture>, a: number, b: number): boolean {
  return q.batches.some((batch) => batch.some((m) => m.outbox_id === a) && batch.some((m) => m.outbox_id === b));
}
