import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiSettled, createUser, expectProblem, jsonInit } from "./helpers.ts";

/** Good production settings: each refusal test breaks exactly one of them. */
const PROD = {
  ENVIRONMENT: "production",
  PAYMENT_PROVIDER: "stripe",
  STRIPE_SECRET_KEY: "sk_live_51Hx0123456789abcdefghijklmnopqrstuvwxyz",
  STRIPE_WEBHOOK_SECRETS: "whsec_0123456789abcdefghijklmnopqrstuv",
  SANDBOX_WEBHOOK_SECRETS: "",
  // Production refuses the sandbox carrier: FedEx, with its credentials and the origin it rates from.
  SHIPPING_CARRIER: "fedex",
  FEDEX_CLIENT_ID: "l7xx0123456789abcdef",
  FEDEX_CLIENT_SECRET: "fedex-secret-0123456789abcdef",
  FEDEX_ACCOUNT_NUMBER: "740561073",
  SHIPPING_ORIGIN_POSTAL_CODE: "38125",
};

function withEnv(vars: Record<string, string>): Env {
  return { ...env, ...vars } as Env;
}

/** Every request answers 503 naming the setting (never its value); the log says why. */
async function expectRefused(vars: Record<string, string>, setting: string, path = "/health/live", init?: RequestInit) {
  const spy = vi.spyOn(console, "error").mockImplementation(() => {});
  const res = await apiSettled(path, init, withEnv(vars));
  const p = await expectProblem(res, 503, "service_unavailable");
  expect(p.invalid_settings).toEqual([setting]);
  expect(p.detail).toContain(setting);
  const text = JSON.stringify(p);
  for (const value of Object.values(vars)) if (value.length > 8) expect(text).not.toContain(value);
  const logged = spy.mock.calls.map((c) => String(c[0])).join("\n");
  expect(logged).toContain(setting);
  for (const [name, value] of Object.entries(vars)) {
    if (name.includes("SECRET") || name.includes("TOKEN") || name.includes("KEY")) {
      if (value.length > 3) expect(logged).not.toContain(value);
    }
  }
  return p;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("configuration", () => {
  it("a complete production configuration serves (the control for the refusals below)", async () => {
    const res = await apiSettled("/health/live", undefined, withEnv(PROD));
    expect(res.status).toBe(200);
  });

  it("production refuses to serve without its secrets", async () => {
    await expectRefused({ ...PROD, CURSOR_SECRET: "" }, "CURSOR_SECRET", "/api/v1/products");
  });

  it("rejects a weak secret and an invalid var", async () => {
    await expectRefused({ CURSOR_SECRET: "short" }, "CURSOR_SECRET");
    await expectRefused({ CATALOG_CACHE_TTL_SEC: "soon" }, "CATALOG_CACHE_TTL_SEC");
  });

  it("a typo in RATE_LIMIT_OVERRIDES is a 503 naming the setting on every route, not a 500 on guarded ones", async () => {
    const user = await createUser();
    const vars = { RATE_LIMIT_OVERRIDES: "order-creat=20/60" };
    await expectRefused(vars, "RATE_LIMIT_OVERRIDES");
    await expectRefused(
      vars,
      "RATE_LIMIT_OVERRIDES",
      "/api/v1/orders",
      jsonInit("POST", { items: [] }, { ...user.auth, "Idempotency-Key": "k1" }),
    );
    await expectRefused({ RATE_LIMIT_OVERRIDES: "order-create=20" }, "RATE_LIMIT_OVERRIDES");
    await expectRefused({ RATE_LIMIT_OVERRIDES: "order-create=0/60" }, "RATE_LIMIT_OVERRIDES");
  });

  it("PAYMENT_PROVIDER=stripe requires STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRETS", async () => {
    await expectRefused({ PAYMENT_PROVIDER: "stripe", STRIPE_SECRET_KEY: "" }, "STRIPE_SECRET_KEY");
    await expectRefused({ PAYMENT_PROVIDER: "stripe", STRIPE_WEBHOOK_SECRETS: " , " }, "STRIPE_WEBHOOK_SECRETS");
  });

  it("production refuses the sandbox provider", async () => {
    await expectRefused({ ...PROD, PAYMENT_PROVIDER: "sandbox" }, "PAYMENT_PROVIDER");
  });

  it("production refuses secrets shorter than 32 bytes", async () => {
    await expectRefused({ ...PROD, STRIPE_SECRET_KEY: "sk_live_0123456789abcdefghij" }, "STRIPE_SECRET_KEY");
    await expectRefused(
      { ...PROD, CLOUDFLARE_ZONE_ID: "0123456789abcdef0123456789abcdef", CLOUDFLARE_API_TOKEN: "tok-0123456789abcdefghij" },
      "CLOUDFLARE_API_TOKEN",
    );
  });

  it("production refuses a webhook key shorter than 24 bytes", async () => {
    await expectRefused(
      { ...PROD, STRIPE_WEBHOOK_SECRETS: "whsec_0123456789abcdefghijklmnopqrstuv,whsec_short_one" },
      "STRIPE_WEBHOOK_SECRETS",
    );
    // 20 key bytes after base64 decoding, although the text is longer than 24 characters.
    await expectRefused({ ...PROD, SANDBOX_WEBHOOK_SECRETS: `whsec_${btoa("twenty-bytes-of-key!")}` }, "SANDBOX_WEBHOOK_SECRETS");
  });

  it("a sandbox secret that is not base64 is refused everywhere (it could never verify anything)", async () => {
    await expectRefused({ SANDBOX_WEBHOOK_SECRETS: "whsec_***not base64***" }, "SANDBOX_WEBHOOK_SECRETS");
  });

  it("the test configuration itself is valid and parses secret lists once", async () => {
    const { loadConfig } = await import("../src/config.ts");
    const cfg = loadConfig(env);
    expect(cfg.STRIPE_WEBHOOK_SECRETS).toHaveLength(2);
    expect(cfg.SANDBOX_WEBHOOK_SECRETS).toHaveLength(2);
    expect(cfg.RATE_LIMIT_OVERRIDES["public-read"]?.limit).toBe(100_000);
    expect(loadConfig(env)).toBe(cfg);
  });
});
