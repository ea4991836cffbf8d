/** Inbound webhook verification, with the official libraries as oracles. */
import { Webhook } from "standardwebhooks";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { expectProblem, sql } from "./helpers.ts";
import { postWebhook, SANDBOX_SECRETS, STRIPE_SECRETS } from "./payments.helpers.ts";

const stripe = new Stripe("sk_test_unused");
const stored = async (eventId: string) => (await sql("SELECT 1 FROM webhook_events WHERE event_id = $1", [eventId])).length;

async function stripeSigned(secret: string, event: Record<string, unknown>, timestamp?: number) {
  const payload = JSON.stringify(event);
  const header = await stripe.webhooks.generateTestHeaderStringAsync({ payload, secret, ...(timestamp ? { timestamp } : {}) });
  return { payload, header };
}

function standardSigned(secret: string, event: Record<string, unknown>, at = new Date()) {
  const id = (event.id as string) ?? `msg_${crypto.randomUUID()}`;
  const payload = JSON.stringify(event);
  const signature = new Webhook(secret).sign(id, at, payload);
  return {
    payload,
    headers: { "webhook-id": id, "webhook-timestamp": String(Math.floor(at.getTime() / 1000)), "webhook-signature": signature },
  };
}

const stripeEvent = () => ({
  id: `evt_${crypto.randomUUID().replaceAll("-", "")}`,
  type: "payment_intent.succeeded",
  data: { object: { id: "pi_unknown", metadata: {} } },
});
const sandboxEvent = () => ({
  id: `evt_sbx_${crypto.randomUUID().replaceAll("-", "")}`,
  type: "payment.succeeded",
  data: { payment_id: crypto.randomUUID() },
});

describe("Stripe-Signature (oracle: stripe.webhooks.generateTestHeaderStringAsync)", () => {
  it("accepts a payload signed with the current or the previous secret: 202, stored once", async () => {
    for (const secret of STRIPE_SECRETS) {
      const ev = stripeEvent();
      const { payload, header } = await stripeSigned(secret, ev);
      const res = await postWebhook("stripe", payload, { "Stripe-Signature": header });
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ received: true, id: expect.any(String) });
      expect(await stored(ev.id)).toBe(1);
    }
  });

  it("a duplicate delivery of an applied event is a 200 no-op (one not applied yet is queued again: payments.outage.test.ts)", async () => {
    const ev = stripeEvent();
    const { payload, header } = await stripeSigned(STRIPE_SECRETS[0] as string, ev);
    expect((await postWebhook("stripe", payload, { "Stripe-Signature": header })).status).toBe(202);
    await sql("UPDATE webhook_events SET status = 'PROCESSED', processed_at = now() WHERE provider = 'stripe' AND event_id = $1", [ev.id]);
    const again = await postWebhook("stripe", payload, { "Stripe-Signature": header });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: true, duplicate: true });
    expect(await stored(ev.id)).toBe(1);
  });

  it.each([
    [
      "tampered body",
      async (ev: Record<string, unknown>) => {
        const { payload, header } = await stripeSigned(STRIPE_SECRETS[0] as string, ev);
        return { payload: payload.replace("succeeded", "payment_failed"), header, status: 401 };
      },
    ],
    [
      "tampered signature",
      async (ev: Record<string, unknown>) => {
        const { payload, header } = await stripeSigned(STRIPE_SECRETS[0] as string, ev);
        return { payload, header: header.replace(/v1=([0-9a-f])/, (_m, c: string) => `v1=${c === "a" ? "b" : "a"}`), status: 401 };
      },
    ],
    [
      "timestamp 301 s old",
      async (ev: Record<string, unknown>) => ({
        ...(await stripeSigned(STRIPE_SECRETS[0] as string, ev, Math.floor(Date.now() / 1000) - 301)),
        status: 401,
      }),
    ],
    [
      "timestamp 301 s ahead",
      async (ev: Record<string, unknown>) => ({
        ...(await stripeSigned(STRIPE_SECRETS[0] as string, ev, Math.floor(Date.now() / 1000) + 301)),
        status: 401,
      }),
    ],
    ["unknown secret", async (ev: Record<string, unknown>) => ({ ...(await stripeSigned("whsec_not_ours", ev)), status: 401 })],
    ["no header", async (ev: Record<string, unknown>) => ({ payload: JSON.stringify(ev), header: "", status: 400 })],
    ["garbage header", async (ev: Record<string, unknown>) => ({ payload: JSON.stringify(ev), header: "v1=zz", status: 400 })],
  ])("rejects %s; nothing stored", async (_name, make) => {
    const ev = stripeEvent();
    const { payload, header, status } = await make(ev);
    const res = await postWebhook("stripe", payload, header ? { "Stripe-Signature": header } : {});
    const p = await expectProblem(res, status);
    expect(p.code).toBe(status === 400 ? "malformed_signature" : "invalid_signature");
    expect(p.type).toBe(`https://toko-edge.dev/problems/${p.code.replaceAll("_", "-")}`);
    expect(await stored(ev.id)).toBe(0);
  });
});

describe("Standard Webhooks (oracle: the standardwebhooks package)", () => {
  it("accepts current and previous secrets", async () => {
    for (const secret of SANDBOX_SECRETS) {
      const ev = sandboxEvent();
      const { payload, headers } = standardSigned(secret, ev);
      expect((await postWebhook("sandbox", payload, headers)).status).toBe(202);
      expect(await stored(ev.id)).toBe(1);
    }
  });

  it.each([
    ["tampered body", (p: string, h: Record<string, string>) => ({ p: p.replace("succeeded", "failed"), h, status: 401 })],
    [
      "tampered signature",
      (p: string, h: Record<string, string>) => ({ p, h: { ...h, "webhook-signature": `v1,${btoa("x".repeat(32))}` }, status: 401 }),
    ],
    ["another message id", (p: string, h: Record<string, string>) => ({ p, h: { ...h, "webhook-id": "msg_other" }, status: 401 })],
    ["missing headers", (p: string, h: Record<string, string>) => ({ p, h: { "webhook-id": h["webhook-id"] as string }, status: 400 })],
  ])("rejects %s; nothing stored", async (_n, mutate) => {
    const ev = sandboxEvent();
    const { payload, headers } = standardSigned(SANDBOX_SECRETS[0] as string, ev);
    const { p, h, status } = mutate(payload, headers);
    await expectProblem(await postWebhook("sandbox", p, h), status);
    expect(await stored(ev.id)).toBe(0);
  });

  it("rejects timestamps 301 s off and unknown secrets", async () => {
    for (const at of [new Date(Date.now() - 301_000), new Date(Date.now() + 301_000)]) {
      const ev = sandboxEvent();
      const { payload, headers } = standardSigned(SANDBOX_SECRETS[0] as string, ev, at);
      await expectProblem(await postWebhook("sandbox", payload, headers), 401);
      expect(await stored(ev.id)).toBe(0);
    }
    const ev = sandboxEvent();
    const { payload, headers } = standardSigned(`whsec_${btoa("some-other-secret-entirely")}`, ev);
    await expectProblem(await postWebhook("sandbox", payload, headers), 401);
    expect(await stored(ev.id)).toBe(0);
  });

  it("an unknown provider is 400 (path validation), not stored", async () => {
    await expectProblem(await postWebhook("paypal", "{}", {}), 400);
  });
});
