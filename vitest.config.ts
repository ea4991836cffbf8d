import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => {
      const pgUrl = inject<string>("pgUrl");
      return {
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          // Local Hyperdrive never caches: HYPERDRIVE_CACHED reads are fresh in tests.
          // The Workers Rate Limiting binding with a small limit: only test/guards.rate-limit-binding.test.ts
          // selects it (PUBLIC_READ_LIMITER=binding); every other suite counts public reads in the Durable Object.
          ratelimits: { PUBLIC_READ_RL: { namespace_id: "1001", simple: { limit: 5, period: 60 } } },
          hyperdrives: { HYPERDRIVE_FRESH: pgUrl, HYPERDRIVE_CACHED: pgUrl },
          bindings: {
            ENVIRONMENT: "test",
            LOG_LEVEL: "error",
            CORS_ORIGINS: "https://shop.example.com,https://admin.example.com",
            CURSOR_SECRET: "test-cursor-secret-0123456789abcdef0123456789",
            JWT_SECRET: "test-jwt-secret-0123456789abcdef0123456789abcdef",
            // Suites that do not test rate limits share one "unknown" client IP.
            SANDBOX_WEBHOOK_SECRETS: "whsec_dGVzdC1zYW5kYm94LXNlY3JldC0wMTIzNDU2Nzg5,whsec_b2xkLXNhbmRib3gtc2VjcmV0LTk4NzY1NDMyMTA=",
            STRIPE_WEBHOOK_SECRETS: "whsec_test_stripe_secret_current,whsec_test_stripe_secret_previous",
            STRIPE_SECRET_KEY: "sk_test_0123456789",
            STRIPE_API_BASE: "https://stripe.stub",
            // Outbound webhooks: hostile DNS answers come from a stub resolver; loopback is refused as in production.
            WEBHOOK_DOH_URL: "https://doh.stub/dns-query",
            WEBHOOK_ALLOW_LOOPBACK: "false",
            // Retries through the real queue in seconds; suites that check the Svix schedule pass it explicitly.
            WEBHOOK_RETRY_SCHEDULE_SEC: "0,1,2,2",
            RESEND_API_BASE: "https://resend.stub",
            // Shipping: rates signed with a test key; FedEx answers from a stub (test/shipping.fedex.test.ts).
            SHIPPING_RATE_SECRET: "test-shipping-rate-secret-0123456789abcdef",
            FEDEX_API_BASE: "https://fedex.stub",
            QUEUE_RETRY_BASE_SEC: "0",
            SANDBOX_DELAY_MS: "300",
            PUBLIC_READ_LIMITER: "durable-object",
            RATE_LIMIT_OVERRIDES: "public-read=100000/60,signup=10000/3600,shipping-quote=100000/60",
            // Suites that do not test the hoarding caps place many orders per customer.
            MAX_OPEN_ORDERS_PER_USER: "1000",
            MAX_RESERVED_UNITS_PER_SKU: "1000000",
            TEST_DATABASE_KIND: inject<string>("pgKind"),
          },
        },
      };
    }),
  ],
  test: {
    globalSetup: ["./test/global-setup.ts"],
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
