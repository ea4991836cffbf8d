/**
 * Shipping shapes: the address (validated: ISO 3166-1 country, the postal-code and region rules of
 * src/shipping/countries.ts, lengths, no control characters, unknown fields refused), quotes, the rate_id,
 * an order's shipping and a product's shipping profile. Money in minor units, as everywhere.
 */
import { z } from "@hono/zod-openapi";
import { cleanText } from "../shipping/address.ts";
import { COUNTRIES, normalisePostalCode, POSTAL_RULES, REGION_CODES } from "../shipping/countries.ts";
import { CurrencySchema, LineInputSchema } from "./common.ts";

/** C0 and C1 control characters (newlines and tabs included): an address line is printed on a label. */
const hasControl = (s: string) =>
  [...s].some((ch) => {
    const c = ch.codePointAt(0) ?? 0;
    return c < 0x20 || (c >= 0x7f && c <= 0x9f);
  });

/** Free text of an address: at most `max` characters, not blank once trimmed, on one line. */
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => cleanText(s).length > 0, "must not be blank")
    .refine((s) => !hasControl(s), "must be one line without control characters");

export const AddressInputSchema = z
  .object({
    name: text(100).openapi({ example: "Ada Lovelace", description: "Recipient" }),
    company: text(100).optional(),
    line1: text(100).openapi({ example: "1 Market St" }),
    line2: text(100).optional(),
    city: text(60).openapi({ example: "San Francisco" }),
    region: text(40)
      .optional()
      .openapi({ example: "CA", description: "State, province or region; required in US, CA and AU as its postal abbreviation" }),
    postal_code: z
      .string()
      .max(16)
      .optional()
      .openapi({ example: "94105", description: "Required, and checked, where the country's format is well known (US, CA, GB, DE, …)" }),
    country: z
      .string()
      .regex(/^[A-Za-z]{2}$/, "must be an ISO 3166-1 alpha-2 country code")
      .openapi({ example: "US", description: "ISO 3166-1 alpha-2" }),
    phone: z
      .string()
      .regex(/^\+?[0-9][0-9 ().-]{3,23}$/, "must be a phone number")
      .optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    const issue = (field: string, message: string) => ctx.addIssue({ code: "custom", path: [field], message });
    const country = a.country.toUpperCase();
    if (!COUNTRIES.has(country)) return issue("country", "is not an ISO 3166-1 alpha-2 country code");
    const rule = POSTAL_RULES[country];
    const postal = a.postal_code && cleanText(a.postal_code) ? normalisePostalCode(country, a.postal_code) : null;
    if (rule && !postal) issue("postal_code", `is required for ${country}`);
    else if (rule && postal && !rule.pattern.test(postal)) issue("postal_code", `is not a ${country} postal code (e.g. ${rule.example})`);
    else if (!rule && postal && !/^[A-Z0-9][A-Z0-9 -]{0,15}$/.test(postal))
      issue("postal_code", "must be letters, digits, spaces or hyphens");
    const regions = REGION_CODES[country];
    if (regions) {
      const region = a.region ? cleanText(a.region).toUpperCase() : "";
      if (!region) issue("region", `is required for ${country}`);
      else if (!regions.has(region)) issue("region", `must be a ${country} state or province code (e.g. ${[...regions][0]})`);
    }
  })
  .openapi("AddressInput");

/** An address as stored and returned: normalised (trimmed, upper-case codes, the country's postal format), absent parts null. */
export const AddressSchema = z
  .object({
    name: z.string(),
    company: z.string().nullable(),
    line1: z.string(),
    line2: z.string().nullable(),
    city: z.string(),
    region: z.string().nullable(),
    postal_code: z.string().nullable(),
    country: z.string().openapi({ example: "US" }),
    phone: z.string().nullable(),
  })
  .openapi("Address");

export const RateIdSchema = z
  .string()
  .max(2048)
  .regex(/^rt1\.[A-Za-z0-9_-]{1,1900}\.[A-Za-z0-9_-]{43}$/, "must be a rate_id from POST /api/v1/shipping/rates")
  .openapi({ description: "A rate_id from POST /api/v1/shipping/rates: signed; its price cannot be changed" });

