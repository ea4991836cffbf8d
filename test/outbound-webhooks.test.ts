/**
 * Webhook endpoints (ADMIN): register with a whsec_ secret shown once, list and read without it,
 * update, enable/disable, delete; and an order's events reaching a registered endpoint, signed.
 */
import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, apiSettled, createUser, expectProblem, jsonInit, sql } from "./helpers.ts";
import { answers, captureQueue, deliveryState, runQueue, type Stub, stubNetwork, verifyWith } from "./outbound-helpers.ts";
import { eventually, pendingOrder } from "./payments.helpers.ts";

const admin = await createUser("ADMIN");
const created: string[] = [];
let net: Stub;

beforeEach(() => {
  net = stubNetwork();
  net.dns.set("erp.hooks.test", { A: ["93.184.216.34"] });
});
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  if (created.length) await sql("DELETE FROM webhook_endpoints WHERE id = ANY($1::uuid[])", [created]);
});

type Endpoint = { id: string; url: string; events: string[]; enabled: boolean; disabled_reason: string | null; secret?: string };

async function register(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await apiSettled("/api/v1/admin/webhook-endpoints", jsonInit("POST", body, { ...admin.auth, ...headers }));
  if (res.status === 201) created.push(((await res.clone().json()) as { id: string }).id);
  return res;
}

