/**
 * Shipping: quotes (cache → products → carrier, or flat rates when the carrier is unavailable → signed
 * rates) and the check of a rate at checkout. The flow, the token cache and the fallbacks: docs/shipping.md.
 */
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import { type ShippingProfileRow, shippingProfile, shippingProfiles, updateShippingProfile } from "../db/shipping.repo.ts";
import type { Logger } from "../lib/logger.ts";
import { countEvent } from "../lib/metrics.ts";
import { ApiError, type FieldError } from "../lib/problem.ts";
import type { ProductShipping, ProductShippingUpdate, ShippingQuote, ShippingQuoteRequest, ShippingRate } from "../schemas/shipping.ts";
import { type Address, type AddressInput, destinationKey, digest, itemsKey, normaliseAddress } from "../shipping/address.ts";
import type { Carrier, CarrierRate, Shipment } from "../shipping/carrier.ts";
import { type CarrierCallDeps, CarrierRefused, CarrierUnavailable, callCarrier } from "../shipping/client.ts";
import { flatRateFor } from "../shipping/config.ts";
import { fedexCarrier } from "../shipping/fedex.ts";
import { buildParcel } from "../shipping/parcel.ts";
import { cachedQuote, quoteKey, storeQuote } from "../shipping/quote-cache.ts";
import { signRate, verifyRate } from "../shipping/rate-id.ts";
import { sandboxCarrier } from "../shipping/sandbox.ts";
import { tokenCache } from "../shipping/token-cache.ts";

