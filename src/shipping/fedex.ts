/**
 * FedEx adapter: the FedEx REST APIs over fetch (no SDK in the bundle). Two documented calls:
 * - OAuth 2.0 client credentials (API Authorization): POST {base}/oauth/token, form-encoded
 *   grant_type=client_credentials, client_id (API key), client_secret (secret key) →
 *   {access_token, token_type: "bearer", expires_in: 3599, scope}: a token lasts an hour;
 * - Rates and Transit Times: POST {base}/rate/v1/rates/quotes with `Authorization: Bearer <token>` →
 *   output.rateReplyDetails[]: serviceType, serviceName, ratedShipmentDetails[] (totalNetCharge in
 *   `currency`, per rateType) and operationalDetail.transitTime (`THREE_DAYS`).
 * We ask for rates in the goods' currency (`preferredCurrency`, rate type PREFERRED) next to the account's
 * own: the order's total adds them up, so only a rate in that currency is usable.
 * Base URLs: https://apis.fedex.com, and https://apis-sandbox.fedex.com for FedEx's test environment.
 */
import { digest } from "./address.ts";
import { type AccessToken, type Carrier, CarrierError, type CarrierRate, minorDigits, type Shipment } from "./carrier.ts";

export interface FedexOptions {
  apiBase: string;
  clientId: string;
  clientSecret: string;
  accountNumber: string;
}

const WORDS = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE", "TEN", "ELEVEN", "TWELVE", "THIRTEEN"];
const WORDS_TEENS = ["FOURTEEN", "FIFTEEN", "SIXTEEN", "SEVENTEEN", "EIGHTEEN", "NINETEEN", "TWENTY"];
const DAY_WORDS = [...WORDS, ...WORDS_TEENS];

/** `THREE_DAYS` → 3; anything else → null. */
export function transitDays(v: unknown): number | null {
  if (typeof v !== "string") return null;
  const m = /^([A-Z]+)_DAYS?$/.exec(v);
  const n = m ? DAY_WORDS.indexOf(m[1] as string) : -1;
  return n > 0 ? n : null;
}

/** The first error code FedEx sent (`NOT.AUTHORIZED.ERROR`): a code only, never a message that might echo input. */
function errorCode(body: unknown): string {
  const code = (body as { errors?: { code?: unknown }[] } | null)?.errors?.[0]?.code;
  return typeof code === "string" && /^[A-Z0-9._-]{1,64}$/.test(code) ? ` ${code}` : "";
}

async function post(url: string, init: RequestInit, what: string): Promise<{ res: Response; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, method: "POST", redirect: "manual" });
  } catch (err) {
    throw new CarrierError(`fedex: ${what}: network error (${err instanceof Error ? err.name : "error"})`, null);
  }
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) throw new CarrierError(`fedex: ${what}: HTTP ${res.status}${errorCode(body)}`, res.status);
  return { res, body };
}

interface RatedShipmentDetail {
  rateType?: unknown;
  totalNetCharge?: unknown;
  currency?: unknown;
}
interface RateReplyDetail {
  serviceType?: unknown;
  serviceName?: unknown;
  ratedShipmentDetails?: RatedShipmentDetail[];
  operationalDetail?: { transitTime?: unknown };
  commit?: { transitDays?: { minimumTransitTime?: unknown } };
}

