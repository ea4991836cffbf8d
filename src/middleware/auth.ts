/** requireAuth / requireRole. Object-level rules (others' resources are 404) live in the services. */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { ApiError } from "../lib/problem.ts";
import { type Role, verifyAccessToken } from "../lib/tokens.ts";

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
    c.set("principal", await verifyAccessToken(c.get("config"), m[1]));
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
