/** Ambient declarations of the console's TypeScript program (admin/tsconfig.json). */

/** Stylesheets are bundled by esbuild (scripts/build-admin.ts) into a hashed .css file linked from the page. */
declare module "*.css";

/**
 * The console imports the API's types from src/schemas (type-only). Their imports reach a few server
 * files typed against the Workers runtime; this is the one Workers type they name, as far as they use it.
 */
interface Hyperdrive {
  readonly connectionString: string;
}