export interface ShippingDeps {
  env: Env;
  cfg: Config;
  log: Logger;
  /** The request's origin: the quote cache's keys belong to the zone that served them. */
  origin: string;
  waitUntil?: (p: Promise<unknown>) => void;
  /** Tests: record the retry delays instead of waiting, pin the jitter, move the clock. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

export function carrierFromConfig(cfg: Config): Carrier {
  if (cfg.SHIPPING_CARRIER === "fedex") {
    // Present: the configuration refuses fedex without them (src/shipping/config.ts).
    return fedexCarrier({
      apiBase: cfg.FEDEX_API_BASE,
      clientId: cfg.FEDEX_CLIENT_ID ?? "",
      clientSecret: cfg.FEDEX_CLIENT_SECRET ?? "",
      accountNumber: cfg.FEDEX_ACCOUNT_NUMBER ?? "",
    });
  }
  return sandboxCarrier({
    clientId: cfg.SHIPPING_SANDBOX_CLIENT_ID,
    mode: cfg.SHIPPING_SANDBOX_MODE,
    tokenTtlSec: cfg.SHIPPING_SANDBOX_TOKEN_TTL_SEC,
  });
}

/**
 * The carrier's circuit breaker (the shared CircuitBreaker Durable Object): one per carrier account, since
 * carriers rate-limit and lock out per set of credentials. Named `shipping:<carrier>:<credentials hash prefix>`.
 */
export async function carrierBreakerName(carrier: Carrier): Promise<string> {
  return `shipping:${carrier.name}:${(await carrier.credentialsId()).slice(0, 16)}`;
}

/** The resilient call path's parts for `carrier`: its token cache and its breaker (Durable Objects), the policy from config. */
export function carrierCallDeps(d: ShippingDeps, carrier: Carrier): CarrierCallDeps {
  const { cfg } = d;
  const breakers = d.env.CIRCUIT_BREAKER;
  const stub = carrierBreakerName(carrier).then((name) => breakers.get(breakers.idFromName(name)));
  return {
    carrier,
    tokens: tokenCache(d.env.CARRIER_TOKEN, carrier, {
      timeoutMs: cfg.SHIPPING_TIMEOUT_MS,
      waitMs: cfg.SHIPPING_TOKEN_WAIT_MS,
      log: d.log,
    }),
    breaker: {
      acquire: async (openMs) => (await stub).acquire(openMs),
      record: async (ok, threshold) => (await stub).record(ok, threshold),
    },
    policy: {
      timeoutMs: cfg.SHIPPING_TIMEOUT_MS,
      maxAttempts: cfg.SHIPPING_MAX_ATTEMPTS,
      retryBaseMs: cfg.SHIPPING_RETRY_BASE_MS,
      breakerThreshold: cfg.SHIPPING_BREAKER_THRESHOLD,
      breakerOpenMs: cfg.SHIPPING_BREAKER_OPEN_SEC * 1000,
    },
    log: d.log,
    ...(d.sleep ? { sleep: d.sleep } : {}),
    ...(d.random ? { random: d.random } : {}),
  };
}

/** The cart as one shipment: refuses unknown SKUs, two currencies, and a cart with nothing to ship. */
function shipmentOf(cfg: Config, address: Address, items: ShippingQuoteRequest["items"], rows: ShippingProfileRow[]): Shipment {
  const bySku = new Map(rows.map((r) => [r.sku, r]));
  const unknown: FieldError[] = items.flatMap((l, i) =>
    bySku.get(l.sku)?.status === "active"
      ? []
      : [{ field: `items.${i}.sku`, in: "body" as const, code: "unknown_sku", message: `no active product has SKU ${l.sku}` }],
  );
  if (unknown.length) throw new ApiError("validation_error", "Some SKUs are not for sale.", { errors: unknown });
  const currencies = [...new Set(rows.map((r) => r.currency))].sort();
  if (currencies.length > 1) {
    throw new ApiError("validation_error", `An order has one currency; these items are priced in ${currencies.join(" and ")}.`, {
      errors: [{ field: "items", in: "body", code: "mixed_currency", message: "all items must share one currency" }],
    });
  }
  const lines = items.map((l) => {
    const r = bySku.get(l.sku) as ShippingProfileRow;
    return {
      qty: l.qty,
      requiresShipping: r.requires_shipping,
      weightGrams: r.weight_grams,
      lengthMm: r.length_mm,
      widthMm: r.width_mm,
      heightMm: r.height_mm,
    };
  });
  const parcel = buildParcel(lines, cfg.SHIPPING_DEFAULT_WEIGHT_G);
  if (!parcel) {
    throw new ApiError("shipping_not_quotable", "Nothing in this cart is shipped; place the order without shipping.", {
      extra: { reason: "nothing_to_ship" },
    });
  }
  return {
    origin: { country: cfg.SHIPPING_ORIGIN_COUNTRY, postalCode: cfg.SHIPPING_ORIGIN_POSTAL_CODE ?? null },
    destination: address,
    parcel,
    currency: currencies[0] as string,
  };
}

/**
 * The carrier's rates for a shipment, or, when the carrier is unavailable (breaker open, credentials
 * refused, every attempt failed), the configured flat rate of the destination's zone: logged, counted
 * (`shipping_fallback`) and marked `estimated`. Rates in another currency than the goods' are dropped.
 */
export async function rateShipment(
  d: ShippingDeps,
  carrier: Carrier,
  shipment: Shipment,
): Promise<{ rates: CarrierRate[]; estimated: boolean }> {
  let rates: CarrierRate[];
  try {
    rates = await callCarrier(carrierCallDeps(d, carrier), "rates", (token) => carrier.rates(token, shipment));
  } catch (err) {
    if (err instanceof CarrierRefused) {
      throw new ApiError("shipping_not_quotable", "The carrier cannot quote a parcel to this address; check it and try again.", {
        extra: { reason: "carrier_refused" },
      });
    }
    if (!(err instanceof CarrierUnavailable)) throw err;
    const flat = flatRateFor(d.cfg.SHIPPING_FLAT_RATES, shipment.destination.country, shipment.currency);
    d.log.warn("shipping quote: carrier unavailable, flat rate served", {
      component: "shipping",
      carrier: carrier.name,
      reason: err.reason,
      zone: flat?.zone ?? null,
      currency: shipment.currency,
    });
    countEvent("shipping_fallback", { detail: carrier.name, detail2: err.reason });
    if (!flat) {
      throw new ApiError(
        "shipping_unavailable",
        `No shipping rate can be quoted to ${shipment.destination.country} right now; retry shortly.`,
        {
          headers: { "Retry-After": "30" },
        },
      );
    }
    return {
      rates: [
        {
          service: `flat-${flat.zone}`,
          serviceName: "Standard shipping",
          amountCents: flat.amountCents,
          currency: flat.currency,
          estimatedDays: flat.days,
        },
      ],
      estimated: true,
    };
  }
  const usable = rates.filter((r) => r.currency === shipment.currency && Number.isSafeInteger(r.amountCents) && r.amountCents >= 0);
  if (usable.length < rates.length) {
    d.log.warn("carrier rates in another currency dropped", {
      component: "shipping",
      carrier: carrier.name,
      currency: shipment.currency,
      dropped: rates.length - usable.length,
    });
  }
  if (!usable.length) {
    throw new ApiError("shipping_not_quotable", `The carrier quoted no rate in ${shipment.currency}, the goods' currency.`, {
      extra: { reason: "currency" },
    });
  }
  return { rates: usable, estimated: false };
}

/**
 * POST /api/v1/shipping/rates. A cache hit needs no database and no carrier. Every rate is signed
 * (src/shipping/rate-id.ts) for this destination and cart until SHIPPING_RATE_TTL_SEC from now.
 */
export async function quoteShipping(
  db: () => Promise<Drizzle>,
  d: ShippingDeps,
  input: ShippingQuoteRequest,
): Promise<{ quote: ShippingQuote; cache: "HIT" | "MISS" | "BYPASS" }> {
  const { cfg } = d;
  const address = normaliseAddress(input.address as AddressInput);
  const carrier = carrierFromConfig(cfg);
  const [dst, items, account] = await Promise.all([
    digest(destinationKey(address)),
    digest(itemsKey(input.items)),
    carrier.credentialsId(),
  ]);
  // Rates depend on the account (negotiated prices) and the origin as much as on the destination and the cart.
  const origin = `${cfg.SHIPPING_ORIGIN_COUNTRY} ${cfg.SHIPPING_ORIGIN_POSTAL_CODE ?? ""}`;
  const key = quoteKey(d.origin, carrier.name, await digest(`${account}\n${origin}\n${dst}\n${items}`));
  const ttl = cfg.SHIPPING_QUOTE_CACHE_SEC;
  if (ttl > 0) {
    const hit = await cachedQuote(key).catch(() => null);
    if (hit) return { quote: { currency: hit.currency, address, estimated: false, rates: hit.rates }, cache: "HIT" };
  }
  const shipment = shipmentOf(
    cfg,
    address,
    input.items,
    await shippingProfiles(
      await db(),
      input.items.map((l) => l.sku),
    ),
  );
  const { rates, estimated } = await rateShipment(d, carrier, shipment);
  const exp = Math.floor((d.now?.() ?? Date.now()) / 1000) + cfg.SHIPPING_RATE_TTL_SEC;
  const signed: ShippingRate[] = await Promise.all(
    [...rates]
      .sort((a, b) => a.amountCents - b.amountCents)
      .map(async (r) => {
        const claims = {
          carrier: estimated ? "flat" : carrier.name,
          service: r.service,
          service_name: r.serviceName,
          amount_cents: r.amountCents,
          currency: r.currency,
          estimated_days: r.estimatedDays,
          estimated,
          exp,
          dst,
          items,
        };
        const { exp: _exp, dst: _dst, items: _items, ...shown } = claims;
        return { rate_id: await signRate(cfg.SHIPPING_RATE_SECRET, claims), ...shown, expires_at: new Date(exp * 1000).toISOString() };
      }),
  );
  // Fallback rates are not cached: the next quote asks the carrier (or its breaker) again.
  if (ttl > 0 && !estimated) d.waitUntil?.(storeQuote(key, { currency: shipment.currency, rates: signed }, ttl).catch(() => {}));
  return { quote: { currency: shipment.currency, address, estimated, rates: signed }, cache: estimated ? "BYPASS" : "MISS" };
}

/** What place_order stores for an order's shipping (migrations/0009_shipping.sql). */
export interface CheckoutShipping {
  address: Address;
  carrier: string;
  service: string;
  service_name: string;
  amount_cents: number;
  currency: string;
  estimated: boolean;
  estimated_days: number | null;
}

const rateProblem = (
  code: "shipping_rate_invalid" | "shipping_rate_expired",
  detail: string,
  field: string,
  extra: Record<string, unknown>,
) => new ApiError(code, detail, { errors: [{ field, in: "body", code, message: detail }], extra });

/**
 * The shipping of a checkout, from its rate_id: signed by us (never the client's price), not expired,
 * quoted for this destination and these items. The currency is checked against the goods' by
 * place_order, which reads the products under lock. One HMAC, no round trip. Refusals are 409s.
 */
export async function shippingForCheckout(
  secret: string,
  input: { address: AddressInput; rateId: string },
  items: readonly { sku: string; qty: number }[],
  opts: { prefix?: string; now?: number } = {},
): Promise<CheckoutShipping> {
  const prefix = opts.prefix ?? "";
  const check = await verifyRate(secret, input.rateId);
  if (!check.ok) {
    throw rateProblem("shipping_rate_invalid", "This shipping rate was not issued by us; quote again.", `${prefix}shipping_rate_id`, {
      reason: check.reason,
    });
  }
  const c = check.claims;
  if (c.exp * 1000 <= (opts.now ?? Date.now())) {
    throw rateProblem("shipping_rate_expired", "This shipping rate has expired; quote again.", `${prefix}shipping_rate_id`, {
      expired_at: new Date(c.exp * 1000).toISOString(),
    });
  }
  const address = normaliseAddress(input.address);
  if ((await digest(destinationKey(address))) !== c.dst) {
    throw rateProblem(
      "shipping_rate_invalid",
      "This shipping rate was quoted for another address; quote again.",
      `${prefix}shipping_address`,
      {
        reason: "address",
      },
    );
  }
  if ((await digest(itemsKey(items))) !== c.items) {
    throw rateProblem("shipping_rate_invalid", "This shipping rate was quoted for other items; quote again.", `${prefix}items`, {
      reason: "items",
    });
  }
  return {
    address,
    carrier: c.carrier,
    service: c.service,
    service_name: c.service_name,
    amount_cents: c.amount_cents,
    currency: c.currency,
    estimated: c.estimated,
    estimated_days: c.estimated_days,
  };
}

function toProductShipping(r: ShippingProfileRow): ProductShipping {
  const sized = r.length_mm !== null && r.width_mm !== null && r.height_mm !== null;
  return {
    product_id: r.id,
    sku: r.sku,
    requires_shipping: r.requires_shipping,
    weight_grams: r.weight_grams,
    dimensions_mm: sized ? { length: r.length_mm as number, width: r.width_mm as number, height: r.height_mm as number } : null,
  };
}

export async function productShipping(db: Drizzle, productId: string): Promise<ProductShipping> {
  const row = await shippingProfile(db, productId);
  if (!row) throw new ApiError("not_found", "No product with that id.");
  return toProductShipping(row);
}

export async function changeProductShipping(db: Drizzle, productId: string, patch: ProductShippingUpdate): Promise<ProductShipping> {
  const row = await updateShippingProfile(db, productId, {
    ...(patch.requires_shipping !== undefined ? { requiresShipping: patch.requires_shipping } : {}),
    ...(patch.weight_grams !== undefined ? { weightGrams: patch.weight_grams } : {}),
    ...(patch.dimensions_mm !== undefined ? { dimensions: patch.dimensions_mm } : {}),
  });
  if (!row) throw new ApiError("not_found", "No product with that id.");
  return toProductShipping(row);
}
