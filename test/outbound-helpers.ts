/**
 * Helpers of the outbound webhook and notification suites: a stub DNS-over-HTTPS resolver and stub
 * receivers behind one fetch spy (the worker's own fetch, so queue consumers see it too), capturing
 * queues, and endpoints/deliveries made directly in the database.
 *
 * Test files run in separate runtimes that share one database: an enabled endpoint whose filter
 * matches common events (order.created…) also gets deliveries fanned out by other files' runtimes.
 * Endpoints made here subscribe to a private event type (`test.<uuid>`) so only this file attempts them.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { vi } from "vitest";
import worker from "../src/index.ts";
import { sql } from "./helpers.ts";

export const SVIX = "0,5,300,1800,7200,18000,36000,36000";

export type Handler = (req: Request) => Response | Promise<Response>;

/** What a receiver got, read at once: a queue consumer's Request cannot be read from the test's context later. */
export interface Received {
  url: string;
  redirect: string;
  headers: Headers;
  body: string;
}

export interface Stub {
  /** host → A/AAAA answers (DoH JSON). A host missing here is NXDOMAIN. */
  dns: Map<string, { A?: string[]; AAAA?: string[]; status?: number; ttl?: number }>;
  /** URL prefix → handler (the receivers). */
  routes: Map<string, Handler>;
  /** Every request that reached a receiver, in order. */
  received: Received[];
  /** Every DoH question asked: `name/type`. */
  dnsQueries: string[];
}

/** Installs the fetch spy; anything not routed goes to the real fetch (there is no network: it fails). */
export function stubNetwork(): Stub {
  const stub: Stub = { dns: new Map(), routes: new Map(), received: [], dnsQueries: [] };
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    const url = new URL(req.url);
    if (url.origin === "https://doh.stub") {
      const name = url.searchParams.get("name") ?? "";
      const type = url.searchParams.get("type") as "A" | "AAAA";
      stub.dnsQueries.push(`${name}/${type}`);
      const rec = stub.dns.get(name);
      if (!rec) return Response.json({ Status: 3, Answer: [] });
      if (rec.status !== undefined) return Response.json({ Status: rec.status });
      const data = rec[type] ?? [];
      return Response.json({ Status: 0, Answer: data.map((ip) => ({ name, type: type === "A" ? 1 : 28, TTL: rec.ttl ?? 30, data: ip })) });
    }
    for (const [prefix, handler] of stub.routes) {
      if (req.url.startsWith(prefix)) {
        const body = await req.clone().text();
        stub.received.push({ url: req.url, redirect: req.redirect, headers: new Headers(req.headers), body });
        return handler(req);
      }
    }
    return real(input as RequestInfo, init);
  });
  return stub;
}

/** A handler answering the given statuses in turn (the last one repeats). */
export function answers(...seq: (number | [number, Record<string, string>])[]): Handler {
  let i = 0;
  return () => {
    const a = seq[Math.min(i++, seq.length - 1)] as number | [number, Record<string, string>];
    const [status, headers] = typeof a === "number" ? [a, {}] : a;
    return new Response(status === 204 ? null : `answer ${status}`, { status, headers });
  };
}

export function newSecret(): string {
  return `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
}

/** An enabled endpoint subscribed to a private event type, straight into the database. */
export async function endpointRow(url: string, opts: { secret?: string; events?: string[] } = {}) {
  const secret = opts.secret ?? newSecret();
  const [row] = await sql<{ id: string }>("INSERT INTO webhook_endpoints (url, events, secret) VALUES ($1, $2, $3) RETURNING id", [
    url,
    opts.events ?? [`test.${crypto.randomUUID()}`],
    secret,
  ]);
  return { id: row?.id as string, secret };
}

/** A message of `type` and one PENDING delivery of it to `endpointId`. */
export async function deliveryRow(endpointId: string, type = "test.event", payload: unknown = { n: 1 }): Promise<string> {
  const [m] = await sql<{ id: string }>(
    "INSERT INTO webhook_messages (event_type, payload, occurred_at) VALUES ($1, $2::jsonb, now()) RETURNING id",
    [type, JSON.stringify(payload)],
  );
  const [d] = await sql<{ id: string }>("INSERT INTO webhook_deliveries (message_id, endpoint_id) VALUES ($1, $2) RETURNING id", [
    m?.id,
    endpointId,
  ]);
  return d?.id as string;
}

export interface Captured<T = unknown> {
  body: T;
  delaySeconds: number;
}

/**
 * A queue binding that records what is sent instead of sending it. With `foreign`, messages that are
 * not this test's (a relay publishes every unpublished row, other suites' too) go on to the real
 * queue, so other suites do not lose their events to our capture.
 */
export function captureQueue<T = unknown>(opts: { foreign?: { isMine: (body: T) => boolean; to: Queue } } = {}) {
  const sent: Captured<T>[] = [];
  /** The kept bodies of each sendBatch call. */
  const batches: T[][] = [];
  const q = {
    sent,
    batches,
    async send(body: T, o?: QueueSendOptions) {
      sent.push({ body, delaySeconds: o?.delaySeconds ?? 0 });
      return {} as QueueSendResponse;
    },
    async sendBatch(msgs: Iterable<MessageSendRequest<T>>) {
      const others: MessageSendRequest<T>[] = [];
      const kept: T[] = [];
      for (const m of msgs) {
        if (opts.foreign && !opts.foreign.isMine(m.body)) others.push(m);
        else {
          sent.push({ body: m.body, delaySeconds: m.delaySeconds ?? 0 });
          kept.push(m.body);
        }
      }
      batches.push(kept);
      if (others.length) await opts.foreign?.to.sendBatch(others);
      return {} as QueueSendBatchResponse;
    },
  };
  // Only send and sendBatch are used by the code under test.
  return q as typeof q & Queue<T>;
}

/** A capture of the outbox queue that keeps only `ids` (outbox ids) and forwards every other event to the real queue. */
export function outboxCapture(ids: Set<number>) {
  return captureQueue<{ outbox_id: number }>({ foreign: { isMine: (b) => ids.has(b.outbox_id), to: env.OUTBOX_EVENTS } });
}

/** Runs one batch through the worker's real `queue()` entry with `bindings`; returns its acks and retries. */
export async function runQueue(queue: string, bodies: unknown[], bindings: Env = env) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `m${i}-${crypto.randomUUID().slice(0, 8)}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue?.(batch, bindings, ctx);
  return getQueueResult(batch, ctx);
}

/** Verifies a delivery with the official Standard Webhooks library; returns the parsed body. */
export async function verifyWith(
  secret: string,
  req: Received,
): Promise<{ type: string; timestamp: string; data: Record<string, unknown> }> {
  const headers = {
    "webhook-id": req.headers.get("webhook-id") ?? "",
    "webhook-timestamp": req.headers.get("webhook-timestamp") ?? "",
    "webhook-signature": req.headers.get("webhook-signature") ?? "",
  };
  return new Webhook(secret).verify(req.body, headers) as { type: string; timestamp: string; data: Record<string, unknown> };
}

export async function deliveryState(id: string) {
  const [row] = await sql<{ status: string; attempts: number; next_in_sec: number; last_status: number | null; last_error: string | null }>(
    `SELECT status::text AS status, attempts, extract(epoch FROM next_attempt_at - now())::float8 AS next_in_sec, last_status, last_error
     FROM webhook_deliveries WHERE id = $1`,
    [id],
  );
  return row;
}

/** Makes a scheduled retry due now (as if its delay had passed). */
export async function makeDue(id: string): Promise<void> {
  await sql("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE id = $1", [id]);
}