export const ShippingQuoteRequestSchema = z
  .object({
    address: AddressInputSchema,
    items: z
      .array(LineInputSchema)
      .min(1, "at least one line")
      .max(100, "at most 100 lines")
      .superRefine((items, ctx) => {
        const seen = new Map<string, number>();
        items.forEach((l, i) => {
          const first = seen.get(l.sku);
          if (first !== undefined) ctx.addIssue({ code: "custom", path: [i, "sku"], message: `repeats line ${first}` });
          else seen.set(l.sku, i);
        });
      }),
  })
  .strict()
  .openapi("ShippingQuoteRequest");

export const ShippingRateSchema = z
  .object({
    rate_id: z.string().openapi({ description: "Send as `shipping_rate_id` at checkout, with the same address and items" }),
    carrier: z.string().openapi({ example: "fedex", description: "`sandbox`, `fedex`, or `flat` (a configured fallback rate)" }),
    service: z.string().openapi({ example: "FEDEX_GROUND" }),
    service_name: z.string().openapi({ example: "FedEx Ground" }),
    amount_cents: z.number().int().min(0).openapi({ description: "Minor units of `currency`, the goods' currency" }),
    currency: CurrencySchema,
    estimated_days: z.number().int().nullable().openapi({ description: "Business days in transit, when the carrier says" }),
    estimated: z.boolean().openapi({ description: "true: a flat fallback rate, served while the carrier is unavailable" }),
    expires_at: z.string().datetime({ offset: true }).openapi({ description: "After this, checkout refuses the rate (409)" }),
  })
  .openapi("ShippingRate");

export const ShippingQuoteSchema = z
  .object({
    currency: CurrencySchema,
    address: AddressSchema,
    estimated: z.boolean().openapi({ description: "The carrier was unavailable: flat fallback rates" }),
    rates: z.array(ShippingRateSchema),
  })
  .openapi("ShippingQuote");

/** An order's shipping (null on an order of products that ship nothing). */
export const OrderShippingSchema = z
  .object({
    address: AddressSchema,
    carrier: z.string(),
    service: z.string(),
    service_name: z.string().nullable(),
    amount_cents: z.number().int().min(0),
    currency: CurrencySchema,
    estimated: z.boolean(),
    estimated_days: z.number().int().nullable(),
  })
  .openapi("OrderShipping");

const DimensionsSchema = z
  .object({
    length: z.number().int().min(1).max(10_000),
    width: z.number().int().min(1).max(10_000),
    height: z.number().int().min(1).max(10_000),
  })
  .strict()
  .openapi("DimensionsMm", { description: "Millimetres" });

export const ProductShippingSchema = z
  .object({
    product_id: z.string().uuid(),
    sku: z.string(),
    requires_shipping: z.boolean().openapi({ description: "false: nothing to ship (gift card, download); checkout then takes no address" }),
    weight_grams: z.number().int().nullable().openapi({ description: "null: unknown (quotes assume SHIPPING_DEFAULT_WEIGHT_G)" }),
    dimensions_mm: DimensionsSchema.nullable(),
  })
  .openapi("ProductShipping");

export const ProductShippingUpdateSchema = z
  .object({
    requires_shipping: z.boolean().optional(),
    weight_grams: z.number().int().min(0).max(1_000_000).nullable().optional(),
    dimensions_mm: DimensionsSchema.nullable().optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, { message: "send at least one field to change" })
  .openapi("ProductShippingUpdate");

export type ShippingQuoteRequest = z.infer<typeof ShippingQuoteRequestSchema>;
export type ShippingQuote = z.infer<typeof ShippingQuoteSchema>;
export type ShippingRate = z.infer<typeof ShippingRateSchema>;
export type ProductShipping = z.infer<typeof ProductShippingSchema>;
export type ProductShippingUpdate = z.infer<typeof ProductShippingUpdateSchema>;
