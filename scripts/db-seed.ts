/** `npm run db:seed`: loads the deterministic demo catalogue into DATABASE_URL (idempotent). */
import { redact } from "./lib/db.ts";
import { seedAdmin, seedCatalog } from "./lib/seed.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("DATABASE_URL is not set.");
  process.exit(1);
}
const res = await seedCatalog(url);
console.log(`seeded ${redact(url)}: ${res.categories} categories, ${res.products} products${res.inserted ? "" : " (already present)"}`);

const adminEmail = process.env.ADMIN_EMAIL;
if (adminEmail) {
  const admin = await seedAdmin(url, adminEmail, process.env.ADMIN_PASSWORD || undefined);
  if (!admin.created) console.log(`admin ${adminEmail} already exists (left unchanged)`);
  else if (admin.generatedPassword)
    console.log(`created ADMIN ${adminEmail} with password: ${admin.generatedPassword}  (shown once; store it now)`);
  else console.log(`created ADMIN ${adminEmail}`);
} else {
  console.log("no ADMIN_EMAIL set: no admin account created");
}