describe("webhook endpoints API", () => {
  it("register: 201 with Location and a whsec_ secret that no read shows again", async () => {
    const res = await register({
      url: "https://erp.hooks.test/toko",
      events: ["order.created", "order.status_changed"],
      description: "ERP",
      enabled: false,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const ep = (await res.json()) as Endpoint;
    expect(res.headers.get("location")).toBe(`/api/v1/admin/webhook-endpoints/${ep.id}`);
    expect(ep).toMatchObject({ url: "https://erp.hooks.test/toko", events: ["order.created", "order.status_changed"], enabled: false });
    // 32 random bytes, base64: a Standard Webhooks key the official library accepts.
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const one = await (await api(`/api/v1/admin/webhook-endpoints/${ep.id}`, { headers: admin.auth })).text();
    const list = await (await api("/api/v1/admin/webhook-endpoints?limit=100", { headers: admin.auth })).text();
    for (const text of [one, list]) {
      expect(text).toContain(ep.id);
      expect(text).not.toContain((ep.secret as string).slice(6, 30));
      expect(text).not.toContain('"secret"');
    }
  });

  it("an Idempotency-Key replay returns the same endpoint (and secret) instead of registering a second one", async () => {
    const key = crypto.randomUUID();
    const body = { url: "https://erp.hooks.test/idem", events: ["*"], enabled: false };
    const a = (await (await register(body, { "Idempotency-Key": key })).json()) as Endpoint;
    const res = await register(body, { "Idempotency-Key": key });
    expect(res.headers.get("idempotent-replayed")).toBe("true");
    expect(((await res.json()) as Endpoint).id).toBe(a.id);
    expect(await sql("SELECT 1 FROM webhook_endpoints WHERE url = $1", [body.url])).toHaveLength(1);
  });

  it("validates: known event types or *, at least one, no unknown fields, a URL", async () => {
    for (const bad of [
      { url: "https://erp.hooks.test/x", events: ["order.nope"] },
      { url: "https://erp.hooks.test/x", events: [] },
      { url: "https://erp.hooks.test/x", events: ["*"], secret: "whsec_mine" },
      { url: "not a url", events: ["*"] },
      { events: ["*"] },
    ]) {
      await expectProblem(await register(bad), 400, "validation_error");
    }
  });

  it("update, disable (with a reason), re-enable (reason cleared), delete; unknown ids are 404", async () => {
    const ep = (await (await register({ url: "https://erp.hooks.test/upd", events: ["*"], enabled: false })).json()) as Endpoint;
    const patch = (body: unknown) => api(`/api/v1/admin/webhook-endpoints/${ep.id}`, jsonInit("PATCH", body, admin.auth));
    expect(await (await patch({ description: "renamed", events: ["payment.failed"] })).json()).toMatchObject({
      description: "renamed",
      events: ["payment.failed"],
    });
    await expectProblem(await patch({}), 400, "validation_error");
    await sql("UPDATE webhook_endpoints SET events = ARRAY['test.upd'] WHERE id = $1", [ep.id]);
    expect(await (await patch({ enabled: true })).json()).toMatchObject({ enabled: true, disabled_reason: null });
    const off = (await (await patch({ enabled: false })).json()) as Endpoint;
    expect(off).toMatchObject({ enabled: false, disabled_reason: expect.stringContaining(admin.id) });
    await expectProblem(
      await api(`/api/v1/admin/webhook-endpoints/${ep.id}/test`, { method: "POST", headers: admin.auth }),
      409,
      "webhook_endpoint_disabled",
    );
    const del = await api(`/api/v1/admin/webhook-endpoints/${ep.id}`, { method: "DELETE", headers: admin.auth });
    expect(del.status).toBe(204);
    await expectProblem(await api(`/api/v1/admin/webhook-endpoints/${ep.id}`, { headers: admin.auth }), 404);
    await expectProblem(await api(`/api/v1/admin/webhook-endpoints/${ep.id}`, { method: "DELETE", headers: admin.auth }), 404);
    await expectProblem(
      await api(`/api/v1/admin/webhook-endpoints/${crypto.randomUUID()}/rotate-secret`, { method: "POST", headers: admin.auth }),
      404,
    );
  });

  it("pages with a signed cursor", async () => {
    for (const n of [1, 2, 3]) await register({ url: `https://erp.hooks.test/page${n}`, events: ["*"], enabled: false });
    const first = (await (await api("/api/v1/admin/webhook-endpoints?limit=2", { headers: admin.auth })).json()) as {
      data: Endpoint[];
      has_more: boolean;
      next_cursor: string;
    };
    expect(first.data).toHaveLength(2);
    expect(first.has_more).toBe(true);
    const second = (await (
      await api(`/api/v1/admin/webhook-endpoints?limit=2&cursor=${first.next_cursor}`, { headers: admin.auth })
    ).json()) as {
      data: Endpoint[];
    };
    expect(second.data.map((e) => e.id)).not.toContain(first.data[0]?.id);
    await expectProblem(
      await api(`/api/v1/admin/webhook-endpoints?cursor=${first.next_cursor}x`, { headers: admin.auth }),
      400,
      "invalid_cursor",
    );
  });
});

describe("an order's events reach the endpoint, signed", () => {
  it("order.created: fanned out once per endpoint (a second publication is a no-op), delivered with the order as data", async () => {
    const res = await register({ url: "https://erp.hooks.test/orders", events: ["order.created"] });
    const ep = (await res.json()) as Endpoint & { secret: string };
    net.routes.set("https://erp.hooks.test/", answers(200));
    const u = await createUser();
    const order = await pendingOrder(u, 4200);
    const [ev] = await sql<{ id: number; event_type: string }>(
      "SELECT id::int, event_type FROM outbox WHERE aggregate_id = $1 AND event_type = 'order.created'",
      [order.id],
    );
    // The relay published it (to whichever runtime's queue); here its message goes through the consumers directly.
    const message = { kind: "outbox-event", outbox_id: ev?.id, event_type: "order.created", aggregate_id: order.id };
    const deliveries = captureQueue();
    const b = { ...env, WEBHOOK_DELIVERIES: deliveries, NOTIFICATIONS: captureQueue() } as unknown as Env;
    expect((await runQueue("toko-outbox", [message], b)).explicitAcks).toHaveLength(1);
    await runQueue("toko-outbox", [message], b); // at-least-once: the same event again
    const rows = await sql<{ id: string }>(
      "SELECT d.id FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id WHERE m.outbox_id = $1 AND d.endpoint_id = $2",
      [ev?.id, ep.id],
    );
    expect(rows).toHaveLength(1);
    const deliveryId = rows[0]?.id as string;
    // This runtime's own queues may get there first (the nudge published the event): either way, one attempt.
    const mine = deliveries.sent.filter((m) => (m.body as { delivery_id: string }).delivery_id === deliveryId);
    if (mine.length)
      await runQueue(
        "toko-webhook-deliveries",
        mine.map((m) => m.body),
        b,
      );
    await eventually(async () => (await deliveryState(deliveryId))?.status === "DELIVERED", 10_000);
    const received = net.received.filter((r) => r.headers.get("webhook-id") === `msg_${deliveryId.replaceAll("-", "")}`);
    expect(received).toHaveLength(1);
    const got = await verifyWith(ep.secret, received[0] as NonNullable<(typeof received)[0]>);
    expect(got).toMatchObject({
      type: "order.created",
      data: { order_id: order.id, user_id: u.id, status: "PENDING", total_cents: 4200, currency: "USD" },
    });
    expect(Number.isNaN(Date.parse(got.timestamp))).toBe(false);
  });

  it("an endpoint registered after an event does not get it (replay does that on purpose)", async () => {
    const u = await createUser();
    const order = await pendingOrder(u);
    const [ev] = await sql<{ id: number }>("SELECT id::int FROM outbox WHERE aggregate_id = $1", [order.id]);
    const ep = (await (await register({ url: "https://erp.hooks.test/late", events: ["order.created"] })).json()) as Endpoint;
    const deliveries = captureQueue();
    await runQueue("toko-outbox", [{ kind: "outbox-event", outbox_id: ev?.id, event_type: "order.created", aggregate_id: order.id }], {
      ...env,
      WEBHOOK_DELIVERIES: deliveries,
      NOTIFICATIONS: captureQueue(),
    } as unknown as Env);
    expect(await sql("SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1", [ep.id])).toHaveLength(0);
  });
});
