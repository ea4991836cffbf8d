/** `npm run db:seed`: loads the deterministic demo catalogue into DATABASE_URL (idempotent). */
import { redact } from "./lib/db.ts";
import { seedCatalog } from "./lib/seed.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("DATABASE_URL is not set.");
  process.exit(1);
}
const res = await seedCatalog(url);
console.log(`seeded ${redact(url)}: ${res.categories} categories, ${res.products} products${res.inserted ? "" : " (already present)"}`);
