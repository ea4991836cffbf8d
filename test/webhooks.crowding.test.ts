/**
 * Issue 11, item 3: junk crowds out real webhooks. The signature is checked first (no I/O);
 * verified deliveries are limited per provider (`webhook-intake`), unverified requests per
 * client IP in their own bucket (`webhook-unverified`); an unknown provider reaches no Durable Object.
 */
import { listDurableObjectIds } from "cloudflare:test";
import { env } from "cloudflare:workers";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { apiSettled, expectProblem, sql, uniqueSuffix } from "./helpers.ts";
import { STRIPE_SECRETS } from "./payments.helpers.ts";

const stripe = new Stripe("sk_test_unused");
const randomIp = () => `198.51.100.${1 + Math.floor(Math.random() * 250)}`;

/** The real limiter, with every key it is asked for recorded. */
function countingLimiter() {
  const keys: string[] = [];
  const ns = env.RATE_LIMITER;
  const limiter = {
    idFromName: (name: string) => {
      keys.push(name);
      return ns.idFromName(name);
    },
    get: (id: DurableObjectId) => ns.get(id),
  };
  return { keys, limiter };
}

function bindings(overrides: string, extra: Record<string, unknown> = {}): Env {
  return { ...env, RATE_LIMIT_OVERRIDES: `${env.RATE_LIMIT_OVERRIDES},${overrides}`, ...extra } as Env;
}

function post(provider: string, body: string, headers: Record<string, string>, b: Env) {
  return apiSettled(
    `/api/v1/webhooks/payments/${provider}`,
    { method: "POST", body, headers: { "Content-Type": "application/json", ...headers } },
    b,
  );
}

async function signedStripe() {
  const event = {
    id: `evt_${crypto.randomUUID().replaceAll("-", "")}`,
    type: "payment_intent.succeeded",
    data: { object: { id: "pi_x" } },
  };
  const payload = JSON.stringify(event);
  const header = await stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: STRIPE_SECRETS[0] as string });
  return { event, payload, header };
}

describe("webhook intake under junk", () => {
  it("1,000 unsigned requests from one IP, then a correctly signed one from the same IP is still accepted (202)", async () => {
    const b = bindings("webhook-unverified=5/60,webhook-intake=500/60");
    const ip = randomIp();
    const statuses: number[] = [];
    const junk = JSON.stringify({ id: "evt_junk", type: "payment_intent.succeeded" });
    for (let batch = 0; batch < 20; batch++) {
      const sent = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          post(
            "stripe",
            junk,
            { "CF-Connecting-IP": ip, ...(i % 2 ? { "Stripe-Signature": `t=${Date.now()},v1=${"ab".repeat(32)}` } : {}) },
            b,
          ),
        ),
      );
      for (const r of sent) {
        statuses.push(r.status);
        await r.body?.cancel();
      }
    }
    expect(statuses).toHaveLength(1000);
    // Only the unverified bucket was charged: at most its limit got to hear "bad signature", the rest 429.
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(990);
    expect(statuses.every((s) => s === 429 || s === 400 || s === 401)).toBe(true);

    const { event, payload, header } = await signedStripe();
    const res = await post("stripe", payload, { "Stripe-Signature": header, "CF-Connecting-IP": ip }, b);
    expect(res.status).toBe(202);
    expect(res.headers.get("ratelimit-policy")).toContain('"webhook-intake"');
    expect(await sql("SELECT 1 FROM webhook_events WHERE event_id = $1", [event.id])).toHaveLength(1);
  });

  it("unverified requests are limited per client IP: junk from IP A does not limit IP B", async () => {
    const b = bindings("webhook-unverified=3/60");
    const a = randomIp();
    const other = `203.0.113.${1 + Math.floor(Math.random() * 250)}`;
    const junk = (ip: string) => post("stripe", "{}", { "Stripe-Signature": "t=1,v1=00", "CF-Connecting-IP": ip }, b);
    for (let i = 0; i < 3; i++) expect((await junk(a)).status).toBeLessThan(429);
    const limited = await junk(a);
    const p = await expectProblem(limited, 429, "rate_limited");
    expect(p.detail).toContain("webhook-unverified");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // IP B still gets its own answer (a signature problem), not a 429.
    const fromB = await junk(other);
    expect([400, 401]).toContain(fromB.status);
  });

  it("a verified delivery is charged to webhook-intake only, never to the unverified bucket", async () => {
    const { keys, limiter } = countingLimiter();
    const b = bindings("", { RATE_LIMITER: limiter });
    const ip = randomIp();
    const { payload, header } = await signedStripe();
    expect((await post("stripe", payload, { "Stripe-Signature": header, "CF-Connecting-IP": ip }, b)).status).toBe(202);
    expect(keys).toEqual(["webhook-intake:stripe"]);
    keys.length = 0;
    expect((await post("stripe", payload, { "Stripe-Signature": "t=1,v1=00", "CF-Connecting-IP": ip }, b)).status).toBe(401);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^webhook-unverified:/);
    expect(keys[0]).toContain(ip);
  });

  it("an unknown provider is a 4xx and reaches no Durable Object", async () => {
    const { keys, limiter } = countingLimiter();
    const provider = `evil-${uniqueSuffix()}`;
    const b = bindings("", { RATE_LIMITER: limiter });
    const res = await post(provider, "{}", { "Stripe-Signature": "t=1,v1=00", "CF-Connecting-IP": randomIp() }, b);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    await res.body?.cancel();
    expect(keys).toEqual([]);
    const created = (await listDurableObjectIds(env.RATE_LIMITER)).map((id) => id.toString());
    expect(created).not.toContain(env.RATE_LIMITER.idFromName(`webhook-intake:${provider}`).toString());
  });
});
