import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => {
      const pgUrl = inject<string>("pgUrl");
      return {
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          hyperdrives: { HYPERDRIVE: pgUrl, HYPERDRIVE_FRESH: pgUrl },
          bindings: {
            ENVIRONMENT: "test",
            LOG_LEVEL: "error",
            CORS_ORIGINS: "https://shop.example.com,https://admin.example.com",
            CURSOR_SECRET: "test-cursor-secret-0123456789abcdef0123456789",
            JWT_SECRET: "test-jwt-secret-0123456789abcdef0123456789abcdef",
            // Suites that do not test rate limits share one "unknown" client IP.
            RATE_LIMIT_OVERRIDES: "public-read=100000/60,signup=10000/3600",
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
