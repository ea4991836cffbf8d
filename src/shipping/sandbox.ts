/**
 * The sandbox carrier: an in-process simulator of a carrier's OAuth 2.0 token endpoint and rates endpoint,
 * for `npm run dev` and tests. It issues tokens with a short `expires_in` and answers 401 to an expired or
 * revoked one, like a real carrier; it prices a parcel by zone and billable weight; and it can be told to
 * fail (503), time out (never answer) or rate-limit (429): for every call (SHIPPING_SANDBOX_MODE) or for the
 * next calls of one endpoint (the `failNext` / `timeoutNext` / `rateLimitNext` / `rejectNext` controls, tests).
 * It counts the calls each endpoint received, which is how the token cache's single flight is proven.
 *
 * Its state lives in the isolate (module scope). Tokens carry their own expiry, so one issued in another
 * isolate (the token cache's refresh ran there) still checks out here; only revocation is per isolate.
 */

import { digest } from "./address.ts";
import type { AccessToken, Carrier, CarrierRate, Shipment } from "./carrier.ts";
import { CarrierError } from "./carrier.ts";

export type SandboxMode = "ok" | "fail" | "timeout" | "rate_limit";
type Endpoint = "token" | "rates";
type Scripted = { status: number } | "timeout";

export interface SandboxAnswer<T> {
  status: number;
  body: T | { error: string };
}

const never = <T>(): Promise<T> => new Promise<T>(() => {});

export class SandboxCarrierServer {
  /** Calls each endpoint received (answered or not). */
  tokenRequests = 0;
  rateRequests = 0;
  /** Overrides SHIPPING_SANDBOX_TOKEN_TTL_SEC when set (tests). */
  tokenTtlSec: number | null = null;
  /** Quote in this currency instead of the one asked for (a carrier pricing in its own currency). */
  quoteCurrency: string | null = null;
  private serial = 0;
  private revokedBelow = 0;
  private script: Record<Endpoint, Scripted[]> = { token: [], rates: [] };

  reset(): void {
    this.tokenRequests = 0;
    this.rateRequests = 0;
    this.tokenTtlSec = null;
    this.quoteCurrency = null;
    this.script = { token: [], rates: [] };
  }

  /** The next `n` calls of `endpoint` answer `status` (503 by default). */
  failNext(endpoint: Endpoint, n: number, status = 503): void {
    for (let i = 0; i < n; i++) this.script[endpoint].push({ status });
  }
  timeoutNext(endpoint: Endpoint, n: number): void {
    for (let i = 0; i < n; i++) this.script[endpoint].push("timeout");
  }
  rateLimitNext(endpoint: Endpoint, n: number): void {
    this.failNext(endpoint, n, 429);
  }
  /** A 4xx the caller must not retry (400: the carrier cannot rate this request). */
  rejectNext(endpoint: Endpoint, n: number, status = 400): void {
    this.failNext(endpoint, n, status);
  }
  /** Every token issued so far answers 401 from now on, though not expired (a carrier rotating its keys). */
  revokeTokens(): void {
    this.revokedBelow = this.serial;
  }

  private scripted(endpoint: Endpoint, mode: SandboxMode): Scripted | null {
    const next = this.script[endpoint].shift();
    if (next) return next;
    if (mode === "fail") return { status: 503 };
    if (mode === "rate_limit") return { status: 429 };
    if (mode === "timeout") return "timeout";
    return null;
  }

