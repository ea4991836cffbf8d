/**
 * Customer emails: one per customer-facing event (never two, whatever the queues repeat), rendered
 * as text and HTML, kept by the sandbox provider and listed at GET /api/v1/admin/notifications, sent
 * through Resend over fetch with an idempotency key, retried, and dead-lettered.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { render, templateFor } from "../src/notifications/templates.ts";
import { api, createUser, expectProblem, sql, type TestUser } from "./helpers.ts";
import { makeProduct, placeOrder, setStatus } from "./orders.helpers.ts";
import { captureQueue, runQueue, stubNetwork } from "./outbound-helpers.ts";
import { eventually, pay } from "./payments.helpers.ts";

const admin = await createUser("ADMIN");
afterEach(() => vi.restoreAllMocks());

type Notification = {
  id: string;
  event_key: string;
  template: string;
  recipient: string;
  status: string;
  attempts: number;
  provider: string | null;
  provider_message_id: string | null;
  subject: string | null;
  text_body: string | null;
  html_body: string | null;
};

async function order(u: TestUser, name = "Walnut desk", price = 2500) {
  const p = await makeProduct({ stock: 10, price });
  await sql("UPDATE products SET name = $1 WHERE id = $2", [name, p.id]);
  const o = (await (await placeOrder(u, { items: [{ sku: p.sku, qty: 1 }] })).json()) as { id: string; version: number };
  return o;
}

async function notificationsOf(orderId: string): Promise<Notification[]> {
  const res = await api(`/api/v1/admin/notifications?order_id=${orderId}`, { headers: admin.auth });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: Notification[] }).data;
}

const fanOutBindings = () => {
  const notifications = captureQueue();
  return { notifications, env: { ...env, NOTIFICATIONS: notifications, WEBHOOK_DELIVERIES: captureQueue() } as unknown as Env };
};

describe("which events send an email, and what it says", () => {
  it("paid, shipped, refunded (in full or in part) and a failed payment do; nothing else", () => {
    const sc = (to: string) => ({ event_type: "order.status_changed", payload: { to } });
    expect([sc("PAID"), sc("SHIPPED"), sc("REFUNDED")].map(templateFor)).toEqual(["order_paid", "order_shipped", "order_refunded"]);
    expect(templateFor({ event_type: "order.refunded_partially", payload: {} })).toBe("order_refunded");
    expect(templateFor({ event_type: "payment.failed", payload: {} })).toBe("payment_failed");
    for (const e of [
      sc("CANCELLED"),
      sc("FULFILLED"),
      sc("DELIVERED"),
      { event_type: "order.created", payload: {} },
      { event_type: "payment.surplus_captured", payload: {} },
    ])
      expect(templateFor(e)).toBeNull();
  });

  it("renders plain text and HTML; whatever comes from the catalogue is escaped in the HTML", () => {
    const order = {
      id: "3f2a9c0e-5d55-4c4f-9a0c-3b8e0d2f6a11",
      currency: "USD",
      total_cents: 2500,
      items: [{ sku: "X-1", name: `<script>alert("x")</script> & co`, qty: 1, line_total_cents: 2500 }],
    };
    const m = render("order_paid", order, { to: "PAID" });
    expect(m.subject).toBe("Order 3F2A9C0E: payment received");
    expect(m.text).toContain("$25.00");
    expect(m.text).toContain(`1 × <script>alert("x")</script> & co (X-1)`);
    expect(m.html).not.toContain("<script>");
    expect(m.html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co");
    expect(render("order_refunded", order, { amount_refunded_cents: 1000 }).text).toContain("We refunded $10.00 of $25.00");
    expect(render("order_paid", { ...order, currency: "JPY", total_cents: 2500 }, {}).text).toContain("¥2,500");
  });
});

describe("sending", () => {
  it("an order paid: one email per event (a second publication and duplicate messages send nothing more), kept by the sandbox", async () => {
    const u = await createUser();
    const o = await order(u);
    expect((await setStatus(admin, o.id, "PAID", o.version)).status).toBe(200);
    const [ev] = await sql<{ id: number }>("SELECT id::int FROM outbox WHERE aggregate_id = $1 AND payload->>'to' = 'PAID'", [o.id]);
    const message = { kind: "outbox-event", outbox_id: ev?.id, event_type: "order.status_changed", aggregate_id: o.id };
    const { notifications, env: b } = fanOutBindings();
    await runQueue("toko-outbox", [message], b);
    await runQueue("toko-outbox", [message], b);
    expect(await sql("SELECT 1 FROM notifications WHERE event_key = $1", [`outbox:${ev?.id}`])).toHaveLength(1);
    // Every copy of its queue message at once, and again: one send (this runtime's own queue may be first; it is the same code).
    const copies = notifications.sent.map((m) => m.body);
    await Promise.all([runQueue("toko-notifications", copies, b), runQueue("toko-notifications", copies, b)]);
    const [n] = await eventually(async () => {
      const list = await notificationsOf(o.id);
      return list[0]?.status === "SENT" ? list : null;
    });
    expect(n).toMatchObject({
      template: "order_paid",
      recipient: u.email,
      attempts: 1,
      provider: "sandbox",
      event_key: `outbox:${ev?.id}`,
    });
    expect(n?.subject).toMatch(/^Order [0-9A-F]{8}: payment received$/);
    expect(n?.text_body).toContain("$25.00");
    expect(n?.text_body).toContain("Walnut desk");
    expect(n?.html_body).toContain("<table");
  });

  it("end to end: a sandbox payment that succeeds ends in an 'order paid' email, without anyone calling a consumer by hand", async () => {
    const u = await createUser();
    const o = await order(u, "Oak shelf", 1900);
    expect((await pay(u, { order_id: o.id, test_outcome: "succeeded" })).status).toBe(201);
    const [n] = await eventually(async () => {
      const list = await notificationsOf(o.id);
      return list.some((x) => x.status === "SENT") ? list : null;
    }, 25_000);
    expect(n).toMatchObject({ template: "order_paid", recipient: u.email, status: "SENT" });
    expect(n?.text_body).toContain("$19.00");
  });

  it("a failed payment attempt writes payment.failed (trigger) and mails the customer once", async () => {
    const u = await createUser();
    const o = await order(u, "Birch stool", 3100);
    expect((await pay(u, { order_id: o.id, test_outcome: "failed" })).status).toBe(201);
    const [ev] = await eventually(async () => {
      const rows = await sql<{ id: number; payload: Record<string, unknown> }>(
        "SELECT id::int, payload FROM outbox WHERE aggregate_id = $1 AND event_type = 'payment.failed'",
        [o.id],
      );
      return rows.length ? rows : null;
    }, 15_000);
    expect(ev?.payload).toMatchObject({ order_id: o.id, user_id: u.id, amount_cents: 3100, currency: "USD", failed_attempts: 1 });
    const { env: b, notifications } = fanOutBindings();
    await runQueue("toko-outbox", [{ kind: "outbox-event", outbox_id: ev?.id, event_type: "payment.failed", aggregate_id: o.id }], b);
    await runQueue(
      "toko-notifications",
      notifications.sent.map((m) => m.body),
      b,
    );
    const list = await eventually(async () => {
      const l = await notificationsOf(o.id);
      return l.some((x) => x.template === "payment_failed" && x.status === "SENT") ? l : null;
    });
    expect(list.filter((x) => x.template === "payment_failed")).toHaveLength(1);
    expect(list.find((x) => x.template === "payment_failed")?.subject).toMatch(/did not go through/);
  });
});

describe("Resend (the real provider, over fetch)", () => {
  const resend = { ...env, EMAIL_PROVIDER: "resend", RESEND_API_KEY: "re_test_0123456789" } as unknown as Env;

  /** A notification no queue knows about (so only this test sends it). */
  async function pendingNotification(u: TestUser) {
    const o = await order(u, "Maple chair", 4500);
    const [n] = await sql<{ id: string }>(
      `INSERT INTO notifications (event_key, event_type, template, order_id, user_id, recipient, payload)
       VALUES ($1, 'order.status_changed', 'order_shipped', $2, $3, $4, '{"to":"SHIPPED"}') RETURNING id`,
      [`test:${crypto.randomUUID()}`, o.id, u.id, u.email],
    );
    return n?.id as string;
  }

  it("posts to /emails with the key and the notification's Idempotency-Key; a 500 is retried by the queue, then it is sent once", async () => {
    const net = stubNetwork();
    let calls = 0;
    net.routes.set("https://resend.stub/", () =>
      ++calls === 1 ? new Response("upstream", { status: 500 }) : Response.json({ id: "re_msg_42" }),
    );
    const u = await createUser();
    const id = await pendingNotification(u);
    const first = await runQueue("toko-notifications", [{ kind: "notification", notification_id: id }], resend);
    expect(first.retryMessages).toHaveLength(1);
    const [mid] = await sql<{ status: string; attempts: number; last_error: string }>(
      "SELECT status::text, attempts, last_error FROM notifications WHERE id = $1",
      [id],
    );
    expect(mid).toMatchObject({ status: "PENDING", attempts: 1, last_error: expect.stringContaining("500") });
    const second = await runQueue("toko-notifications", [{ kind: "notification", notification_id: id }], resend);
    expect(second.explicitAcks).toHaveLength(1);
    expect(net.received).toHaveLength(2);
    for (const r of net.received) {
      expect(r.url).toBe("https://resend.stub/emails");
      expect(r.headers.get("authorization")).toBe("Bearer re_test_0123456789");
      expect(r.headers.get("idempotency-key")).toBe(`toko-notification-${id}`);
      const body = JSON.parse(r.body) as { to: string[]; from: string; subject: string; text: string; html: string };
      expect(body).toMatchObject({ to: [u.email], from: "Toko <orders@toko.example>", subject: expect.stringMatching(/has shipped/) });
      expect(body.text).toContain("Maple chair");
      expect(body.html).toContain("Maple chair");
    }
    const [done] = await sql<Notification>(
      "SELECT status::text AS status, provider, provider_message_id, subject FROM notifications WHERE id = $1",
      [id],
    );
    // A real provider keeps nothing of the message here.
    expect(done).toMatchObject({ status: "SENT", provider: "resend", provider_message_id: "re_msg_42", subject: null });
    await runQueue("toko-notifications", [{ kind: "notification", notification_id: id }], resend);
    expect(net.received).toHaveLength(2);
  });

  it("a refusal (422) is not retried: FAILED and a dead letter at once", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const net = stubNetwork();
    net.routes.set("https://resend.stub/", () => Response.json({ message: "invalid `to`" }, { status: 422 }));
    const id = await pendingNotification(await createUser());
    const res = await runQueue("toko-notifications", [{ kind: "notification", notification_id: id }], resend);
    expect(res.explicitAcks).toHaveLength(1);
    const [n] = await sql<{ status: string }>("SELECT status::text FROM notifications WHERE id = $1", [id]);
    expect(n?.status).toBe("FAILED");
    const [dl] = await sql<{ queue: string; last_error: string }>("SELECT queue, last_error FROM dead_letters WHERE message_key = $1", [
      `notification:${id}`,
    ]);
    expect(dl).toMatchObject({ queue: "toko-notifications", last_error: expect.stringContaining("422") });
  });
});

