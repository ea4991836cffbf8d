/** Accounts: signup, login with brute-force protection, token issuing and checking, roles and sessions. */
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import type { User } from "../db/schema.ts";
import {
  bumpTokenVersion,
  changeRole,
  clearLoginFailures,
  findAccessState,
  findAccountsByEmail,
  findUserByEmail,
  findUserById,
  insertUser,
  releaseLoginAttempt,
  replacePassword,
  reserveLoginAttempt,
  type ThrottleRule,
  updatePasswordHash,
} from "../db/users.repo.ts";
import { countEvent } from "../lib/metrics.ts";
import { dummyHash, hashPassword, verifyPassword } from "../lib/password.ts";
import { normaliseEmail, passwordProblems } from "../lib/password-policy.ts";
import { pgError, UNIQUE_VIOLATION } from "../lib/pg-errors.ts";
import { ApiError } from "../lib/problem.ts";
import { type AccessClaims, invalidToken, issueAccessToken, type Principal, type Role } from "../lib/tokens.ts";

export function toUserDto(u: User) {
  return { id: u.id, email: u.email, role: u.role, created_at: u.createdAt.toISOString() };
}

/** What support staff see: the account and its token version (bumped by every revocation). */
export function toAdminUserDto(u: User) {
  return { ...toUserDto(u), token_version: u.tokenVersion };
}

/** An account: the caller's own, or any for ADMIN; anyone else's is the same 404 as a missing one. */
export async function readAccount(db: Drizzle, p: Principal, id: string) {
  if (p.role !== "ADMIN" && id.toLowerCase() !== p.userId) throw new ApiError("not_found", "No account with that id.");
  const user = await findUserById(db, id);
  if (!user) throw new ApiError("not_found", id === p.userId ? "Your account no longer exists." : "No account with that id.");
  return toUserDto(user);
}

/** The signup policy, for any password field (`password`, `new_password`). */
function assertPasswordPolicy(password: string, email: string, field: string): void {
  const problems = passwordProblems(password, email);
  if (problems.length) {
    throw new ApiError("validation_error", "The password does not meet the policy.", {
      errors: problems.map((message) => ({ field, in: "body" as const, code: "weak_password", message })),
    });
  }
}

