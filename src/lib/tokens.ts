/**
 * Access tokens: JWT HS256 via hono/jwt (a maintained implementation, not ours).
 * Verification pins the algorithm (no `none`, no RS/HS confusion), checks exp/nbf/iat,
 * issuer and audience, and then requires the claims we rely on to be present and well-formed.
 * A valid signature is not enough: requireAuth then checks `ver` (the user's token version) and
 * takes the role from the users row (src/services/auth.service.ts `authenticate`).
 */
import { sign, verify } from "hono/jwt";
import { UUID } from "./ids.ts";
import { ApiError } from "./problem.ts";

export type Role = "ADMIN" | "USER";

/** The settings tokens need (a slice of the app's Config; lib takes values, not the config module). */
export interface TokenSettings {
  JWT_SECRET: string;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  JWT_TTL_SEC: number;
}
export interface Principal {
  userId: string;
  role: Role;
}

/** What a verified token claims; the role and version still have to match the users row. */
export interface AccessClaims extends Principal {
  /** `ver`: the users.token_version the token was issued under (absent in older tokens: 0). */
  tokenVersion: number;
}

export async function issueAccessToken(
  cfg: TokenSettings,
  p: Principal & { tokenVersion?: number },
): Promise<{ token: string; expiresIn: number }> {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: cfg.JWT_ISSUER,
    aud: cfg.JWT_AUDIENCE,
    sub: p.userId,
    role: p.role,
    ver: p.tokenVersion ?? 0,
    iat: now,
    nbf: now,
    exp: now + cfg.JWT_TTL_SEC,
  };
  return { token: await sign(payload, cfg.JWT_SECRET, "HS256"), expiresIn: cfg.JWT_TTL_SEC };
}

/** 401 for a token that verified but must not be used (or did not verify). */
export const invalidToken = (detail: string) =>
  new ApiError("unauthorized", detail, { headers: { "WWW-Authenticate": 'Bearer realm="toko-edge", error="invalid_token"' } });

export async function verifyAccessToken(cfg: TokenSettings, token: string): Promise<AccessClaims> {
  let payload: Record<string, unknown>;
  try {
    payload = await verify(token, cfg.JWT_SECRET, { alg: "HS256", iss: cfg.JWT_ISSUER, aud: cfg.JWT_AUDIENCE });
  } catch (err) {
    const expired = err instanceof Error && err.name === "JwtTokenExpired";
    throw invalidToken(expired ? "The access token has expired." : "The access token is invalid.");
  }
  const { sub, role, exp, ver = 0 } = payload;
  if (typeof exp !== "number" || typeof sub !== "string" || !UUID.test(sub) || (role !== "ADMIN" && role !== "USER")) {
    throw invalidToken("The access token is invalid.");
  }
  if (typeof ver !== "number" || !Number.isSafeInteger(ver) || ver < 0) throw invalidToken("The access token is invalid.");
  return { userId: sub.toLowerCase(), role, tokenVersion: ver };
}
