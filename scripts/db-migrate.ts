/** `npm run db:migrate`: applies migrations/ to DATABASE_URL (creating the database if needed). */
import { ensureDatabase, redact, runMigrations } from "./lib/db.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("DATABASE_URL is not set (npm run dev migrates its embedded database by itself).");
  process.exit(1);
}
await ensureDatabase(url);
await runMigrations(url);
console.log(`migrated ${redact(url)}`);
