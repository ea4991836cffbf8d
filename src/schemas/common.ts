/** Schemas shared by every resource: problem documents, ids, money, pagination. */
import { z } from "@hono/zod-openapi";
import { MAX_YEAR, MIN_YEAR } from "../lib/input-rules.ts";
import { PROBLEM_CODES } from "../lib/problem.ts";

export const FieldErrorSchema = z
  .object({
    field: z.string().openapi({ example: "limit" }),
    in: z.enum(["query", "path", "body", "header"]),
    code: z.string().openapi({ example: "too_big" }),
    message: z.string().openapi({ example: "Too big: expected number to be <=100" }),
  })
  .openapi("FieldError");

export const ProblemSchema = z
  .object({
    type: z.string().url().openapi({ example: "https://toko-edge.dev/problems/validation-error" }),
    title: z.string(),
    status: z.number().int(),
    code: z.enum(PROBLEM_CODES).openapi({
      example: "validation_error",
      description: "Machine-readable; `type` is https://toko-edge.dev/problems/ + this code with `_` as `-`",
    }),
    detail: z.string().optional(),
    instance: z.string().openapi({ example: "/api/v1/products" }),
    request_id: z.string().openapi({ example: "4f0c7d0e-5d55-4c4f-9a0c-3b8e0d2f6a11" }),
    errors: z.array(FieldErrorSchema).optional(),
  })
  .openapi("Problem");

export const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ProblemSchema } },
});

/** Standard error responses for OpenAPI route definitions. */
export const problemResponses = {
  400: problem("Invalid request (per-field `errors`)"),
  404: problem("Not found"),
  500: problem("Unexpected error (no internals are disclosed)"),
  503: problem("Dependency unavailable"),
} as const;

/** Authenticated routes: missing/invalid token and insufficient role. */
export const authResponses = {
  401: problem("Missing, malformed, expired or otherwise invalid access token"),
  403: problem("Authenticated, but the role does not allow it"),
} as const;

export const jsonContent = <T>(schema: T) => ({ "application/json": { schema } });

/** Base-10 integer in a query string, bounded (no floats, no exponents, no signs). */
export const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,10}$/, "must be a non-negative integer")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const queryBool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

export const LimitSchema = queryInt(1, 100)
  .optional()
  .openapi({ param: { name: "limit", in: "query" }, type: "integer", minimum: 1, maximum: 100, default: 20 });

export const CursorSchema = z
  .string()
  .min(1)
  .max(2048)
  .optional()
  .openapi({ param: { name: "cursor", in: "query" }, description: "Opaque cursor from `next_cursor` of the previous page" });

/**
 * Every date-time input (query filters and body fields): RFC 3339 with an offset, a real calendar
 * date, and a year in MIN_YEAR–MAX_YEAR, 1970–9999 (Postgres has no year 0; far dates are never meant).
 */
export const DateTimeSchema = z
  .string()
  .datetime({ offset: true, message: "must be an RFC 3339 date-time with an offset, e.g. 2025-01-31T09:00:00Z" })
  .refine(
    (s) => {
      const year = Number(s.slice(0, 4));
      return year >= MIN_YEAR && year <= MAX_YEAR;
    },
    { message: `must be in the years ${MIN_YEAR}–${MAX_YEAR}` },
  )
  .openapi({ type: "string", format: "date-time", example: "2025-01-31T09:00:00Z" });

export const CurrencySchema = z
  .string()
  .regex(/^[A-Z]{3}$/, "must be an ISO 4217 code in upper case")
  .openapi({ example: "USD" });

const idempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .openapi({
    param: { in: "header" },
    description: "1–255 printable ASCII characters, unique per operation; a retry with the same key and body replays the first response",
  });

/** Idempotency-Key as a required header (routes whose guard requires it). Optional ones are documented from the guard table. */
export const IdempotencyKeyHeaders = z.object({ "idempotency-key": idempotencyKey });
export const OptionalIdempotencyKeyHeaders = z.object({ "idempotency-key": idempotencyKey.optional() });

/** One cart line, as checkout and shipping quotes take it: a SKU and a quantity. */
export const LineInputSchema = z
  .object({
    sku: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be a SKU"),
    qty: z.number().int("must be a whole number").min(1).max(1000),
  })
  .strict();
