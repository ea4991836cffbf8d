/**
 * Opaque, signed pagination cursors. The payload is base64url JSON; an
 * HMAC-SHA256 over (scope, payload) makes it tamper-evident, and the scope
 * (route + filters) stops a cursor from one query being replayed on another.
 */
import { hmacSha256, timingSafeEqual } from "./crypto.ts";
import { b64url, fromB64url } from "./encoding.ts";
import { UUID } from "./ids.ts";
import { daysInMonth } from "./input-rules.ts";
import { ApiError } from "./problem.ts";

const enc = new TextEncoder();
const SIG_BYTES = 16;

export async function encodeCursor(secret: string, scope: string, position: readonly (string | number)[]): Promise<string> {
  const body = b64url(enc.encode(JSON.stringify(position)));
  const sig = await hmacSha256(secret, `${scope}\n${body}`);
  return `${body}.${b64url(sig.slice(0, SIG_BYTES))}`;
}

const invalid = () =>
  new ApiError("invalid_cursor", "The cursor is malformed, was altered, or belongs to a different query.", {
    errors: [{ field: "cursor", in: "query", code: "invalid_cursor", message: "not a cursor issued for this query" }],
  });

/** Verifies and decodes a cursor; any tampering or scope mismatch is a 400. */
export async function decodeCursor(secret: string, scope: string, cursor: string): Promise<unknown[]> {
  // Up to 2,000 base64url characters: room for a `sort=name` key (200 characters, JSON-escaped) and the id.
  const m = /^([A-Za-z0-9_-]{1,2000})\.([A-Za-z0-9_-]{22})$/.exec(cursor);
  if (!m) throw invalid();
  const [, body = "", sigText = ""] = m;
  const full = await hmacSha256(secret, `${scope}\n${body}`);
  let given: Uint8Array;
  try {
    given = fromB64url(sigText);
  } catch {
    throw invalid();
  }
  if (given.length !== SIG_BYTES || !timingSafeEqual(given, full.slice(0, SIG_BYTES))) throw invalid();
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(fromB64url(body)));
    if (!Array.isArray(value)) throw new Error("not an array");
    return value;
  } catch {
    throw invalid();
  }
}

/** Keyset position (sort key as Postgres text, row id). */
export interface KeysetPosition {
  key: string;
  id: string;
}

/** What a sort key must satisfy before it reaches SQL: a RegExp, or one of the checks below. */
export interface KeyRule {
  test(key: string): boolean;
}

/**
 * Reads a keyset cursor: verified, scoped, and the sort key valid by `keyPattern`. A signature only
 * proves we issued it (or someone holds the secret): the key is still checked, so an impossible
 * value is a 400 here rather than a Postgres error.
 */
export async function readKeyset(
  secret: string,
  scope: string,
  cursor: string | undefined,
  keyPattern: KeyRule,
): Promise<KeysetPosition | null> {
  if (!cursor) return null;
  const [key, id] = await decodeCursor(secret, scope, cursor);
  if (typeof key !== "string" || !keyPattern.test(key) || typeof id !== "string" || !UUID.test(id)) throw invalid();
  return { key, id };
}

/** One page from rows fetched with `limit + 1` (the extra row only says there is more). */
export async function keysetPage<T extends { id: string }, D>(
  rows: T[],
  limit: number,
  cursor: { secret: string; scope: string; keyOf: (last: T) => string },
  toDto: (row: T) => D,
): Promise<{ data: D[]; has_more: boolean; next_cursor: string | null }> {
  const has_more = rows.length > limit;
  const items = has_more ? rows.slice(0, limit) : rows;
  const last = items.at(-1);
  return {
    data: items.map(toDto),
    has_more,
    next_cursor: has_more && last ? await encodeCursor(cursor.secret, cursor.scope, [cursor.keyOf(last), last.id]) : null,
  };
}

const TIMESTAMP_TEXT = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?[+-](\d{2})(?::(\d{2}))?$/;
const REAL_TEXT = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/;
const FLT_MAX = 3.4028234663852886e38;
const FLT_MIN = 1.1754943508222875e-38;

/** Postgres text forms of the sort keys we page on (`timestamptz::text`, `real::text`), checked as values too. */
export const PG_TIMESTAMP: KeyRule = {
  test(key) {
    const m = TIMESTAMP_TEXT.exec(key);
    if (!m) return false;
    const [y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, offH = 0, offM = 0] = [m[1], m[2], m[3], m[4], m[5], m[6], m[8], m[9] ?? "0"].map(
      Number,
    );
    return (
      y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo) && h <= 23 && mi <= 59 && sec <= 59 && offH <= 15 && offM <= 59
    );
  },
};

export const PG_REAL: KeyRule = {
  test(key) {
    if (!REAL_TEXT.test(key)) return false;
    const n = Math.abs(Number(key));
    return Number.isFinite(n) && n <= FLT_MAX && (n === 0 || n >= FLT_MIN);
  },
};
