/**
 * Issue 19, item 3: the real carrier, FedEx, over fetch against a stub that speaks its documented
 * contract: OAuth 2.0 client credentials (form-encoded, `expires_in` 3599) and Rates and Transit Times
 * (`POST /rate/v1/rates/quotes`). Checks what we send (grant, bearer token, account, parcel in metric
 * units, the goods' currency as preferredCurrency) and how we read the answer (the charge in our currency,
 * minor units, transit days); a 401 refreshes once; 5xx retried, 4xx not; the configuration it needs.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseRates, transitDays } from "../src/shipping/fedex.ts";
import { apiSettled, expectProblem } from "./helpers.ts";
import { makeProduct } from "./orders.helpers.ts";
import { FEDEX_SECRET, fedexEnv, fedexStub, quote, US_ADDRESS } from "./shipping.helpers.ts";

afterEach(() => vi.restoreAllMocks());

describe("FedEx over fetch", () => {
  let stub: ReturnType<typeof fedexStub>;
  beforeEach(() => {
    stub = fedexStub();
  });

  it("client credentials, then rates with the bearer token: what is sent and how the answer is read", async () => {
    const b = fedexEnv();
    const p = await makeProduct({ stock: 5, price: 1000, physical: true, weightGrams: 1234 });
    const res = await quote({ address: { ...US_ADDRESS, line2: "Suite 5" }, items: [{ sku: p.sku, qty: 2 }] }, b);
    expect(res.status, await res.clone().text()).toBe(200);
    const q = (await res.json()) as {
      rates: { carrier: string; service: string; service_name: string; amount_cents: number; estimated_days: number }[];
    };
    expect(q.rates.map((r) => [r.carrier, r.service, r.service_name, r.amount_cents, r.estimated_days])).toEqual([
      ["fedex", "FEDEX_GROUND", "FedEx Ground®", 1104, 4],
      ["fedex", "FEDEX_2_DAY", "FedEx 2Day®", 2847, 2],
    ]);
    expect(stub.tokenForms).toHaveLength(1);
    expect(Object.fromEntries(stub.tokenForms[0] as URLSearchParams)).toEqual({
      grant_type: "client_credentials",
      client_id: b.FEDEX_CLIENT_ID,
      client_secret: FEDEX_SECRET,
    });
    const call = stub.rateCalls[0];
    expect(call?.authorization).toBe(`Bearer ${stub.issued[0]}`);
    expect(call?.body).toEqual({
      accountNumber: { value: "740561073" },
      rateRequestControlParameters: { returnTransitTimes: true },
      requestedShipment: {
        shipper: { address: { postalCode: "38125", countryCode: "US" } },
        recipient: {
          address: {
            streetLines: ["1 Market St", "Suite 5"],
            city: "San Francisco",
            stateOrProvinceCode: "CA",
            postalCode: "94105",
            countryCode: "US",
            residential: true,
          },
        },
        pickupType: "DROPOFF_AT_FEDEX_LOCATION",
        packagingType: "YOUR_PACKAGING",
        preferredCurrency: "USD",
        rateRequestType: ["ACCOUNT", "PREFERRED"],
        totalPackageCount: 1,
        requestedPackageLineItems: [{ weight: { units: "KG", value: 2.47 } }],
      },
    });
  });

  it("the token is reused (expires_in 3599 → kept 3539 s); a 401 refreshes it once", async () => {
    const b = fedexEnv();
    const p = await makeProduct({ stock: 5, physical: true });
    const ask = (i: number) => quote({ address: { ...US_ADDRESS, line1: `${i} Market St` }, items: [{ sku: p.sku, qty: 1 }] }, b);
    for (let i = 0; i < 3; i++) expect((await ask(i)).status).toBe(200);
    expect(stub.tokenForms).toHaveLength(1);
    stub.valid.clear(); // FedEx revokes it before its time
    expect((await ask(9)).status).toBe(200);
    expect(stub.tokenForms).toHaveLength(2);
    expect(stub.rateCalls.map((c) => c.authorization)).toEqual([
      `Bearer ${stub.issued[0]}`,
      `Bearer ${stub.issued[0]}`,
      `Bearer ${stub.issued[0]}`,
      `Bearer ${stub.issued[0]}`,
      `Bearer ${stub.issued[1]}`,
    ]);
  });

  it("5xx is retried; a 400 is not (422); refused credentials fall back to the flat rate", async () => {
    const p = await makeProduct({ stock: 5, physical: true });
    const items = [{ sku: p.sku, qty: 1 }];
    const b = fedexEnv();
    stub.next.push(503, 502);
    expect((await quote({ address: US_ADDRESS, items }, b)).status).toBe(200);
    expect(stub.rateCalls).toHaveLength(3);
    stub.next.push(400);
    const refused = await quote({ address: { ...US_ADDRESS, line1: "2 Market St" }, items }, b);
    await expectProblem(refused, 422, "shipping_not_quotable");
    expect(stub.rateCalls).toHaveLength(4);
    const wrong = fedexEnv({ FEDEX_CLIENT_SECRET: "not-the-secret" });
    const fallback = await quote({ address: US_ADDRESS, items }, wrong);
    expect(await fallback.json()).toMatchObject({ estimated: true, rates: [{ carrier: "flat" }] });
  });
});

describe("reading FedEx answers", () => {
  it("transit times and charges in minor units of their currency", () => {
    expect(["ONE_DAY", "THREE_DAYS", "TWENTY_DAYS", "UNKNOWN", 3].map(transitDays)).toEqual([1, 3, 20, null, null]);
    const yen = {
      output: {
        rateReplyDetails: [{ serviceType: "X", ratedShipmentDetails: [{ rateType: "ACCOUNT", totalNetCharge: 1520, currency: "JPY" }] }],
      },
    };
    expect(parseRates(yen, "JPY")).toEqual([{ service: "X", serviceName: "X", amountCents: 1520, currency: "JPY", estimatedDays: null }]);
    expect(() => parseRates({ errors: [] }, "USD")).toThrow(/unexpected response/);
  });
});

describe("configuration", () => {
  it("fedex needs its credentials and an origin postal code; production refuses the sandbox carrier (503 naming the setting)", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    for (const [vars, setting] of [
      [{ FEDEX_CLIENT_SECRET: "" }, "FEDEX_CLIENT_SECRET"],
      [{ FEDEX_ACCOUNT_NUMBER: "" }, "FEDEX_ACCOUNT_NUMBER"],
      [{ SHIPPING_ORIGIN_POSTAL_CODE: "" }, "SHIPPING_ORIGIN_POSTAL_CODE"],
      [{ SHIPPING_FLAT_RATES: "domestic:US:USD:799" }, "SHIPPING_FLAT_RATES"],
      [{ SHIPPING_FLAT_RATES: "a:US:USD:1:1;b:US:USD:2:2" }, "SHIPPING_FLAT_RATES"],
      [{ SHIPPING_QUOTE_CACHE_SEC: "600", SHIPPING_RATE_TTL_SEC: "900" }, "SHIPPING_QUOTE_CACHE_SEC"],
      [{ SHIPPING_RATE_SECRET: "short" }, "SHIPPING_RATE_SECRET"],
    ] as const) {
      const p = await expectProblem(await apiSettled("/health/live", undefined, fedexEnv(vars)), 503, "service_unavailable");
      expect(p.invalid_settings).toEqual([setting]);
      expect(JSON.stringify(p)).not.toContain(FEDEX_SECRET);
    }
    const prod = {
      ENVIRONMENT: "production",
      PAYMENT_PROVIDER: "stripe",
      STRIPE_SECRET_KEY: `sk_live_${"s".repeat(40)}`,
      SANDBOX_WEBHOOK_SECRETS: "",
    };
    const p = await expectProblem(
      await apiSettled("/health/live", undefined, { ...env, ...prod, SHIPPING_CARRIER: "sandbox" } as Env),
      503,
    );
    expect(p.invalid_settings).toEqual(["SHIPPING_CARRIER"]);
    expect((await apiSettled("/health/live", undefined, fedexEnv(prod))).status).toBe(200);
  });
});