/** One rate per service: the charge in the asked currency when FedEx gave one, else the account's own (refused later). */
export function parseRates(body: unknown, currency: string): CarrierRate[] {
  const details = (body as { output?: { rateReplyDetails?: RateReplyDetail[] } } | null)?.output?.rateReplyDetails;
  if (!Array.isArray(details)) throw new CarrierError("fedex: rates: unexpected response", 502);
  return details.flatMap((d): CarrierRate[] => {
    if (typeof d.serviceType !== "string") return [];
    const charges = (d.ratedShipmentDetails ?? []).filter(
      (r): r is { rateType?: unknown; totalNetCharge: number; currency: string } =>
        typeof r.totalNetCharge === "number" && r.totalNetCharge >= 0 && typeof r.currency === "string",
    );
    const pick = charges.find((r) => r.currency === currency) ?? charges.find((r) => r.rateType === "ACCOUNT") ?? charges[0];
    if (!pick) return [];
    return [
      {
        service: d.serviceType,
        serviceName: typeof d.serviceName === "string" ? d.serviceName : d.serviceType,
        amountCents: Math.round(pick.totalNetCharge * 10 ** minorDigits(pick.currency)),
        currency: pick.currency,
        estimatedDays: transitDays(d.operationalDetail?.transitTime) ?? transitDays(d.commit?.transitDays?.minimumTransitTime),
      },
    ];
  });
}

/** The request body of a rate quote for one parcel (metric units, FedEx's own packaging, dropped off). */
export function rateRequest(s: Shipment, accountNumber: string): Record<string, unknown> {
  const a = s.destination;
  const d = s.parcel.dimensionsMm;
  return {
    accountNumber: { value: accountNumber },
    rateRequestControlParameters: { returnTransitTimes: true },
    requestedShipment: {
      shipper: { address: { postalCode: s.origin.postalCode, countryCode: s.origin.country } },
      recipient: {
        address: {
          streetLines: [a.line1, ...(a.line2 ? [a.line2] : [])],
          city: a.city,
          ...(a.region ? { stateOrProvinceCode: a.region } : {}),
          ...(a.postal_code ? { postalCode: a.postal_code } : {}),
          countryCode: a.country,
          residential: a.company === null,
        },
      },
      pickupType: "DROPOFF_AT_FEDEX_LOCATION",
      packagingType: "YOUR_PACKAGING",
      preferredCurrency: s.currency,
      rateRequestType: ["ACCOUNT", "PREFERRED"],
      totalPackageCount: 1,
      requestedPackageLineItems: [
        {
          weight: { units: "KG", value: Math.ceil(s.parcel.weightGrams / 10) / 100 },
          ...(d
            ? {
                dimensions: {
                  length: Math.ceil(d.length / 10),
                  width: Math.ceil(d.width / 10),
                  height: Math.ceil(d.height / 10),
                  units: "CM",
                },
              }
            : {}),
        },
      ],
    },
  };
}

export function fedexCarrier(o: FedexOptions): Carrier {
  const base = o.apiBase.replace(/\/+$/, "");
  return {
    name: "fedex",
    // A hash of the credentials, never the credentials: a new secret gets its own token cache.
    credentialsId: () => digest(`fedex\n${base}\n${o.clientId}\n${o.clientSecret}`),
    async fetchToken(): Promise<AccessToken> {
      const form = new URLSearchParams({ grant_type: "client_credentials", client_id: o.clientId, client_secret: o.clientSecret });
      const { body } = await post(
        `${base}/oauth/token`,
        { headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" }, body: form },
        "token",
      );
      const t = body as { access_token?: unknown; expires_in?: unknown } | null;
      const expires = Number(t?.expires_in);
      if (typeof t?.access_token !== "string" || !t.access_token || !Number.isFinite(expires) || expires <= 0)
        throw new CarrierError("fedex: token: unexpected response", 502);
      return { accessToken: t.access_token, expiresInSec: Math.floor(expires) };
    },
    async rates(accessToken: string, shipment: Shipment): Promise<CarrierRate[]> {
      const { body } = await post(
        `${base}/rate/v1/rates/quotes`,
        {
          headers: {
            Authorization: `Bearer ${accessToken}`,
            "Content-Type": "application/json",
            Accept: "application/json",
            "X-locale": "en_US",
          },
          body: JSON.stringify(rateRequest(shipment, o.accountNumber)),
        },
        "rates",
      );
      return parseRates(body, shipment.currency);
    },
  };
}
