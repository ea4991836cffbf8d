/** requireAuth / requireRole, and the object-level rule: others' resources are 404. */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { ApiError } from "../lib/problem.ts";
import { type Principal, type Role, verifyAccessToken } from "../lib/tokens.ts";

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

/**
 * Object-level authorisation: the owner or an ADMIN may proceed; anyone else gets the
 * same 404 as for a missing resource, so ids cannot be probed.
 */
export function assertOwnerOrAdmin(p: Principal, ownerId: string | null | undefined, what = "resource"): void {
  if (p.role === "ADMIN") return;
  if (!ownerId || ownerId !== p.userId) throw new ApiError("not_found", `No ${what} with that id.`);
}
