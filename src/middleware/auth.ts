/**
 * requireAuth / requireRole. Object-level rules (others' resources are 404) live in the services.
 * A token is accepted only if its account still exists and its `ver` is the account's token
 * version; the role comes from the account (see `authenticate` in src/services/auth.service.ts).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { ApiError } from "../lib/problem.ts";
import { type Role, verifyAccessToken } from "../lib/tokens.ts";
import { authenticate } from "../services/auth.service.ts";

/** Reads may use the per-isolate account cache (AUTH_CACHE_SEC); anything that changes state reads the row. */
const CACHEABLE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/;

export function requireAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (!header) {
      throw new ApiError("unauthorized", "Send an access token: Authorization: Bearer <token>.", {
        headers: { "WWW-Authenticate": 'Bearer realm="toko-edge"' },
      });
    }
    const m = BEARER.exec(header.trim());
    if (!m?.[1]) {
      throw new ApiError("unauthorized", "The Authorization header is not a Bearer token.", {
        headers: { "WWW-Authenticate": 'Bearer realm="toko-edge", error="invalid_request"' },
      });
    }
    const cfg = c.get("config");
    const claims = await verifyAccessToken(cfg, m[1]);
    const fresh = !CACHEABLE_METHODS.has(c.req.method);
    c.set("principal", await authenticate(() => c.get("dbFresh").orm(), cfg, claims, { fresh }));
    return next();
  };
}

/** Must follow requireAuth. */
export function requireRole(...roles: Role[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!roles.includes(c.get("principal").role)) {
      throw new ApiError("forbidden", "Your role does not allow this operation.");
    }
    return next();
  };
}
