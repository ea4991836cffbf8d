/** The one way the console talks to the API: bearer token, JSON, problem+json errors with their request id. */
import { end, session } from "./session.ts";

export interface FieldError {
  field: string;
  in: string;
  code: string;
  message: string;
}

/** An RFC 9457 problem from the API (or a network failure, status 0), with the request id to quote. */
export class ApiProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[];
  readonly requestId: string | null;
  readonly body: Record<string, unknown>;
  constructor(status: number, body: Record<string, unknown>, requestId: string | null) {
    const title = typeof body.title === "string" ? body.title : `HTTP ${status}`;
    super(typeof body.detail === "string" ? body.detail : title);
    this.status = status;
    this.title = title;
    this.code = typeof body.code === "string" ? body.code : status === 0 ? "network_error" : "http_error";
    this.detail = typeof body.detail === "string" ? body.detail : undefined;
    this.errors = Array.isArray(body.errors) ? (body.errors as FieldError[]) : [];
    this.requestId = (typeof body.request_id === "string" ? body.request_id : null) ?? requestId;
    this.body = body;
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface CallOptions {
  method?: "GET" | "POST" | "PATCH" | "DELETE";
  query?: Query;
  body?: unknown;
  /** No bearer token (sign-in). */
  anonymous?: boolean;
  /** Sent as Idempotency-Key: the same key for a resubmission of the same intent (a double click, a retry after a network error). */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export function withQuery(path: string, query: Query = {}): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") qs.set(k, String(v));
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

export async function api<T>(path: string, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const s = opts.anonymous ? null : session();
  if (s) headers.Authorization = `Bearer ${s.token}`;
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
  let res: Response;
  try {
    res = await fetch(withQuery(path, opts.query), {
      method: opts.method ?? "GET",
      headers,
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
      signal: opts.signal ?? null,
      credentials: "omit",
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiProblem(0, { title: "The API could not be reached", detail: "Check your connection and try again." }, null);
  }
  const requestId = res.headers.get("x-request-id");
  if (!res.ok) {
    let body: Record<string, unknown> = {};
    try {
      body = (await res.json()) as Record<string, unknown>;
    } catch {
      body = { title: `HTTP ${res.status}` };
    }
    const problem = new ApiProblem(res.status, body, requestId);
    if (res.status === 401 && s) end("Your session ended (expired or revoked): sign in again.");
    throw problem;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** Field errors by field name (dotted path), for forms: the API's problem+json `errors`. */
export function fieldErrors(err: unknown, prefix = ""): Record<string, string> {
  const out: Record<string, string> = {};
  if (!(err instanceof ApiProblem)) return out;
  for (const e of err.errors) {
    if (!e.field.startsWith(prefix)) continue;
    const key = e.field.slice(prefix.length);
    out[key] = out[key] ? `${out[key]}; ${e.message}` : e.message;
  }
  return out;
}
