/**
 * Issue 19, items 1, 2 and 6: POST /api/v1/shipping/rates validates the address (ISO 3166-1 country,
 * postal code per country where the rule is well known, region, lengths, unknown fields refused) and the
 * cart, prices the parcel from the products' weight and size (ADMIN sets them), signs every rate, and
 * answers identical quotes from a cache without calling the carrier.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { verifyRate } from "../src/shipping/rate-id.ts";
import { apiSettled, createUser, expectProblem, jsonInit } from "./helpers.ts";
import { makeProduct } from "./orders.helpers.ts";
import { DE_ADDRESS, quote, quoteOk, sandbox, sandboxEnv, US_ADDRESS } from "./shipping.helpers.ts";

beforeEach(() => sandbox.reset());

const admin = await createUser("ADMIN");
const setShipping = (id: string, body: unknown) => apiSettled(`/api/v1/admin/products/${id}/shipping`, jsonInit("PATCH", body, admin.auth));

describe("quotes", () => {
  it("rates for an address and a cart: signed, cheapest first, in the goods' currency, with days and expiry", async () => {
    const b = sandboxEnv();
    const p = await makeProduct({ stock: 5, price: 1000, physical: true, weightGrams: 400 });
    const before = Date.now();
    const res = await quote({ address: US_ADDRESS, items: [{ sku: p.sku, qty: 2 }] }, b);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cache")).toBe("MISS");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const q = (await res.json()) as Awaited<ReturnType<typeof quoteOk>>;
    expect(q).toMatchObject({ currency: "USD", estimated: false, address: { country: "US", postal_code: "94105", company: null } });
    // 2 × 400 g = 800 g → two started half-kilos.
    expect(q.rates.map((r) => [r.service, r.amount_cents, r.estimated_days])).toEqual([
      ["ground", 599 + 75, 5],
      ["express", 1499 + 150, 2],
      ["overnight", 2999 + 250, 1],
    ]);
    for (const r of q.rates) {
      expect(r).toMatchObject({ carrier: "sandbox", currency: "USD", estimated: false });
      const expires = Date.parse(r.expires_at);
      expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 900_000);
      const check = await verifyRate("test-shipping-rate-secret-0123456789abcdef", r.rate_id);
      expect(check.ok && check.claims.amount_cents).toBe(r.amount_cents);
    }
  });

  it("weight and size come from the products (ADMIN sets them); unknown weight counts SHIPPING_DEFAULT_WEIGHT_G", async () => {
    const b = sandboxEnv();
    const p = await makeProduct({ stock: 5, physical: true });
    const ground = async (qty: number) =>
      (await quoteOk([{ sku: p.sku, qty }], { ...US_ADDRESS, line1: `${qty} Main St ${crypto.randomUUID()}` }, b)).rates[0]?.amount_cents;
    // Unknown weight: 500 g per unit by default → 3 units = 1.5 kg = 3 half-kilos.
    expect(await ground(3)).toBe(599 + 2 * 75);
    const set = await setShipping(p.id, { weight_grams: 2000 });
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ product_id: p.id, sku: p.sku, requires_shipping: true, weight_grams: 2000, dimensions_mm: null });
    expect(await ground(3)).toBe(599 + 11 * 75); // 6 kg
    // A bulky light box is billed by volume: 600 × 400 × 400 mm = 19.2 kg volumetric.
    await setShipping(p.id, { weight_grams: 100, dimensions_mm: { length: 600, width: 400, height: 400 } });
    expect(await ground(1)).toBe(599 + 38 * 75);
    const read = await apiSettled(`/api/v1/admin/products/${p.id}/shipping`, { headers: admin.auth });
    expect(await read.json()).toMatchObject({ weight_grams: 100, dimensions_mm: { length: 600, width: 400, height: 400 } });
  });

  it("ADMIN marks a product digital: a cart of it has nothing to quote (422); a USER cannot change profiles", async () => {
    const p = await makeProduct({ stock: 5, physical: true });
    expect((await setShipping(p.id, { requires_shipping: false })).status).toBe(200);
    const res = await quote({ address: US_ADDRESS, items: [{ sku: p.sku, qty: 1 }] }, sandboxEnv());
    expect(await expectProblem(res, 422, "shipping_not_quotable")).toMatchObject({ reason: "nothing_to_ship" });
    const user = await createUser();
    const denied = await apiSettled(`/api/v1/admin/products/${p.id}/shipping`, jsonInit("PATCH", { requires_shipping: true }, user.auth));
    await expectProblem(denied, 403, "forbidden");
    await expectProblem(await setShipping(crypto.randomUUID(), { weight_grams: 1 }), 404, "not_found");
    for (const bad of [{}, { weight_grams: -1 }, { dimensions_mm: { length: 10, width: 10 } }, { weight_kg: 1 }]) {
      await expectProblem(await setShipping(p.id, bad), 400, "validation_error");
    }
  });

  it("unknown or archived SKUs and two currencies are 400s naming the line", async () => {
    const usd = await makeProduct({ stock: 5, physical: true });
    const eur = await makeProduct({ stock: 5, physical: true, currency: "EUR" });
    const unknown = await expectProblem(
      await quote({ address: US_ADDRESS, items: [{ sku: "NOPE-404", qty: 1 }] }),
      400,
      "validation_error",
    );
    expect(unknown.errors).toEqual([expect.objectContaining({ field: "items.0.sku", code: "unknown_sku" })]);
    const mixed = await expectProblem(
      await quote({
        address: US_ADDRESS,
        items: [
          { sku: usd.sku, qty: 1 },
          { sku: eur.sku, qty: 1 },
        ],
      }),
      400,
      "validation_error",
    );
    expect(mixed.errors?.[0]).toMatchObject({ field: "items", code: "mixed_currency" });
  });

  it("EUR goods are quoted in EUR", async () => {
    const p = await makeProduct({ stock: 5, physical: true, currency: "EUR" });
    const q = await quoteOk([{ sku: p.sku, qty: 1 }], DE_ADDRESS, sandboxEnv());
    expect(q.currency).toBe("EUR");
    expect(q.rates.every((r) => r.currency === "EUR")).toBe(true);
  });
});

describe("the quote cache", () => {
  it("an identical quote is a HIT without the carrier; the same door for another recipient too (with their own address back)", async () => {
    const b = sandboxEnv();
    const p = await makeProduct({ stock: 5, physical: true });
    const items = [{ sku: p.sku, qty: 1 }];
    const address = { ...US_ADDRESS, line1: `${crypto.randomUUID()} St` };
    const first = await quote({ address, items }, b);
    const firstBody = await first.json();
    expect(first.headers.get("x-cache")).toBe("MISS");
    const again = await quote({ address, items }, b);
    expect(again.headers.get("x-cache")).toBe("HIT");
    expect(await again.json()).toEqual(firstBody);
    const neighbour = await quote({ address: { ...address, name: "Someone Else", phone: "+1 415 555 0100" }, items }, b);
    expect(neighbour.headers.get("x-cache")).toBe("HIT");
    expect(((await neighbour.json()) as { address: { name: string } }).address.name).toBe("Someone Else");
    expect(sandbox.rateRequests).toBe(1);
    // Another quantity, or another street, is another quote.
    expect((await quote({ address, items: [{ sku: p.sku, qty: 2 }] }, b)).headers.get("x-cache")).toBe("MISS");
    expect((await quote({ address: { ...address, line1: "2 Other St" }, items }, b)).headers.get("x-cache")).toBe("MISS");
    expect(sandbox.rateRequests).toBe(3);
  });

  it("the key is the normalised address: case, spacing and the postal code's format do not matter", async () => {
    const b = sandboxEnv();
    const p = await makeProduct({ stock: 5, physical: true });
    const items = [{ sku: p.sku, qty: 1 }];
    const street = `${crypto.randomUUID()} Strand`;
    const gb = { name: "A", line1: street, city: "London", postal_code: "WC2N 5DU", country: "GB" };
    expect((await quote({ address: gb, items }, b)).headers.get("x-cache")).toBe("MISS");
    const loose = { ...gb, line1: `  ${street.toUpperCase()} `, city: "london", postal_code: "wc2n5du", country: "gb" };
    const res = await quote({ address: loose, items }, b);
    expect(res.headers.get("x-cache")).toBe("HIT");
    expect(((await res.json()) as { address: { postal_code: string; country: string } }).address).toMatchObject({
      postal_code: "WC2N 5DU",
      country: "GB",
    });
  });

  it("SHIPPING_QUOTE_CACHE_SEC=0 turns it off", async () => {
    const b = sandboxEnv({ SHIPPING_QUOTE_CACHE_SEC: "0" });
    const p = await makeProduct({ stock: 5, physical: true });
    const body = { address: { ...US_ADDRESS, line1: crypto.randomUUID() }, items: [{ sku: p.sku, qty: 1 }] };
    await quote(body, b);
    expect((await quote(body, b)).headers.get("x-cache")).toBe("MISS");
    expect(sandbox.rateRequests).toBe(2);
  });
});

describe("address validation (400 problem naming the field)", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["unknown field", { ...US_ADDRESS, apartment: "4B" }, "address.apartment"],
    ["country not ISO 3166-1", { ...US_ADDRESS, country: "XX" }, "address.country"],
    ["country as a name", { ...US_ADDRESS, country: "USA" }, "address.country"],
    ["US ZIP with 4 digits", { ...US_ADDRESS, postal_code: "9410" }, "address.postal_code"],
    ["US without a postal code", { ...US_ADDRESS, postal_code: undefined }, "address.postal_code"],
    ["US state that is not one", { ...US_ADDRESS, region: "ZZ" }, "address.region"],
    ["US without a state", { ...US_ADDRESS, region: undefined }, "address.region"],
    ["CA postal code", { ...US_ADDRESS, country: "CA", region: "ON", postal_code: "12345" }, "address.postal_code"],
    ["GB postal code", { ...DE_ADDRESS, country: "GB", postal_code: "12345" }, "address.postal_code"],
    ["DE postal code", { ...DE_ADDRESS, postal_code: "1011" }, "address.postal_code"],
    ["NL postal code", { ...DE_ADDRESS, country: "NL", postal_code: "10125" }, "address.postal_code"],
    ["a name of 101 characters", { ...US_ADDRESS, name: "n".repeat(101) }, "address.name"],
    ["a blank street", { ...US_ADDRESS, line1: "   " }, "address.line1"],
    ["a street with a newline", { ...US_ADDRESS, line1: "1 Main St\nDrop table" }, "address.line1"],
    ["no city", { ...US_ADDRESS, city: undefined }, "address.city"],
    ["a phone that is not one", { ...US_ADDRESS, phone: "call me" }, "address.phone"],
    ["a postal code with symbols where no rule is known", { ...DE_ADDRESS, country: "AE", postal_code: "<script>" }, "address.postal_code"],
  ];
  it.each(cases)("%s", async (_label, address, field) => {
    const p = await expectProblem(await quote({ address, items: [{ sku: "ANY-1", qty: 1 }] }), 400, "validation_error");
    expect(p.errors?.map((e) => e.field)).toContain(field);
    expect(p.errors?.every((e) => e.in === "body")).toBe(true);
  });

  it("well-known formats are accepted loosely and normalised: CA, GB, NL, JP, a ZIP+4; a country without a rule may omit it", async () => {
    const p = await makeProduct({ stock: 5, physical: true });
    const items = [{ sku: p.sku, qty: 1 }];
    const b = sandboxEnv();
    const cases: [Record<string, string>, string | null][] = [
      [{ ...US_ADDRESS, country: "CA", region: "on", postal_code: "k1a0b1" }, "K1A 0B1"],
      [{ ...DE_ADDRESS, country: "NL", postal_code: "1012ab" }, "1012 AB"],
      [{ ...DE_ADDRESS, country: "JP", postal_code: "1000001" }, "100-0001"],
      [{ ...US_ADDRESS, postal_code: "941051234" }, "94105-1234"],
      [{ name: "A", line1: "Sheikh Zayed Rd", city: "Dubai", country: "ae" }, null],
    ];
    for (const [address, postal] of cases) {
      const q = await quoteOk(items, address, b);
      expect(q.address.postal_code).toBe(postal);
    }
  });

  it("the cart: no lines, a repeated SKU, a bad quantity, unknown fields → 400", async () => {
    for (const items of [
      [],
      [
        { sku: "A-1", qty: 1 },
        { sku: "A-1", qty: 2 },
      ],
      [{ sku: "A-1", qty: 0 }],
      [{ sku: "A-1", qty: 1, price: 1 }],
    ]) {
      await expectProblem(await quote({ address: US_ADDRESS, items }), 400, "validation_error");
    }
    await expectProblem(await quote({ address: US_ADDRESS, items: [{ sku: "A-1", qty: 1 }], carrier: "fedex" }), 400, "validation_error");
  });
});
