/**
 * Addresses and carts in one canonical form, so that the same destination and the same items always
 * give the same key: the quote cache's key, and what a rate_id is bound to (src/shipping/rate-id.ts).
 */
import { b64url } from "../lib/encoding.ts";
import { normalisePostalCode, REGION_CODES } from "./countries.ts";

/** A validated address (src/schemas/shipping.ts), normalised: what orders store and the API returns. */
export interface Address {
  name: string;
  company: string | null;
  line1: string;
  line2: string | null;
  city: string;
  region: string | null;
  postal_code: string | null;
  country: string;
  phone: string | null;
}

export type AddressInput = Partial<Record<Exclude<keyof Address, "country">, string | null | undefined>> & { country: string };

/** NFKC, trimmed, inner whitespace collapsed: "  Main\u00a0St " and "Main St" are one street. */
export const cleanText = (s: string): string => s.normalize("NFKC").trim().replace(/\s+/g, " ");
const optionalText = (s: string | null | undefined): string | null =>
  s === undefined || s === null || cleanText(s) === "" ? null : cleanText(s);

export function normaliseAddress(a: AddressInput): Address {
  const country = cleanText(a.country).toUpperCase();
  const region = optionalText(a.region);
  const postal = optionalText(a.postal_code);
  return {
    name: cleanText(a.name ?? ""),
    company: optionalText(a.company),
    line1: cleanText(a.line1 ?? ""),
    line2: optionalText(a.line2),
    city: cleanText(a.city ?? ""),
    // Where the region is a postal abbreviation (US, CA, AU) it is written in capitals.
    region: region && REGION_CODES[country] ? region.toUpperCase() : region,
    postal_code: postal ? normalisePostalCode(country, postal) : null,
    country,
    phone: optionalText(a.phone),
  };
}

/**
 * Where the parcel goes, case-folded: street lines, city, region, postal code, country. Not who receives
 * it (name, company, phone): a rate stays valid when the customer corrects the recipient's name.
 */
export function destinationKey(a: Address): string {
  const fold = (s: string | null) => (s ?? "").toLowerCase();
  return JSON.stringify([a.country, fold(a.postal_code), fold(a.region), fold(a.city), fold(a.line1), fold(a.line2)]);
}

/** The cart as `SKU:qty` lines sorted by SKU: the order of the lines does not change the parcel. */
export function itemsKey(items: readonly { sku: string; qty: number }[]): string {
  return [...items]
    .map((l) => `${l.sku}:${l.qty}`)
    .sort()
    .join(",");
}

/** SHA-256 of a canonical key, base64url (43 characters). */
export async function digest(text: string): Promise<string> {
  return b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))));
}
