/**
 * Issue 16, item 4: errors to Sentry (toucan-js) with a fake transport. What is sent: release,
 * environment, request id, route, user id, the error. What never is: emails, tokens, keys, bodies,
 * card numbers, cookies, query strings. Only 5xx and unhandled errors; nothing without SENTRY_DSN.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index.ts";
import { reportError, scrubEvent, scrubString } from "../src/lib/sentry.ts";
import { apiSettled, createUser, jsonInit } from "./helpers.ts";

const DSN = "https://0123456789abcdef@sentry.stub/42";
const DEAD_PG = "postgres://postgres:postgres@127.0.0.1:1/x";
const withSentry = (vars: Record<string, unknown> = {}) => ({ ...env, SENTRY_DSN: DSN, RELEASE: "feedc0de", ...vars }) as unknown as Env;
const deadDb = (vars: Record<string, unknown> = {}) =>
  withSentry({ HYPERDRIVE_FRESH: { ...env.HYPERDRIVE_FRESH, connectionString: DEAD_PG, port: 1 }, DB_QUERY_TIMEOUT_MS: "3000", ...vars });

type SentEvent = Record<string, unknown> & {
  tags?: Record<string, string>;
  user?: Record<string, unknown>;
  request?: Record<string, unknown>;
};

/** The fake transport: every envelope POSTed to the DSN's host, decoded to its event items. */
function sentryInbox() {
  const raw: string[] = [];
  const urls: string[] = [];
  const original = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input, init);
    if (new URL(req.url).hostname !== "sentry.stub") return original(input, init);
    urls.push(req.url);
    raw.push(await req.text());
    return new Response("{}", { status: 200 });
  });
  const events = () =>
    raw.flatMap((envelope) =>
      envelope
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as SentEvent)
        .filter((item) => "exception" in item),
    );
  return { raw, urls, events };
}

afterEach(() => vi.restoreAllMocks());
const quiet = () => {
  vi.spyOn(console, "error").mockImplementation(() => {});
  vi.spyOn(console, "warn").mockImplementation(() => {});
};

describe("the scrubber", () => {
  it("redacts emails, bearer tokens, JWTs, provider keys, webhook secrets, card numbers and secret assignments", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl";
    const text = [
      "user jane.doe+shop@example.co.uk failed",
      `Authorization: Bearer ${jwt}`,
      `token in text ${jwt}`,
      "key sk_live_51Hx0123456789abcdef and rk_test_0123456789abcd",
      "whsec_dGVzdC1zYW5kYm94LXNlY3JldC0wMTIz",
      "re_123456789_abcdefghij",
      "card 4242 4242 4242 4242 and 4000-0566-5566-5556 and 5555555555554444",
      "password=hunter2hunter2 secret: s3cr3t-value api_key=abc123",
    ].join("\n");
    const out = scrubString(text);
    for (const leak of [
      "jane.doe",
      "example.co.uk",
      jwt,
      "sk_live_",
      "rk_test_",
      "whsec_",
      "re_123456789",
      "4242 4242",
      "4000-0566",
      "5555555555554444",
      "hunter2",
      "s3cr3t",
      "abc123",
    ]) {
      expect(out, leak).not.toContain(leak);
    }
    expect(out).toContain("[email]");
    expect(out).toContain("Bearer [token]");
    expect(out).toContain("[number]");
    // What is not secret stays readable.
    expect(scrubString("order 3f9a1c2e-7b44-4d1a-9c55-0f6e2a7b8c91 is PAID (2500 USD)")).toBe(
      "order 3f9a1c2e-7b44-4d1a-9c55-0f6e2a7b8c91 is PAID (2500 USD)",
    );
    // A uuid whose groups happen to be all digits is an id, not a card number.
    expect(scrubString("user 01234567-1111-4222-8333-444455556666")).toBe("user 01234567-1111-4222-8333-444455556666");
  });

  it("keeps only method, path and CF-Ray of the request, only the user's id, no breadcrumbs, no secret-named values", () => {
    const event = scrubEvent({
      type: undefined,
      message: "boom for a@b.io",
      request: {
        method: "POST",
        url: "https://toko.test/api/v1/auth/login?email=a@b.io&token=xyz",
        query_string: "email=a@b.io",
        headers: { "cf-ray": "8f1-SIN", authorization: "Bearer abc.def.ghi", cookie: "sid=1", "x-forwarded-for": "203.0.113.9" },
        cookies: { sid: "1" },
        data: { email: "a@b.io", password: "hunter22", card: "4242424242424242" },
      },
      user: { id: "0b8f6c1e-1111-4222-8333-444455556666", email: "a@b.io", ip_address: "203.0.113.9", username: "jane" },
      breadcrumbs: [{ message: "login a@b.io" }],
      extra: { password: "x", api_key: "y", order_id: "o-1", note: "for a@b.io" },
      contexts: { app: { secret_token: "z", version: "1" } },
      exception: { values: [{ type: "Error", value: 'Failed query: select * from users where email = $1\nparams: a@b.io,"hash"' }] },
    });
    expect(event.request).toEqual({ method: "POST", url: "https://toko.test/api/v1/auth/login", headers: { "cf-ray": "8f1-SIN" } });
    expect(event.user).toEqual({ id: "0b8f6c1e-1111-4222-8333-444455556666" });
    expect(event.breadcrumbs).toBeUndefined();
    expect(event.extra).toEqual({ order_id: "o-1", note: "for [email]" });
    expect(event.contexts).toEqual({ app: { version: "1" } });
    expect(event.message).toBe("boom for [email]");
    expect(event.exception?.values?.[0]?.value).toBe("Failed query (SQL and parameters removed)");
    expect(JSON.stringify(event)).not.toMatch(/a@b\.io|hunter22|4242|sid=1|203\.0\.113\.9|abc\.def/);
  });
});

