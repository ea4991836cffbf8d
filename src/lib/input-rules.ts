/**
 * The input rules applied once, at the edge of the system, to every request (issue 11, item 8):
 * - text (JSON strings and keys, decoded query names and values): no U+0000 (Postgres text cannot
 *   hold it) and well-formed UTF-16 (no lone surrogate: it cannot be encoded as UTF-8);
 * - JSON: at most MAX_JSON_DEPTH levels of arrays/objects (deep nesting overflows stacks further in);
 * - dates: a calendar-valid date-time with an offset, year MIN_YEAR..MAX_YEAR (schemas/common.ts).
 * Each failure is a FieldError naming where it is; callers turn it into a 400 problem.
 */
import { ApiError, type FieldError } from "./problem.ts";

export const MAX_JSON_DEPTH = 64;
export const MIN_YEAR = 1970;
export const MAX_YEAR = 9999;

/** Why a string breaks the text rule, or null when it is fine. */
export function textProblem(s: string): { code: "nul_character" | "lone_surrogate"; message: string } | null {
  if (s.includes("\u0000")) return { code: "nul_character", message: "must not contain the NUL character (U+0000)" };
  if (!s.isWellFormed()) return { code: "lone_surrogate", message: "must be well-formed Unicode (no lone surrogate)" };
  return null;
}

type Issue = Omit<FieldError, "in">;

/** The first string, key or nesting level in a parsed JSON value that breaks the rules; null when none. Never recurses past the limit. */
export function checkJsonValue(value: unknown, maxDepth = MAX_JSON_DEPTH): Issue | null {
  const walk = (v: unknown, path: string[], depth: number): Issue | null => {
    if (typeof v === "string") {
      const p = textProblem(v);
      return p && { field: path.join(".") || "(root)", ...p };
    }
    if (v === null || typeof v !== "object") return null;
    if (depth >= maxDepth) {
      return { field: path.join(".") || "(root)", code: "too_deep", message: `JSON may nest at most ${maxDepth} levels` };
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const found = walk(v[i], [...path, String(i)], depth + 1);
        if (found) return found;
      }
      return null;
    }
    for (const [k, child] of Object.entries(v)) {
      const keyProblem = textProblem(k);
      if (keyProblem) return { field: [...path, k.replaceAll("\u0000", "\\u0000")].join("."), ...keyProblem };
      const found = walk(child, [...path, k], depth + 1);
      if (found) return found;
    }
    return null;
  };
  return walk(value, [], 0);
}

export function inputError(
  where: FieldError["in"],
  issue: Issue,
  detail = "The request contains text or structure the API does not accept.",
): ApiError {
  return new ApiError("validation_error", detail, { errors: [{ ...issue, in: where }] });
}

/** Parses JSON text and applies the rules: malformed → 400 malformed_json, rule broken → 400 validation_error. */
export function parseJsonChecked(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError("malformed_json", "The request body could not be parsed as JSON.");
  }
  const issue = checkJsonValue(value);
  if (issue) throw inputError("body", issue);
  return value;
}

/** The first query parameter (name or decoded value) that breaks the text rule; null when none. */
export function checkQuery(url: string): Issue | null {
  const q = url.indexOf("?");
  if (q < 0) return null;
  const end = url.indexOf("#", q);
  const search = url.slice(q + 1, end < 0 ? undefined : end);
  for (const [name, value] of new URLSearchParams(search)) {
    const p = textProblem(name) ?? textProblem(value);
    if (p) return { field: name.replaceAll("\u0000", "\\u0000") || "(empty)", ...p };
  }
  return null;
}

/** Days in a month of the proleptic Gregorian calendar. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
