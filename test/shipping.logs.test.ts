/**
 * Issue 19, item 4: the client secret never leaves the Worker and no token ever appears in a log line.
 * Every console line of the worker is captured (LOG_LEVEL=debug) through quotes that fetch tokens, get
 * a 401 and refresh, fail and retry, open the breaker and fall back, with FedEx (stub) and the sandbox;
 * neither the secret nor any token issued is in them, nor in any response.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { expectProblem } from "./helpers.ts";
import { makeProduct } from "./orders.helpers.ts";
import { FEDEX_SECRET, fedexEnv, fedexStub, quote, sandbox, sandboxEnv, US_ADDRESS } from "./shipping.helpers.ts";

afterEach(() => vi.restoreAllMocks());
beforeEach(() => sandbox.reset());

/** Every line written to the console from now on (the JSON logger's lines, and anything else). */
function captureConsole(): () => string {
  const lines: string[] = [];
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    });
  }
  return () => lines.join("\n");
}

describe("secrets and tokens never appear in logs", () => {
  it("FedEx: token fetch, reuse, a 401 and its refresh, 5xx retries, refused credentials, an open breaker", async () => {
    const stub = fedexStub();
    const logs = captureConsole();
    const b = fedexEnv({ LOG_LEVEL: "debug", SHIPPING_MAX_ATTEMPTS: "2", SHIPPING_BREAKER_THRESHOLD: "3" });
    const p = await makeProduct({ stock: 5, physical: true });
    const items = [{ sku: p.sku, qty: 1 }];
    const bodies: string[] = [];
    const ask = async (i: number, bindings = b) => {
      const res = await quote({ address: { ...US_ADDRESS, line1: `${i} Market St` }, items }, bindings);
      bodies.push(await res.text());
      return res;
    };
    expect((await ask(1)).status).toBe(200);
    stub.valid.clear();
    expect((await ask(2)).status).toBe(200); // 401 → refresh → retry
    stub.next.push(503, 503, 503, 503);
    await ask(3); // two attempts fail: the fallback
    await ask(4); // the third failure opens the breaker: the fallback
    await ask(5); // open: the fallback without a call
    await ask(6, fedexEnv({ LOG_LEVEL: "debug", FEDEX_CLIENT_SECRET: `${FEDEX_SECRET}-wrong` })); // refused credentials
    const text = logs();
    // The run did log: refreshes, failures and fallbacks.
    expect(text).toContain("carrier token refreshed");
    expect(text).toContain("carrier refused its token: refreshing");
    expect(text).toContain("carrier call failed");
    expect(text).toContain("shipping quote: carrier unavailable, flat rate served");
    expect(stub.issued.length).toBeGreaterThanOrEqual(2);
    for (const secret of [FEDEX_SECRET, ...stub.issued]) {
      expect(text).not.toContain(secret);
      for (const body of bodies) expect(body).not.toContain(secret);
    }
  });

  it("sandbox: every token it issued, through refreshes and failures, is absent from the logs", async () => {
    const issued: string[] = [];
    const original = sandbox.token.bind(sandbox);
    vi.spyOn(sandbox, "token").mockImplementation(async (...args) => {
      const res = await original(...args);
      if ("access_token" in res.body) issued.push(res.body.access_token);
      return res;
    });
    const logs = captureConsole();
    const b = sandboxEnv({ LOG_LEVEL: "debug", SHIPPING_RETRY_BASE_MS: "0" });
    const p = await makeProduct({ stock: 5, physical: true });
    const items = [{ sku: p.sku, qty: 1 }];
    const ask = (i: number) => quote({ address: { ...US_ADDRESS, line1: `${i} Mission St` }, items }, b);
    expect((await ask(1)).status).toBe(200);
    sandbox.revokeTokens();
    expect((await ask(2)).status).toBe(200);
    sandbox.failNext("rates", 4, 503);
    expect((await ask(3)).status).toBe(200);
    sandbox.rejectNext("rates", 1, 400);
    await expectProblem(await ask(4), 422, "shipping_not_quotable");
    const text = logs();
    expect(issued.length).toBe(2);
    for (const token of issued) expect(text).not.toContain(token);
    expect(text).not.toMatch(/sbx_at_/);
  });
});
