import { describe, expect, it } from "vitest";
import type { ProductDto } from "../src/schemas/catalog.ts";
import { toPrefixTsquery } from "../src/services/catalog.service.ts";
import { api, expectProblem, sql, uniqueSuffix } from "./helpers.ts";

interface Page {
  data: ProductDto[];
  has_more: boolean;
  next_cursor: string | null;
}

const search = async (q: string, extra = "") => {
  const res = await api(`/api/v1/search?q=${encodeURIComponent(q)}${extra}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Page;
};

describe("GET /api/v1/search", () => {
  it("matches prefixes: 'lapt' finds laptops", async () => {
    const page = await search("lapt");
    expect(page.data.length).toBeGreaterThan(0);
    expect(page.data.every((p) => /laptop/i.test(`${p.name} ${p.description}`))).toBe(true);
  });

  it("ranks a name match above a description-only match", async () => {
    const word = `zq${uniqueSuffix().replace(/[^a-z]/g, "x")}`;
    await sql(
      `INSERT INTO products (sku, name, slug, description, price_cents, currency) VALUES
       ($1, 'Plain Mug', $2, $3, 100, 'USD'), ($4, $5, $6, 'A mug.', 100, 'USD')`,
      [`S1-${word}`, `s1-${word}`, `Goes well with a ${word} morning.`, `S2-${word}`, `${word} Mug`, `s2-${word}`],
    );
    const page = await search(word.slice(0, 6));
    expect(page.data.map((p) => p.sku)).toEqual([`S2-${word}`, `S1-${word}`]);
  });

  it("combines words (all must match) and pages through results without duplicates", async () => {
    const both = await search("pro laptop", "&limit=100");
    expect(both.data.every((p) => /pro/i.test(p.name) && /laptop/i.test(p.name))).toBe(true);
    const ids: string[] = [];
    let cursor: string | null = null;
    let total = 0;
    do {
      const page: Page = await search("laptop", `&limit=9${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      ids.push(...page.data.map((p) => p.id));
      cursor = page.next_cursor;
      total++;
    } while (cursor && total < 100);
    expect(new Set(ids).size).toBe(ids.length);
    const [count] = await sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM products WHERE status = 'active' AND search_vector @@ to_tsquery('english', 'laptop:*')",
    );
    expect(ids.length).toBe(count?.n);
  });

  it("treats query syntax as text", async () => {
    const page = await search("laptop & !(pro) | ' ; -- :*");
    expect(page.data.length).toBeGreaterThan(0);
    expect(page.data.every((p) => /pro/i.test(p.name) && /laptop/i.test(p.name))).toBe(true);
    expect(toPrefixTsquery("Laptop & !(x) | ' ; --")).toBe("laptop:* & x:*");
  });

  it.each([
    ["", "empty"],
    ["   ", "blank"],
    ["x".repeat(201), "oversized"],
    ["!!! ---", "no words"],
  ])("400 for %s q (%s)", async (q) => {
    const p = await expectProblem(await api(`/api/v1/search?q=${encodeURIComponent(q)}`), 400, "validation_error");
    expect(p.errors?.[0]?.field).toBe("q");
  });

  it("400 without q, and for a cursor from another search", async () => {
    await expectProblem(await api("/api/v1/search"), 400, "validation_error");
    const first = await search("laptop", "&limit=2");
    await expectProblem(
      await api(`/api/v1/search?q=kettle&limit=2&cursor=${encodeURIComponent(first.next_cursor as string)}`),
      400,
      "invalid_cursor",
    );
  });
});
