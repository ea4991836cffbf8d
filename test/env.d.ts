declare namespace Cloudflare {
  interface Env {
    /** "postgres" or "embedded": which database the suite runs against. */
    TEST_DATABASE_KIND: string;
  }
  interface GlobalProps {
    mainModule: typeof import("../src/index.ts");
  }
}