  /** POST /oauth/token, grant_type=client_credentials. */
  async token(form: URLSearchParams, opts: { mode: SandboxMode; ttlSec: number }): Promise<SandboxAnswer<AccessTokenBody>> {
    this.tokenRequests++;
    const s = this.scripted("token", opts.mode);
    if (s === "timeout") return never();
    if (s) return { status: s.status, body: { error: "temporarily_unavailable" } };
    if (form.get("grant_type") !== "client_credentials" || !form.get("client_id") || !form.get("client_secret")) {
      return { status: 400, body: { error: "invalid_request" } };
    }
    const ttl = this.tokenTtlSec ?? opts.ttlSec;
    const serial = this.serial++;
    const random = [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, "0")).join("");
    return {
      status: 200,
      body: { access_token: `sbx_at_${serial}_${Date.now() + ttl * 1000}_${random}`, token_type: "bearer", expires_in: ttl },
    };
  }

  /** POST /rates with `Authorization: Bearer <token>`. */
  async rates(authorization: string, shipment: Shipment, mode: SandboxMode): Promise<SandboxAnswer<{ rates: CarrierRate[] }>> {
    this.rateRequests++;
    const m = /^Bearer sbx_at_(\d+)_(\d+)_[0-9a-f]+$/.exec(authorization);
    if (!m || Number(m[1]) < this.revokedBelow || Number(m[2]) <= Date.now()) return { status: 401, body: { error: "invalid_token" } };
    const s = this.scripted("rates", mode);
    if (s === "timeout") return never();
    if (s) return { status: s.status, body: { error: s.status === 429 ? "rate_limited" : "unavailable" } };
    return { status: 200, body: { rates: price(shipment, this.quoteCurrency ?? shipment.currency) } };
  }
}

interface AccessTokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
}

/** Zone (domestic or international) × billable weight (actual or volumetric, L×W×H / 5000, per started 0.5 kg). */
function price(s: Shipment, currency: string): CarrierRate[] {
  const domestic = s.destination.country === s.origin.country;
  const d = s.parcel.dimensionsMm;
  const volumetricGrams = d ? (d.length * d.width * d.height) / 5000 : 0;
  const halfKilos = Math.max(1, Math.ceil(Math.max(s.parcel.weightGrams, volumetricGrams) / 500));
  const services = [
    {
      service: "ground",
      serviceName: "Sandbox Ground",
      base: domestic ? 599 : 1999,
      perHalfKg: domestic ? 75 : 250,
      days: domestic ? 5 : 10,
    },
    {
      service: "express",
      serviceName: "Sandbox Express",
      base: domestic ? 1499 : 3999,
      perHalfKg: domestic ? 150 : 400,
      days: domestic ? 2 : 4,
    },
    ...(domestic ? [{ service: "overnight", serviceName: "Sandbox Overnight", base: 2999, perHalfKg: 250, days: 1 }] : []),
  ];
  return services.map((v) => ({
    service: v.service,
    serviceName: v.serviceName,
    amountCents: v.base + v.perHalfKg * (halfKilos - 1),
    currency,
    estimatedDays: v.days,
  }));
}

/** The one simulator of this isolate: the adapter talks to it, tests steer and count it. */
export const sandboxCarrierServer = new SandboxCarrierServer();

export function sandboxCarrier(opts: { clientId: string; mode: SandboxMode; tokenTtlSec: number }, server = sandboxCarrierServer): Carrier {
  return {
    name: "sandbox",
    credentialsId: () => digest(`sandbox\n${opts.clientId}`),
    async fetchToken(): Promise<AccessToken> {
      // The sandbox accepts any secret; a real carrier checks it.
      const form = new URLSearchParams({ grant_type: "client_credentials", client_id: opts.clientId, client_secret: "sandbox" });
      const res = await server.token(form, { mode: opts.mode, ttlSec: opts.tokenTtlSec });
      if (res.status !== 200 || !("access_token" in res.body))
        throw new CarrierError(`sandbox: token endpoint HTTP ${res.status}`, res.status);
      return { accessToken: res.body.access_token, expiresInSec: res.body.expires_in };
    },
    async rates(accessToken: string, shipment: Shipment): Promise<CarrierRate[]> {
      const res = await server.rates(`Bearer ${accessToken}`, shipment, opts.mode);
      if (res.status !== 200 || !("rates" in res.body)) throw new CarrierError(`sandbox: rates endpoint HTTP ${res.status}`, res.status);
      return res.body.rates;
    },
  };
}