describe("reportError (fake transport)", () => {
  it("sends one event with release, environment, request id, route, user id and status, scrubbed", async () => {
    const sent: string[] = [];
    const fetcher = (async (_url: RequestInfo | URL, init?: RequestInit) => {
      sent.push(String(init?.body));
      return new Response("{}");
    }) as typeof fetch;
    const waits: Promise<unknown>[] = [];
    const request = new Request("https://toko.test/api/v1/orders?email=x@y.z", {
      method: "POST",
      headers: { Authorization: "Bearer secret-jwt", Cookie: "a=b", "CF-Ray": "abc-SIN" },
      body: JSON.stringify({ card: "4242424242424242" }),
    });
    const id = reportError(new Error("checkout failed for x@y.z with sk_live_abcdefghijklmnop"), {
      dsn: DSN,
      release: "feedc0de",
      environment: "production",
      waitUntil: (p) => void waits.push(p),
      request,
      source: "http",
      requestId: "req-12345678",
      route: "/api/v1/orders",
      userId: "0b8f6c1e-1111-4222-8333-444455556666",
      status: 500,
      tags: { code: "internal_error" },
      fetcher,
    });
    await Promise.all(waits);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(sent).toHaveLength(1);
    const event = JSON.parse((sent[0] as string).split("\n")[2] as string) as SentEvent;
    expect(event).toMatchObject({ release: "feedc0de", environment: "production", user: { id: "0b8f6c1e-1111-4222-8333-444455556666" } });
    expect(event.tags).toMatchObject({
      request_id: "req-12345678",
      route: "/api/v1/orders",
      source: "http",
      status: "500",
      code: "internal_error",
    });
    expect(event.request).toEqual({ method: "POST", url: "https://toko.test/api/v1/orders", headers: { "cf-ray": "abc-SIN" } });
    expect(sent[0]).not.toMatch(/x@y\.z|sk_live|secret-jwt|a=b|4242/);
    expect(sent[0]).toContain("checkout failed for [email] with [key]");
  });

  it("is off without SENTRY_DSN: nothing built, nothing sent", () => {
    const fetcher = vi.fn() as unknown as typeof fetch;
    expect(
      reportError(new Error("x"), { dsn: undefined, release: "r", environment: "test", waitUntil: () => {}, source: "cron", fetcher }),
    ).toBeUndefined();
    expect(fetcher).not.toHaveBeenCalled();
  });
});

describe("through the worker", () => {
  it("a 5xx answer is reported with its request id, route, code and the caller's id; tokens and cookies are not", async () => {
    quiet();
    const inbox = sentryInbox();
    const user = await createUser();
    // Authenticated once while Postgres is up, so the account is in the isolate's auth cache (AUTH_CACHE_SEC)…
    expect((await apiSettled("/api/v1/users/me", { headers: user.auth }, withSentry())).status).toBe(200);
    // …then a read that needs Postgres while it is away: 503 database_unavailable.
    const res = await apiSettled("/api/v1/orders?limit=3", { headers: { ...user.auth, Cookie: "session=topsecret" } }, deadDb());
    expect(res.status).toBe(503);
    const [event, ...more] = inbox.events();
    expect(more).toHaveLength(0);
    expect(inbox.urls[0]).toMatch(/^https:\/\/sentry\.stub\/api\/42\/envelope\//);
    expect(event?.tags).toMatchObject({
      request_id: res.headers.get("x-request-id"),
      route: "/api/v1/orders",
      code: "database_unavailable",
      status: "503",
      source: "http",
      method: "GET",
    });
    expect(event).toMatchObject({ release: "feedc0de", environment: "test", user: { id: user.id } });
    const everything = inbox.raw.join("\n");
    expect(everything).not.toContain(user.token);
    expect(everything).not.toContain(user.email);
    expect(everything).not.toContain("topsecret");
    expect(everything).not.toContain("limit=3");
  });

  it("4xx answers are never reported, and nothing is sent without SENTRY_DSN", async () => {
    quiet();
    const inbox = sentryInbox();
    expect((await apiSettled("/api/v1/nothing-here", undefined, withSentry())).status).toBe(404);
    expect((await apiSettled("/api/v1/orders", jsonInit("POST", {}), withSentry())).status).toBe(401);
    expect((await apiSettled("/api/v1/products?limit=5&min_price=1", undefined, deadDb({ SENTRY_DSN: "" }))).status).toBe(503);
    expect(inbox.raw).toHaveLength(0);
  });

  it("an unhandled error of a Cron Trigger is reported (source cron) and still fails the run", async () => {
    quiet();
    const inbox = sentryInbox();
    const ctx = createExecutionContext();
    const run = worker.scheduled?.(createScheduledController({ cron: "17 3 * * *", scheduledTime: Date.now() }), deadDb(), ctx);
    await expect(run).rejects.toThrow();
    await waitOnExecutionContext(ctx); // the reports are sent in waitUntil
    const events = inbox.events();
    expect(events.length).toBeGreaterThanOrEqual(1);
    for (const e of events) expect(e.tags).toMatchObject({ source: "cron", cron: "17 3 * * *" });
  });
});
