/**
 * The carrier interface: every adapter (the in-process sandbox, FedEx over fetch) speaks OAuth 2.0
 * client credentials for its token and answers rates for one parcel. Adapters only translate; the
 * resilient call path (token cache, timeouts, retries, breaker) is src/shipping/client.ts, the same for all.
 */
import type { Address } from "./address.ts";

export type CarrierName = "sandbox" | "fedex";

/** One box: the physical lines of a cart, weighed and stacked (src/shipping/parcel.ts). */
export interface Parcel {
  weightGrams: number;
  /** Outer size, when every physical line has one; otherwise unknown (null). */
  dimensionsMm: { length: number; width: number; height: number } | null;
  units: number;
}

export interface Shipment {
  origin: { country: string; postalCode: string | null };
  destination: Address;
  parcel: Parcel;
  /** The goods' currency: rates are asked for, and only accepted, in it. */
  currency: string;
}

export interface CarrierRate {
  service: string;
  serviceName: string;
  amountCents: number;
  currency: string;
  estimatedDays: number | null;
}

/** An OAuth 2.0 access token and its lifetime as the token endpoint said (`expires_in`). */
export interface AccessToken {
  accessToken: string;
  expiresInSec: number;
}

export interface Carrier {
  readonly name: CarrierName;
  /**
   * Names the credentials without revealing them (a hash): the token cache keeps one Durable Object per
   * (carrier, credentials), so a rotated secret starts with a fresh token.
   */
  credentialsId(): Promise<string>;
  /** The client-credentials grant: one request to the token endpoint. */
  fetchToken(): Promise<AccessToken>;
  /** Rates for one shipment, with a bearer token; a refused token is a CarrierError with status 401. */
  rates(accessToken: string, shipment: Shipment): Promise<CarrierRate[]>;
}

/**
 * What went wrong talking to a carrier. `status` is the HTTP status (null: network error or timeout).
 * Retryable: network, timeout, 429 and 5xx; a 401 is handled by the token cache (refresh, retry once);
 * any other 4xx means the request itself was refused and will not get better.
 */
export class CarrierError extends Error {
  readonly status: number | null;
  readonly retryable: boolean;
  /** Which call failed: getting the token (the credentials) or the operation itself. */
  readonly stage: "token" | "call";
  constructor(message: string, status: number | null, stage: "token" | "call" = "call") {
    super(message);
    this.name = "CarrierError";
    this.status = status;
    this.stage = stage;
    this.retryable = status === null || status === 429 || status >= 500;
  }
}

/** Digits after the decimal point of an ISO 4217 currency (2 when the runtime does not know it). */
export function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}
