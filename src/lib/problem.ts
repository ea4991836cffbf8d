/**
 * The one error type of the API. Every failure leaves as RFC 9457
 * `application/problem+json` with the request id; internals never leave.
 */
export const PROBLEM_STATUS = {
  bad_request: 400,
  validation_error: 400,
  malformed_json: 400,
  invalid_cursor: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const;

export type ProblemCode = keyof typeof PROBLEM_STATUS;

const TITLES: Record<ProblemCode, string> = {
  bad_request: "Bad request",
  validation_error: "Your request parameters did not validate",
  malformed_json: "Request body is not valid JSON",
  invalid_cursor: "The pagination cursor is invalid",
  unauthorized: "Authentication required",
  forbidden: "Forbidden",
  not_found: "Resource not found",
  method_not_allowed: "Method not allowed",
  conflict: "Conflict",
  payload_too_large: "Request body too large",
  unsupported_media_type: "Unsupported media type",
  unprocessable: "Unprocessable request",
  rate_limited: "Too many requests",
  internal_error: "Internal server error",
  service_unavailable: "Service unavailable",
};

/** One invalid input: `field` is a dotted path (`items.0.qty`), `in` where it came from. */
export interface FieldError {
  field: string;
  in: "query" | "path" | "body" | "header";
  code: string;
  message: string;
}

export class ApiError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly extra: Record<string, unknown> | undefined;

  constructor(
    code: ProblemCode,
    detail?: string,
    opts: { errors?: FieldError[]; headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
  ) {
    super(detail ?? TITLES[code]);
    this.name = "ApiError";
    this.code = code;
    this.status = PROBLEM_STATUS[code];
    this.detail = detail;
    this.errors = opts.errors;
    this.headers = opts.headers;
    this.extra = opts.extra;
  }
}

export const PROBLEM_TYPE_BASE = "https://toko-edge.dev/problems/";

/** Builds the problem document (also used by the OpenAPI schema). */
export function problemBody(err: ApiError, requestId: string, instance: string): Record<string, unknown> {
  return {
    type: `${PROBLEM_TYPE_BASE}${err.code.replaceAll("_", "-")}`,
    title: TITLES[err.code],
    status: err.status,
    code: err.code,
    ...(err.detail ? { detail: err.detail } : {}),
    instance,
    request_id: requestId,
    ...(err.errors ? { errors: err.errors } : {}),
    ...err.extra,
  };
}

export function problemResponse(err: ApiError, requestId: string, instance: string): Response {
  const headers = new Headers(err.headers);
  headers.set("Content-Type", "application/problem+json");
  headers.set("Cache-Control", "no-store");
  headers.set("X-Request-Id", requestId);
  return new Response(JSON.stringify(problemBody(err, requestId, instance)), { status: err.status, headers });
}