export async function signup(db: Drizzle, email: string, password: string): Promise<User> {
  const normalised = normaliseEmail(email);
  assertPasswordPolicy(password, normalised, "password");
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

// ---- Brute-force protection --------------------------------------------------------------

const tooMany = (seconds: number) =>
  new ApiError("rate_limited", "Too many failed sign-in attempts. Try again later.", {
    headers: { "Retry-After": String(Math.max(1, seconds)) },
  });

/** The two failed-login counters of an attempt: the account (normalised email) and the client (IPv4, or IPv6 /64). */
function throttleRules(cfg: Config, email: string, clientKey: string): { account: ThrottleRule; client: ThrottleRule } {
  return {
    account: { key: `acct:${email}`, max: cfg.LOGIN_MAX_FAILURES, delayAfter: cfg.LOGIN_DELAY_AFTER, lockoutSec: cfg.LOGIN_LOCKOUT_SEC },
    client: {
      key: `ip:${clientKey}`,
      max: cfg.LOGIN_IP_MAX_FAILURES,
      delayAfter: Math.max(cfg.LOGIN_DELAY_AFTER, Math.floor(cfg.LOGIN_IP_MAX_FAILURES / 2)),
      lockoutSec: cfg.LOGIN_LOCKOUT_SEC,
    },
  };
}

/**
 * Counts the attempt before the password hash is checked (429 if either counter is locked), so
 * parallel guesses cannot all be evaluated. A wrong password leaves the count standing; see `passed`.
 */
async function reserveAttempt(db: Drizzle, rules: { account: ThrottleRule; client: ThrottleRule }): Promise<void> {
  const wait = await reserveLoginAttempt(db, [rules.account, rules.client]);
  if (wait > 0) {
    countEvent("login_lockout");
    throw tooMany(wait);
  }
}

/**
 * The password was right: the account counter is cleared; the client's reserved attempt is given
 * back but its earlier failures are left to decay (clearing them would let one valid account
 * launder guesses against others from the same address).
 */
async function passed(db: Drizzle, rules: { account: ThrottleRule; client: ThrottleRule }): Promise<void> {
  await clearLoginFailures(db, rules.account.key);
  await releaseLoginAttempt(db, rules.client);
}

async function tokenFor(cfg: Config, user: User) {
  const { token, expiresIn } = await issueAccessToken(cfg, { userId: user.id, role: user.role, tokenVersion: user.tokenVersion });
  return { access_token: token, token_type: "Bearer" as const, expires_in: expiresIn, role: user.role };
}

/**
 * Unknown email and wrong password are indistinguishable (same status, body and cost:
 * an unknown email is checked against a dummy hash). Failures count per account and
 * per client (`clientKey`, see src/lib/client-ip.ts) in Postgres, so every isolate and location shares them.
 */
export async function login(db: Drizzle, cfg: Config, email: string, password: string, clientKey: string) {
  const normalised = normaliseEmail(email);
  const rules = throttleRules(cfg, normalised, clientKey);
  await reserveAttempt(db, rules);
  const user = await findUserByEmail(db, normalised);
  const check = await verifyPassword(password, user?.passwordHash ?? (await dummyHash()));
  if (!user || !check.ok) throw new ApiError("invalid_credentials", "The email or password is incorrect.");
  await passed(db, rules);
  if (check.needsRehash) await updatePasswordHash(db, user.id, await hashPassword(password));
  return tokenFor(cfg, user);
}

// ---- Token versions: every authenticated request -----------------------------------------

type AccessState = { role: Role; tokenVersion: number } | null;

/** Per isolate: user id → (role, token version) or null (no such account), and when it was read. */
const accessCache = new Map<string, { at: number; state: AccessState }>();
const ACCESS_CACHE_MAX = 10_000;

function remember(userId: string, state: AccessState): void {
  accessCache.delete(userId);
  if (accessCache.size >= ACCESS_CACHE_MAX) {
    const oldest = accessCache.keys().next().value;
    if (oldest !== undefined) accessCache.delete(oldest);
  }
  accessCache.set(userId, { at: Date.now(), state });
}

/** Changes made through this isolate take effect here at once (other isolates: within AUTH_CACHE_SEC). */
function forget(userId: string): void {
  accessCache.delete(userId);
}

/**
 * A verified token becomes a principal only if its account exists and its `ver` is the account's
 * token_version; the role is the row's, not the token's. The row is cached per isolate for
 * AUTH_CACHE_SEC, except when `fresh` (writes) or when the token is newer than the cached version
 * (versions only grow: a newer token means the cache is stale, never that the token is bad).
 */
export async function authenticate(
  connect: () => Promise<Drizzle>,
  cfg: Config,
  claims: AccessClaims,
  opts: { fresh: boolean },
): Promise<Principal> {
  const hit = accessCache.get(claims.userId);
  let state: AccessState;
  if (
    !opts.fresh &&
    hit &&
    Date.now() - hit.at < cfg.AUTH_CACHE_SEC * 1000 &&
    (hit.state === null || claims.tokenVersion <= hit.state.tokenVersion)
  ) {
    state = hit.state;
  } else {
    state = await findAccessState(await connect(), claims.userId);
    remember(claims.userId, state);
  }
  if (!state) throw invalidToken("The account of this access token no longer exists.");
  if (state.tokenVersion !== claims.tokenVersion) throw invalidToken("The access token has been revoked. Sign in again.");
  return { userId: claims.userId, role: state.role };
}

// ---- Password change, roles, sessions ----------------------------------------------------

/**
 * The caller's new password (signup policy), checked against the current one like a login (the
 * same counters and lock: this is a password oracle too). Bumps the token version, so every
 * older token is revoked, and returns a fresh token.
 */
export async function changePassword(db: Drizzle, cfg: Config, p: Principal, current: string, next: string, clientKey: string) {
  const user = await findUserById(db, p.userId);
  if (!user) throw invalidToken("The account of this access token no longer exists.");
  assertPasswordPolicy(next, user.email, "new_password");
  const rules = throttleRules(cfg, user.email, clientKey);
  await reserveAttempt(db, rules);
  if (!(await verifyPassword(current, user.passwordHash)).ok) {
    throw new ApiError("validation_error", "The current password is not correct.", {
      errors: [{ field: "current_password", in: "body", code: "incorrect", message: "is not your current password" }],
    });
  }
  await passed(db, rules);
  const updated = await replacePassword(db, user.id, await hashPassword(next));
  if (!updated) throw invalidToken("The account of this access token no longer exists.");
  forget(user.id);
  return tokenFor(cfg, updated);
}

const noSuchAccount = () => new ApiError("not_found", "No account with that id.");

/** ADMIN: sets a role; a change revokes the account's tokens. The last ADMIN cannot be demoted (409). */
export async function setRole(db: Drizzle, id: string, role: Role) {
  const userId = id.toLowerCase();
  const res = await changeRole(db, userId, role);
  if (res.outcome === "not_found") throw noSuchAccount();
  if (res.outcome === "last_admin") {
    throw new ApiError("last_admin", "This is the last ADMIN account: promote another account before demoting it.");
  }
  if (res.outcome === "changed") forget(userId);
  return { changed: res.outcome === "changed", user: toAdminUserDto(res.user) };
}

/** ADMIN (support): accounts by a part of their email, with their sign-in lock (failures, locked until). */
export async function lookupAccounts(db: Drizzle, email: string) {
  const rows = await findAccountsByEmail(db, email.trim().normalize("NFKC").toLowerCase(), 20);
  return {
    data: rows.map((r) => ({
      ...toAdminUserDto(r.user),
      failed_logins: r.failures,
      locked_until: r.lockedUntil && r.lockedUntil > new Date() ? r.lockedUntil.toISOString() : null,
    })),
  };
}

/** ADMIN: revokes every token of the account (it signs in again). */
export async function revokeSessions(db: Drizzle, id: string) {
  const user = await bumpTokenVersion(db, id.toLowerCase());
  if (!user) throw noSuchAccount();
  forget(user.id);
  return toAdminUserDto(user);
}

/** ADMIN: clears the account's failed-login counter and lock (per-client counters are not the account's). */
export async function unlockAccount(db: Drizzle, id: string) {
  const user = await findUserById(db, id);
  if (!user) throw noSuchAccount();
  return { id: user.id, email: user.email, cleared: await clearLoginFailures(db, `acct:${user.email}`) };
}
