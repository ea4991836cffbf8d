/**
 * The Worker's side of the carrier token cache (durable-objects/carrier-token.ts): ask the object for
 * the token; when it grants the lease, fetch one from the carrier here — the client secret is read from
 * this Worker's config and sent only to the carrier's token endpoint — and hand the token in. The token
 * itself is never logged: log lines carry the carrier, `expires_in` and the cache generation only.
 */
import type { TokenGrant } from "../../durable-objects/carrier-token.ts";
import type { Logger } from "../lib/logger.ts";
import { withTimeout } from "../lib/timeout.ts";
import type { Carrier } from "./carrier.ts";
import { CarrierError } from "./carrier.ts";

export interface TokenSource {
  /** A token to call the carrier with, and its cache generation (for `invalidate`). */
  get(): Promise<{ token: string; generation: number }>;
  /** The carrier answered 401 to the token of `generation`: drop it so the next `get` refreshes. */
  invalidate(generation: number): Promise<void>;
}

export interface TokenCacheOptions {
  /** Timeout of the token endpoint call (SHIPPING_TIMEOUT_MS); the lease lasts this plus a second. */
  timeoutMs: number;
  /** How long to wait for another request's refresh (SHIPPING_TOKEN_WAIT_MS). */
  waitMs: number;
  log: Logger;
}

/** The token cache object's name: one per (carrier, credentials), the credentials as a hash. */
export async function tokenCacheName(carrier: Carrier): Promise<string> {
  return `${carrier.name}:${await carrier.credentialsId()}`;
}

/**
 * This request did not reach the carrier: it waited for another request's refresh, which failed or took too
 * long, or the cache object did not answer. Retried like any failure, but not counted by the breaker: the
 * request that did call the carrier counted its own failure, and N waiters must not count it N times.
 */
export class TokenWaitError extends CarrierError {
  constructor(message: string, status: number | null) {
    super(message, status, "token");
    this.name = "TokenWaitError";
  }
}

const asTokenError = (err: unknown, carrier: string): CarrierError =>
  err instanceof CarrierError
    ? new CarrierError(err.message, err.status, "token")
    : new CarrierError(`${carrier}: token: ${err instanceof Error ? err.message : "failed"}`, null, "token");

export function tokenCache(ns: Env["CARRIER_TOKEN"], carrier: Carrier, o: TokenCacheOptions): TokenSource {
  let stub: Promise<ReturnType<typeof ns.get>> | undefined;
  const object = () => {
    stub ??= tokenCacheName(carrier).then((name) => ns.get(ns.idFromName(name)));
    return stub;
  };
  return {
    async get() {
      const s = await object();
      // RPC types a union result as a union of promises: read it back as the object's own type.
      const asked = s.token({ waitMs: o.waitMs, leaseMs: o.timeoutMs + 1000 }) as Promise<TokenGrant>;
      const grant = await withTimeout(asked, o.waitMs + 1000, "carrier token cache").catch((err: unknown) => {
        throw new TokenWaitError(`${carrier.name}: token cache: ${err instanceof Error ? err.message : "failed"}`, null);
      });
      if (grant.kind === "token") return { token: grant.token, generation: grant.generation };
      if (grant.kind === "failed") {
        // The refresh another request was making failed: refused credentials are not worth retrying.
        throw new TokenWaitError(`${carrier.name}: token refresh ${grant.reason}`, grant.reason === "refresh_refused" ? 401 : null);
      }
      // This request holds the lease: it alone fetches the token; everyone else waits for it.
      let fetched: { accessToken: string; expiresInSec: number };
      try {
        fetched = await withTimeout(carrier.fetchToken(), o.timeoutMs, `${carrier.name} token endpoint`);
      } catch (err) {
        const e = asTokenError(err, carrier.name);
        await s.abandon(grant.lease, !e.retryable).catch(() => {});
        throw e;
      }
      const { generation } = await s.complete(grant.lease, fetched.accessToken, fetched.expiresInSec);
      o.log.info("carrier token refreshed", { component: "shipping", carrier: carrier.name, expires_in: fetched.expiresInSec, generation });
      return { token: fetched.accessToken, generation };
    },
    async invalidate(generation) {
      const s = await object();
      await s.invalidate(generation).catch(() => false);
    },
  };
}
