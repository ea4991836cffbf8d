/**
 * Deterministic demo catalogue: the same ids, SKUs, prices and timestamps on
 * every machine, so tests, benchmarks and screenshots agree.
 */
import type pg from "pg";
import { withClient } from "./db.ts";

export const SEED_CATEGORIES = [
  ["electronics", "Electronics", ["Laptop", "Headphones", "Monitor", "Keyboard", "Speaker"]],
  ["computers", "Computers", ["Laptop", "Desktop", "Tablet", "Router", "Webcam"]],
  ["books", "Books", ["Novel", "Cookbook", "Atlas", "Biography", "Notebook"]],
  ["clothing", "Clothing", ["Jacket", "Shirt", "Sweater", "Scarf", "Hoodie"]],
  ["shoes", "Shoes", ["Sneaker", "Boot", "Sandal", "Loafer", "Slipper"]],
  ["home", "Home & Kitchen", ["Kettle", "Blender", "Skillet", "Teapot", "Lamp"]],
  ["garden", "Garden", ["Planter", "Shovel", "Hose", "Trowel", "Birdhouse"]],
  ["sports", "Sports", ["Football", "Racket", "Yoga Mat", "Dumbbell", "Helmet"]],
  ["toys", "Toys", ["Puzzle", "Robot", "Kite", "Board Game", "Teddy Bear"]],
  ["beauty", "Beauty", ["Serum", "Lipstick", "Perfume", "Shampoo", "Moisturizer"]],
  ["grocery", "Grocery", ["Coffee", "Tea", "Chocolate", "Olive Oil", "Honey"]],
  ["office", "Office", ["Stapler", "Desk Lamp", "Pen Set", "Planner", "Whiteboard"]],
] as const;

const ADJECTIVES = ["Classic", "Compact", "Deluxe", "Eco", "Pro", "Ultra", "Smart", "Vintage", "Rugged", "Premium", "Lite", "Studio"];
const COLORS = ["Black", "White", "Red", "Blue", "Green", "Graphite", "Sand", "Olive"];
const CURRENCIES = ["USD", "USD", "USD", "EUR"];

