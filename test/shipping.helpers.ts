/** Shipping in tests: addresses, quotes through the real route, rates minted with the test key, the sandbox carrier. */
import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { destinationKey, digest, itemsKey, normaliseAddress } from "../src/shipping/address.ts";
import { type RateClaims, signRate } from "../src/shipping/rate-id.ts";
import { sandboxCarrierServer } from "../src/shipping/sandbox.ts";
import { apiSettled, jsonInit, type TestUser, uniqueSuffix } from "./helpers.ts";

export const US_ADDRESS = {
  name: "Ada Lovelace",
  line1: "1 Market St",
  city: "San Francisco",
  region: "CA",
  postal_code: "94105",
  country: "US",
};

export const DE_ADDRESS = { name: "Emmy Noether", line1: "Unter den Linden 6", city: "Berlin", postal_code: "10117", country: "DE" };

export const sandbox = sandboxCarrierServer;

/** Bindings with a sandbox client id of their own: a fresh token cache and breaker (both are per credentials). */
export function sandboxEnv(vars: Record<string, string> = {}): Env {
  return { ...env, SHIPPING_CARRIER: "sandbox", SHIPPING_SANDBOX_CLIENT_ID: `test-${uniqueSuffix()}`, ...vars } as Env;
}

type Line = { sku: string; qty: number };

export interface QuoteBody {
  currency: string;
  estimated: boolean;
  address: Record<string, string | null>;
  rates: {
    rate_id: string;
    carrier: string;
    service: string;
    service_name: string;
    amount_cents: number;
    currency: string;
    estimated_days: number | null;
    estimated: boolean;
    expires_at: string;
  }[];
}

export function quote(body: unknown, bindings: Env = env, headers: Record<string, string> = {}): Promise<Response> {
  return apiSettled("/api/v1/shipping/rates", jsonInit("POST", body, headers), bindings);
}

/** A successful quote's body. */
export async function quoteOk(items: Line[], address: object = US_ADDRESS, bindings: Env = env): Promise<QuoteBody> {
  const res = await quote({ address, items }, bindings);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as QuoteBody;
}

/** A rate as POST /api/v1/shipping/rates signs it, minted with the test key (as createUser mints a token). */
export async function mintRate(items: Line[], address: object = US_ADDRESS, over: Partial<RateClaims> = {}, secret?: string) {
  const claims: RateClaims = {
    carrier: "sandbox",
    service: "ground",
    service_name: "Sandbox Ground",
    amount_cents: 599,
    currency: "USD",
    estimated_days: 5,
    estimated: false,
    exp: Math.floor(Date.now() / 1000) + 600,
    dst: await digest(destinationKey(normaliseAddress(address as { country: string }))),
    items: await digest(itemsKey(items)),
    ...over,
  };
  return signRate(secret ?? env.SHIPPING_RATE_SECRET, claims);
}

export function checkout(user: TestUser, body: unknown, bindings: Env = env): Promise<Response> {
  return apiSettled("/api/v1/orders", jsonInit("POST", body, { ...user.auth, "Idempotency-Key": crypto.randomUUID() }), bindings);
}

/** The order body of a checkout that ships `items` to `address` at `rateId`. */
export const shippedOrder = (items: Line[], rateId: string, address: object = US_ADDRESS) => ({
  items,
  shipping_address: address,
  shipping_rate_id: rateId,
});

export const FEDEX_SECRET = "fedex-secret-DO-NOT-LOG-4f1c9e";

export function fedexEnv(vars: Record<string, string> = {}): Env {
  return {
    ...env,
    SHIPPING_CARRIER: "fedex",
    FEDEX_API_BASE: "https://fedex.stub",
    // A client id of its own per test: its own token cache and breaker (both are per credentials).
    FEDEX_CLIENT_ID: `l7-${crypto.randomUUID()}`,
    FEDEX_CLIENT_SECRET: FEDEX_SECRET,
    FEDEX_ACCOUNT_NUMBER: "740561073",
    SHIPPING_ORIGIN_COUNTRY: "US",
    SHIPPING_ORIGIN_POSTAL_CODE: "38125",
    SHIPPING_RETRY_BASE_MS: "1",
    ...vars,
  } as Env;
}

/** A FedEx API stub: tokens it issued (valid until revoked), the requests it saw, answers it can be told to give. */
export function fedexStub() {
  const s = {
    issued: [] as string[],
    valid: new Set<string>(),
    tokenForms: [] as URLSearchParams[],
    rateCalls: [] as { authorization: string | null; body: Record<string, unknown> }[],
    next: [] as number[],
  };
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    if (!req.url.startsWith("https://fedex.stub/")) return real(input as RequestInfo, init);
    const path = new URL(req.url).pathname;
    if (path === "/oauth/token") {
      expect(req.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
      const form = new URLSearchParams(await req.text());
      s.tokenForms.push(form);
      if (form.get("client_secret") !== FEDEX_SECRET) return Response.json({ errors: [{ code: "NOT.AUTHORIZED.ERROR" }] }, { status: 401 });
      const token = `fdx-token-${crypto.randomUUID()}`;
      s.issued.push(token);
      s.valid.add(token);
      return Response.json({ access_token: token, token_type: "bearer", expires_in: 3599, scope: "CXS" });
    }
    if (path === "/rate/v1/rates/quotes") {
      const authorization = req.headers.get("authorization");
      s.rateCalls.push({ authorization, body: (await req.json()) as Record<string, unknown> });
      if (!s.valid.has(authorization?.replace(/^Bearer /, "") ?? "")) {
        return Response.json({ transactionId: "t", errors: [{ code: "NOT.AUTHORIZED.ERROR", message: "expired" }] }, { status: 401 });
      }
      const status = s.next.shift();
      if (status) return Response.json({ errors: [{ code: "SERVICE.UNAVAILABLE.ERROR" }] }, { status });
      return Response.json(RATE_REPLY);
    }
    return new Response("not found", { status: 404 });
  });
  return s;
}

const RATE_REPLY = {
  transactionId: "624deea6",
  output: {
    rateReplyDetails: [
      {
        serviceType: "FEDEX_2_DAY",
        serviceName: "FedEx 2Day®",
        ratedShipmentDetails: [
          { rateType: "ACCOUNT", totalNetCharge: 28.47, currency: "USD" },
          { rateType: "LIST", totalNetCharge: 31.2, currency: "USD" },
        ],
        operationalDetail: { transitTime: "TWO_DAYS" },
      },
      {
        serviceType: "FEDEX_GROUND",
        serviceName: "FedEx Ground®",
        ratedShipmentDetails: [
          { rateType: "ACCOUNT", totalNetCharge: 15.04, currency: "CAD" },
          { rateType: "PREFERRED_CURRENCY", totalNetCharge: 11.04, currency: "USD" },
        ],
        commit: { transitDays: { minimumTransitTime: "FOUR_DAYS" } },
      },
    ],
  },
};