describe("the outbound dead-letter queue", () => {
  it("records each kind as a dead letter (visible in the admin queue API), marks its row FAILED, and replays it", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const u = await createUser();
    const o = await order(u, "Ash bench", 1500);
    const [n] = await sql<{ id: string }>(
      `INSERT INTO notifications (event_key, event_type, template, order_id, user_id, recipient, payload)
       VALUES ($1, 'order.status_changed', 'order_paid', $2, $3, $4, '{"to":"PAID"}') RETURNING id`,
      [`test:${crypto.randomUUID()}`, o.id, u.id, u.email],
    );
    const [ob] = await sql<{ id: number }>("SELECT id::int FROM outbox WHERE aggregate_id = $1", [o.id]);
    const malformed = { kind: "notification", notification_id: "not-a-uuid" };
    const res = await runQueue("toko-outbound-dlq", [
      { kind: "notification", notification_id: n?.id },
      { kind: "outbox-event", outbox_id: ob?.id, event_type: "order.created", aggregate_id: o.id },
      malformed,
    ]);
    expect(res.explicitAcks).toHaveLength(3);
    const [row] = await sql<{ status: string; last_error: string }>("SELECT status::text, last_error FROM notifications WHERE id = $1", [
      n?.id,
    ]);
    expect(row).toMatchObject({ status: "FAILED", last_error: "its consumer failed 1 times" });
    const list = (await (await api("/api/v1/admin/queue/dlq?status=DEAD&limit=100", { headers: admin.auth })).json()) as {
      data: { id: string; queue: string; message_key: string; body: { notification_id?: string } }[];
    };
    const mail = list.data.find((d) => d.message_key === `notification:${n?.id}`);
    expect(mail?.queue).toBe("toko-notifications");
    expect(list.data.find((d) => d.message_key === `outbox:${ob?.id}`)?.queue).toBe("toko-outbox");
    expect(list.data.some((d) => d.queue === "toko-outbound-dlq" && d.message_key.startsWith("message:"))).toBe(true);
    const stats = (await (await api("/api/v1/admin/queue/stats", { headers: admin.auth })).json()) as Record<string, number>;
    expect(stats).toHaveProperty("notifications_failed");
    expect(stats).toHaveProperty("outbox_unpublished");

    const replay = await api(`/api/v1/admin/queue/dlq/${mail?.id}/replay`, { method: "POST", headers: admin.auth });
    expect(replay.status).toBe(202);
    await eventually(
      async () => (await sql<{ status: string }>("SELECT status::text FROM notifications WHERE id = $1", [n?.id]))[0]?.status === "SENT",
      15_000,
    );
    await expectProblem(await api(`/api/v1/admin/queue/dlq/${mail?.id}/replay`, { method: "POST", headers: admin.auth }), 404);
  });
});