/** mulberry32: tiny deterministic PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A version-4-shaped uuid drawn from the PRNG (deterministic, unique in practice). */
export function uuidFrom(rand: () => number): string {
  const b = Array.from({ length: 16 }, () => Math.floor(rand() * 256));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function slugify(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}

export interface SeedResult {
  categories: number;
  products: number;
  inserted: boolean;
}

/**
 * Inserts the demo catalogue (idempotent: existing SKUs and slugs are left alone).
 * Every tenth product shares its created_at with its neighbours so that the
 * (created_at, id) cursor tie-break is exercised by the demo data itself.
 */
export async function seedCatalog(url: string, opts: { products?: number } = {}): Promise<SeedResult> {
  const total = opts.products ?? 1200;
  const rand = prng(20261125);
  const base = Date.UTC(2026, 0, 1);
  const cats = SEED_CATEGORIES.map(([slug, name], i) => ({
    id: uuidFrom(rand),
    slug,
    name,
    description: `${name} picked for the Toko Edge demo store.`,
    createdAt: new Date(base + i * 1000).toISOString(),
  }));
  const products = Array.from({ length: total }, (_, i) => {
    const ci = i % cats.length;
    const cat = cats[ci] as (typeof cats)[number];
    const nouns = (SEED_CATEGORIES[ci] as (typeof SEED_CATEGORIES)[number])[2];
    const noun = nouns[Math.floor(rand() * nouns.length)] as string;
    const adj = ADJECTIVES[Math.floor(rand() * ADJECTIVES.length)] as string;
    const color = COLORS[Math.floor(rand() * COLORS.length)] as string;
    const n = String(i + 1).padStart(5, "0");
    const name = `${adj} ${noun} ${color}`;
    return {
      id: uuidFrom(rand),
      sku: `TOKO-${cat.slug.slice(0, 4).toUpperCase()}-${n}`,
      name,
      slug: `${slugify(name)}-${n}`,
      description: `The ${name.toLowerCase()} from our ${cat.name.toLowerCase()} range. ${adj} build, ${color.toLowerCase()} finish, ships in 2 days.`,
      priceCents: 199 + Math.floor(rand() * 2000) * 50,
      currency: CURRENCIES[Math.floor(rand() * CURRENCIES.length)] as string,
      categoryId: cat.id,
      stock: i % 17 === 0 ? 0 : Math.floor(rand() * 500),
      createdAt: new Date(base + 86_400_000 + Math.floor(i / 10) * 60_000 + (i % 10 === 9 ? 0 : (i % 10) * 1000)).toISOString(),
    };
  });

  return withClient(url, async (c: pg.Client) => {
    await c.query("BEGIN");
    try {
      const catRes = await c.query(
        `INSERT INTO categories (id, slug, name, description, created_at, updated_at)
         SELECT * , t.created_at FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
           AS t(id, slug, name, description, created_at)
         ON CONFLICT (slug) DO NOTHING`,
        [
          cats.map((x) => x.id),
          cats.map((x) => x.slug),
          cats.map((x) => x.name),
          cats.map((x) => x.description),
          cats.map((x) => x.createdAt),
        ],
      );
      let inserted = 0;
      for (let i = 0; i < products.length; i += 500) {
        const batch = products.slice(i, i + 500);
        const col = <K extends keyof (typeof batch)[number]>(k: K) => batch.map((p) => p[k]);
        const res = await c.query(
          `INSERT INTO products (id, sku, name, slug, description, price_cents, currency, category_id, stock, created_at, updated_at)
           SELECT t.*, t.created_at FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::uuid[], $9::int[], $10::timestamptz[])
             AS t(id, sku, name, slug, description, price_cents, currency, category_id, stock, created_at)
           ON CONFLICT DO NOTHING`,
          [
            col("id"),
            col("sku"),
            col("name"),
            col("slug"),
            col("description"),
            col("priceCents"),
            col("currency"),
            col("categoryId"),
            col("stock"),
            col("createdAt"),
          ],
        );
        inserted += res.rowCount ?? 0;
      }
      await c.query("COMMIT");
      return { categories: cats.length, products: total, inserted: (catRes.rowCount ?? 0) + inserted > 0 };
    } catch (err) {
      await c.query("ROLLBACK");
      throw err;
    }
  });
}

/** True when the catalogue has no products yet (first run of `npm run dev`). */
export async function catalogIsEmpty(url: string): Promise<boolean> {
  return withClient(url, async (c) => (await c.query("SELECT 1 FROM products LIMIT 1")).rowCount === 0);
}

/**
 * Creates the first ADMIN (idempotent: an existing account is left untouched).
 * Returns the password only when it was generated here, so the caller can print it once.
 */
export async function seedAdmin(url: string, email: string, password?: string): Promise<{ created: boolean; generatedPassword?: string }> {
  const { hashPassword } = await import("../../src/lib/password.ts");
  const { normaliseEmail, passwordProblems } = await import("../../src/lib/password-policy.ts");
  const normalised = normaliseEmail(email);
  const generated = password
    ? undefined
    : crypto.getRandomValues(new Uint8Array(18)).reduce((s, b) => s + b.toString(36).padStart(2, "0"), "");
  const secret = password ?? (generated as string);
  const problems = passwordProblems(secret, normalised);
  if (problems.length) throw new Error(`ADMIN_PASSWORD ${problems.join(", ")}`);
  const hash = await hashPassword(secret);
  return withClient(url, async (c) => {
    const res = await c.query("INSERT INTO users (email, password_hash, role) VALUES ($1, $2, 'ADMIN') ON CONFLICT (email) DO NOTHING", [
      normalised,
      hash,
    ]);
    const created = (res.rowCount ?? 0) > 0;
    return created && generated ? { created, generatedPassword: generated } : { created };
  });
}
