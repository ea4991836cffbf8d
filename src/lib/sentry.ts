/**
 * Errors to Sentry through toucan-js: the one place that talks to it. A client is built only when
 * there is something to report (a 5xx answer, an unhandled error in a queue batch or a Cron Trigger),
 * so a request that succeeds pays nothing; without SENTRY_DSN nothing is built or sent.
 *
 * What an event may carry: release, environment, request id, route template, method, status, the
 * user's id, the error and its stack. Never an email, a token or key, a request or response body,
 * card data, query strings or headers other than CF-Ray: `scrubEvent` (beforeSend) enforces it on
 * everything the SDK assembled, whatever the error message says (test/sentry.test.ts).
 */
import { Toucan } from "toucan-js";

type SentryEvent = Parameters<NonNullable<ConstructorParameters<typeof Toucan>[0]["beforeSend"]>>[0];

export interface ErrorReport {
  dsn: string | undefined;
  release: string;
  environment: string;
  /** Keeps the invocation alive until the event is sent (ctx.waitUntil). */
  waitUntil: (p: Promise<unknown>) => void;
  /** The request, for method and path (its headers, query and body are not sent). */
  request?: Request | undefined;
  source: "http" | "queue" | "cron";
  requestId?: string | undefined;
  route?: string | undefined;
  userId?: string | undefined;
  status?: number | undefined;
  /** Low-cardinality tags (problem code, queue, cron). */
  tags?: Record<string, string | undefined>;
  /** Test seam: the transport's fetch (a fake in tests, the global fetch otherwise). */
  fetcher?: typeof fetch;
}

/** Reports `err` to Sentry; the event id, or undefined when Sentry is off or the report itself failed. */
export function reportError(err: unknown, r: ErrorReport): string | undefined {
  if (!r.dsn) return undefined;
  try {
    const sentry = new Toucan({
      dsn: r.dsn,
      release: r.release,
      environment: r.environment,
      context: { waitUntil: r.waitUntil },
      request: r.request,
      // Only CF-Ray from the headers; no cookies, no query string, no client IP (the default allowlists are wider).
      requestDataOptions: { allowedHeaders: ["cf-ray"], allowedCookies: false, allowedSearchParams: false, allowedIps: false },
      sendDefaultPii: false,
      beforeSend: scrubEvent,
      beforeBreadcrumb: () => null,
      ...(r.fetcher ? { transportOptions: { fetcher: r.fetcher } } : {}),
    });
    sentry.setTag("source", r.source);
    if (r.requestId) sentry.setTag("request_id", r.requestId);
    if (r.route) sentry.setTag("route", r.route);
    if (r.status) sentry.setTag("status", String(r.status));
    for (const [k, v] of Object.entries(r.tags ?? {})) if (v) sentry.setTag(k, v);
    if (r.userId) sentry.setUser({ id: r.userId });
    return sentry.captureException(err);
  } catch {
    // Reporting must never turn an error into a worse one.
    return undefined;
  }
}

// ---- The scrubber ------------------------------------------------------------------------

const REDACTIONS: [RegExp, string][] = [
  // Query-builder errors quote the SQL and its parameters (emails, hashes…): keep only that it failed.
  [/^Failed query:[\s\S]*$/, "Failed query (SQL and parameters removed)"],
  // Any local@domain, even without a dot (admin@localhost): redacting a non-email costs nothing.
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*/g, "[email]"],
  [/\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, "Bearer [token]"],
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, "[jwt]"],
  [/\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]+/g, "[key]"],
  [/\bwhsec_[A-Za-z0-9+/=_-]+/g, "[secret]"],
  [/\bre_[A-Za-z0-9_]{8,}/g, "[key]"],
  [/\b(password|passwd|secret|token|api[_-]?key)(\s*[=:]\s*)[^\s&,;]+/gi, "$1$2[removed]"],
];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Card numbers (13–19 digits, optionally grouped by spaces or dashes), but never a uuid's digits. */
const UUID_OR_CARD = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b\d(?:[ -]?\d){12,18}\b/gi;

/** Keys whose values never leave, wherever they appear in the event. */
const SECRET_KEY =
  /authorization|cookie|passw(or)?d|secret|token|api[_-]?key|e-?mail|card|cvc|cvv|^pan$|iban|^body$|^data$|^query_string$/i;

/** Redacts one string. Exported for the tests. */
export function scrubString(s: string): string {
  let out = s;
  for (const [pattern, replacement] of REDACTIONS) out = out.replace(pattern, replacement);
  return out.replace(UUID_OR_CARD, (m) => (UUID.test(m) ? m : "[number]"));
}

function scrubValue(v: unknown, depth: number): unknown {
  if (typeof v === "string") return scrubString(v);
  if (depth > 12 || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => scrubValue(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (SECRET_KEY.test(k)) continue;
    out[k] = scrubValue(x, depth + 1);
  }
  return out;
}

/**
 * beforeSend: drops the request's body, cookies, query string and every header but CF-Ray, keeps only
 * the user's id, drops breadcrumbs, then redacts emails, tokens, keys and card-like numbers in every
 * remaining string and drops every value under a secret-looking key. Exported for the tests.
 */
export function scrubEvent(event: SentryEvent): SentryEvent {
  const e = { ...event };
  if (e.request) {
    const headers = Object.entries(e.request.headers ?? {}).filter(([k]) => k.toLowerCase() === "cf-ray");
    e.request = {
      ...(e.request.method ? { method: e.request.method } : {}),
      ...(e.request.url ? { url: e.request.url.split("?")[0] } : {}),
      ...(headers.length ? { headers: Object.fromEntries(headers) } : {}),
    };
  }
  if (e.user) e.user = e.user.id === undefined ? {} : { id: e.user.id };
  delete e.breadcrumbs;
  return scrubValue(e, 0) as SentryEvent;
}
