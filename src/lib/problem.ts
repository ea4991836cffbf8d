/**
 * The one error type of the API. Every failure leaves as RFC 9457
 * `application/problem+json` with the request id; internals never leave.
 */
const PROBLEMS = {
  bad_request: [400, "Bad request"],
  validation_error: [400, "Your request parameters did not validate"],
  malformed_json: [400, "Request body is not valid JSON"],
  invalid_cursor: [400, "The pagination cursor is invalid"],
  malformed_signature: [400, "The webhook signature headers are malformed"],
  unauthorized: [401, "Authentication required"],
  invalid_credentials: [401, "Invalid credentials"],
  invalid_signature: [401, "The webhook signature does not verify"],
  forbidden: [403, "Forbidden"],
  not_found: [404, "Resource not found"],
  method_not_allowed: [405, "Method not allowed"],
  conflict: [409, "Conflict"],
  insufficient_stock: [409, "Not enough stock"],
  version_conflict: [409, "The resource changed since you read it"],
  invalid_transition: [409, "That status change is not allowed"],
  client_token_in_use: [409, "The client_token is being used by a concurrent request"],
  idempotency_in_flight: [409, "A request with this Idempotency-Key is still being processed"],
  order_not_payable: [409, "The order cannot be paid in its current status"],
  payment_exists: [409, "The order already has a payment"],
  payment_in_progress: [409, "A payment for this order is in progress"],
  last_admin: [409, "The last ADMIN account cannot be demoted"],
  concurrency_conflict: [409, "A concurrent request holds the same data; retry"],
  reservation_limit: [409, "Too many units of one product are reserved by your unpaid orders"],
  webhook_endpoint_disabled: [409, "The webhook endpoint is disabled"],
  delivery_in_progress: [409, "An attempt of this webhook delivery is in progress"],
  refresh_in_progress: [409, "A refresh of the reports is already running"],
  shipping_rate_invalid: [409, "The shipping rate is not valid for this checkout"],
  shipping_rate_expired: [409, "The shipping rate has expired"],
  shipping_currency_mismatch: [409, "The shipping rate is in another currency than the goods"],
  payload_too_large: [413, "Request body too large"],
  unsupported_media_type: [415, "Unsupported media type"],
  unprocessable: [422, "Unprocessable request"],
  url_not_allowed: [422, "The URL may not receive webhooks"],
  idempotency_key_reused: [422, "The Idempotency-Key was used with a different request"],
  shipping_not_quotable: [422, "The shipment cannot be quoted"],
  rate_limited: [429, "Too many requests"],
  open_orders_limit: [429, "Too many unpaid orders"],
  internal_error: [500, "Internal server error"],
  service_unavailable: [503, "Service unavailable"],
  database_unavailable: [503, "The database is unavailable"],
  overloaded: [503, "The service is shedding load"],
  provider_unavailable: [503, "The payment provider is unavailable"],
  provider_failed: [503, "The payment provider call failed"],
  dns_unavailable: [503, "The DNS resolver did not answer"],
  shipping_unavailable: [503, "No shipping rate can be quoted right now"],
} as const satisfies Record<string, readonly [number, string]>;

/**
 * Every `code` a problem document can carry: one typed union, also the OpenAPI enum.
 * Each code has one status and its own `type` URI.
 */
export type ProblemCode = keyof typeof PROBLEMS;
export const PROBLEM_CODES = Object.keys(PROBLEMS) as [ProblemCode, ...ProblemCode[]];

/** One invalid input: `field` is a dotted path (`items.0.qty`), `in` where it came from. */
export interface FieldError {
  field: string;
  in: "query" | "path" | "body" | "header";
  code: string;
  message: string;
}

/** Extension members (RFC 9457 §3.2); the standard members cannot be overridden. */
export type ProblemExtra = Record<string, unknown> & { [K in "type" | "title" | "status" | "code" | "instance" | "request_id"]?: never };

export class ApiError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly extra: ProblemExtra | undefined;

  constructor(
    code: ProblemCode,
    detail?: string,
    opts: { errors?: FieldError[]; headers?: Record<string, string>; extra?: ProblemExtra } = {},
  ) {
    super(detail ?? PROBLEMS[code][1]);
    this.name = "ApiError";
    this.code = code;
    this.status = PROBLEMS[code][0];
    this.detail = detail;
    this.errors = opts.errors;
    this.headers = opts.headers;
    this.extra = opts.extra;
  }
}

export const PROBLEM_TYPE_BASE = "https://toko-edge.dev/problems/";

export const problemType = (code: ProblemCode): string => `${PROBLEM_TYPE_BASE}${code.replaceAll("_", "-")}`;

/** Builds the problem document (also used by the OpenAPI schema). */
export function problemBody(err: ApiError, requestId: string, instance: string): Record<string, unknown> {
  return {
    type: problemType(err.code),
    title: PROBLEMS[err.code][1],
    status: err.status,
    code: err.code,
    ...(err.detail ? { detail: err.detail } : {}),
    instance,
    request_id: requestId,
    ...err.extra,
    ...(err.errors ? { errors: err.errors } : {}),
  };
}

export function problemResponse(err: ApiError, requestId: string, instance: string): Response {
  const headers = new Headers(err.headers);
  headers.set("Content-Type", "application/problem+json");
  headers.set("Cache-Control", "no-store");
  headers.set("X-Request-Id", requestId);
  return new Response(JSON.stringify(problemBody(err, requestId, instance)), { status: err.status, headers });
}
