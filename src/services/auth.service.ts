/** Accounts: signup, login with brute-force protection, token issuing. */
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import type { User } from "../db/schema.ts";
import {
  clearLoginFailures,
  findUserByEmail,
  findUserById,
  insertUser,
  lockedForSeconds,
  recordLoginFailure,
  updatePasswordHash,
} from "../db/users.repo.ts";
import { dummyHash, hashPassword, verifyPassword } from "../lib/password.ts";
import { normaliseEmail, passwordProblems } from "../lib/password-policy.ts";
import { pgError, UNIQUE_VIOLATION } from "../lib/pg-errors.ts";
import { ApiError } from "../lib/problem.ts";
import { issueAccessToken, type Principal } from "../lib/tokens.ts";

export function toUserDto(u: User) {
  return { id: u.id, email: u.email, role: u.role, created_at: u.createdAt.toISOString() };
}

/** An account: the caller's own, or any for ADMIN; anyone else's is the same 404 as a missing one. */
export async function readAccount(db: Drizzle, p: Principal, id: string) {
  if (p.role !== "ADMIN" && id.toLowerCase() !== p.userId) throw new ApiError("not_found", "No account with that id.");
  const user = await findUserById(db, id);
  if (!user) throw new ApiError("not_found", id === p.userId ? "Your account no longer exists." : "No account with that id.");
  return toUserDto(user);
}

export async function signup(db: Drizzle, email: string, password: string): Promise<User> {
  const normalised = normaliseEmail(email);
  const problems = passwordProblems(password, normalised);
  if (problems.length) {
    throw new ApiError("validation_error", "The password does not meet the policy.", {
      errors: problems.map((message) => ({ field: "password", in: "body" as const, code: "weak_password", message })),
    });
  }
  try {
    return await insertUser(db, { email: normalised, passwordHash: await hashPassword(password) });
  } catch (err) {
    if (pgError(err)?.code === UNIQUE_VIOLATION) {
      throw new ApiError("conflict", "An account with this email already exists.", {
        errors: [{ field: "email", in: "body", code: "already_exists", message: "is already registered" }],
      });
    }
    throw err;
  }
}

const tooMany = (seconds: number) =>
  new ApiError("rate_limited", "Too many failed sign-in attempts. Try again later.", {
    headers: { "Retry-After": String(Math.max(1, seconds)) },
  });

/**
 * Unknown email and wrong password are indistinguishable (same status, body and cost:
 * an unknown email is checked against a dummy hash). Failures count per account and
 * per client IP in Postgres, so every isolate and location shares them.
 */
export async function login(db: Drizzle, cfg: Config, email: string, password: string, ip: string) {
  const normalised = normaliseEmail(email);
  const accountKey = `acct:${normalised}`;
  const ipKey = `ip:${ip}`;
  const wait = await lockedForSeconds(db, [accountKey, ipKey]);
  if (wait > 0) throw tooMany(wait);

  const user = await findUserByEmail(db, normalised);
  const check = await verifyPassword(password, user?.passwordHash ?? (await dummyHash()));
  if (!user || !check.ok) {
    const lockout = { lockoutSec: cfg.LOGIN_LOCKOUT_SEC, delayAfter: cfg.LOGIN_DELAY_AFTER };
    await recordLoginFailure(db, accountKey, { ...lockout, max: cfg.LOGIN_MAX_FAILURES });
    await recordLoginFailure(db, ipKey, {
      ...lockout,
      max: cfg.LOGIN_IP_MAX_FAILURES,
      delayAfter: Math.max(cfg.LOGIN_DELAY_AFTER, Math.floor(cfg.LOGIN_IP_MAX_FAILURES / 2)),
    });
    throw new ApiError("invalid_credentials", "The email or password is incorrect.");
  }
  // The IP counter is left to decay: resetting it on success would let one valid account
  // launder guesses against others from the same address.
  await clearLoginFailures(db, accountKey);
  if (check.needsRehash) await updatePasswordHash(db, user.id, await hashPassword(password));
  const { token, expiresIn } = await issueAccessToken(cfg, { userId: user.id, role: user.role });
  return { access_token: token, token_type: "Bearer" as const, expires_in: expiresIn, role: user.role };
}
