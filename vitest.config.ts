import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => {
      const pgUrl = inject<string>("pgUrl");
      return {
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          hyperdrives: { HYPERDRIVE_FRESH: pgUrl },
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
            QUEUE_RETRY_BASE_SEC: "0",
            SANDBOX_DELAY_MS: "300",
            RATE_LIMIT_OVERRIDES: "public-read=100000/60,signup=10000/3600",
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
