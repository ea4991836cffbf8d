/**
 * `npm run db:seed`: loads the deterministic demo catalogue into DATABASE_URL (idempotent).
 * `npm run db:seed -- --orders N [--days 90] [--seed 1] [--until 2026-12-01T12:00:00Z]` adds a sales
 * history for the reports (scripts/lib/seed-history.ts; once per seed).
 */
import { parseArgs } from "node:util";
import { redact } from "./lib/db.ts";
import { seedAdmin, seedCatalog } from "./lib/seed.ts";
import { seedHistory } from "./lib/seed-history.ts";

const { values: args } = parseArgs({
  options: { orders: { type: "string" }, days: { type: "string" }, seed: { type: "string" }, until: { type: "string" } },
});
const count = (name: string, v: string | undefined, min: number, max: number) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max}`);
    process.exit(1);
  }
  return n;
};
const orders = count("orders", args.orders, 1, 1_000_000);
const days = count("days", args.days, 1, 3660);
const seed = count("seed", args.seed, 0, 2 ** 31);
const until = args.until === undefined ? undefined : new Date(args.until);
if (until && Number.isNaN(until.getTime())) {
  console.error("--until must be a date-time, e.g. 2026-12-01T12:00:00Z");
  process.exit(1);
}

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("DATABASE_URL is not set.");
  process.exit(1);
}
const res = await seedCatalog(url);
console.log(`seeded ${redact(url)}: ${res.categories} categories, ${res.products} products${res.inserted ? "" : " (already present)"}`);

if (orders !== undefined) {
  const h = await seedHistory(url, { orders, days, seed, until });
  console.log(
    h.inserted
      ? `sales history: ${h.orders} orders (${h.paid} paid, ${h.refunds} refunds) in ${h.currencies.join(", ")} over ${days ?? 90} days, ${h.ms} ms; refresh the reports: POST /api/v1/admin/reports/refresh (or wait for the cron)`
      : `sales history for seed ${seed ?? 1} already present (left unchanged)`,
  );
}

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
