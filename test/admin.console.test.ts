/**
 * What the admin console (issue 17) needs from the worker: its pages from the ASSETS binding (SPA fallback
 * under /admin/ only, a missing file is a 404 problem, a strict CSP), and the three reads added for it:
 * every product (archived too) with filters, an order's timeline (history and payments), accounts by email
 * with their sign-in lock. Role checks (401/403) of the new routes come from test/contract.test.ts.
 */
import { describe, expect, it } from "vitest";
import { api, createUser, expectProblem, jsonInit, sql, uniqueSuffix } from "./helpers.ts";
import { makeProduct, placeOrder, setStatus } from "./orders.helpers.ts";

describe("console pages (Workers Static Assets)", () => {
  it("answers a deep link under /admin/ with the console's page and its CSP", async () => {
    const res = await api("/admin/orders/0b6f0000-0000-4000-8000-000000000000");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const html = await res.text();
    expect(html).toMatch(/<script type="module" src="\/assets\/admin-[A-Z0-9]+\.js"><\/script>/);
    expect(html).not.toMatch(/<script>|<style|style=|https?:\/\//);
  });

  it("never answers a missing file with the page: 404 problem", async () => {
    const res = await api("/admin/assets/admin-OLD.js");
    await expectProblem(res, 404, "not_found");
  });

  it("redirects /admin to /admin/, and the API and unknown paths are untouched", async () => {
    const res = await api("/admin", { redirect: "manual" });
    expect(res.status).toBe(308);
    expect(res.headers.get("location")).toBe("/admin/");
    await expectProblem(await api("/nope"), 404, "not_found");
    expect(await (await api("/")).json()).toMatchObject({ admin: "/admin/", docs: "/docs" });
  });
});

describe("GET /api/v1/admin/products", () => {
  it("lists archived products too, filters by text, category and status, newest first, with a scoped cursor", async () => {
    const admin = await createUser("ADMIN");
    const tag = `CONSOLE-${uniqueSuffix().toUpperCase()}`;
    const [cat] = await sql<{ id: string }>("INSERT INTO categories (slug, name) VALUES ($1, $2) RETURNING id", [tag.toLowerCase(), tag]);
    for (let i = 0; i < 3; i++) {
      await sql(
        `INSERT INTO products (sku, name, slug, price_cents, currency, stock, status, category_id, created_at)
         VALUES ($1, $2, $3, 100, 'USD', 1, $4, $5, now() - make_interval(mins => $6))`,
        [`${tag}-${i}`, `Console thing ${i}`, `${tag.toLowerCase()}-${i}`, i === 1 ? "archived" : "active", cat?.id, i],
      );
    }
    const list = async (q: string) => {
      const res = await api(`/api/v1/admin/products?${q}`, { headers: admin.auth });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("private, no-store");
      return (await res.json()) as { data: { sku: string; status: string }[]; has_more: boolean; next_cursor: string | null };
    };
    expect((await list(`q=${tag.toLowerCase()}`)).data.map((p) => p.sku)).toEqual([`${tag}-0`, `${tag}-1`, `${tag}-2`]);
    expect((await list(`q=${tag}&status=archived`)).data.map((p) => p.sku)).toEqual([`${tag}-1`]);
    expect((await list(`category_id=${cat?.id}&status=active`)).data.map((p) => p.sku)).toEqual([`${tag}-0`, `${tag}-2`]);
    // A literal % or _ in the search is not a wildcard.
    expect((await list("q=%25%25%25")).data).toEqual([]);
    const first = await list(`q=${tag}&limit=2`);
    expect(first.has_more).toBe(true);
    const second = await list(`q=${tag}&limit=2&cursor=${encodeURIComponent(first.next_cursor ?? "")}`);
    expect(second.data.map((p) => p.sku)).toEqual([`${tag}-2`]);
    // The cursor belongs to its filter.
    const other = await api(`/api/v1/admin/products?q=other&limit=2&cursor=${encodeURIComponent(first.next_cursor ?? "")}`, {
      headers: admin.auth,
    });
    await expectProblem(other, 400, "invalid_cursor");
    await expectProblem(await api("/api/v1/admin/products?status=gone", { headers: admin.auth }), 400, "validation_error");
  });
});

describe("GET /api/v1/admin/orders/{id}/timeline", () => {
  it("returns the status history with who and why, and the payments, oldest first", async () => {
    const admin = await createUser("ADMIN");
    const buyer = await createUser();
    const p = await makeProduct({ stock: 5, price: 1234 });
    const created = await placeOrder(buyer, { items: [{ sku: p.sku, qty: 1 }] });
    expect(created.status).toBe(201);
    const order = (await created.json()) as { id: string; version: number };
    const paid = await api(
      `/api/v1/orders/${order.id}/status`,
      jsonInit("PATCH", { status: "PAID", version: order.version, reason: "paid by bank transfer" }, admin.auth),
    );
    expect(paid.status).toBe(200);
    const res = await api(`/api/v1/admin/orders/${order.id.toUpperCase()}/timeline`, { headers: admin.auth });
    expect(res.status).toBe(200);
    const t = (await res.json()) as { order_id: string; history: Record<string, unknown>[]; payments: unknown[] };
    expect(t.order_id).toBe(order.id);
    expect(t.history).toMatchObject([
      { from_status: null, to_status: "PENDING", actor_role: "USER", actor_email: buyer.email, reason: null },
      { from_status: "PENDING", to_status: "PAID", actor_role: "ADMIN", actor_email: admin.email, reason: "paid by bank transfer" },
    ]);
    expect(t.history[0]?.at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    expect(t.payments).toEqual([]);
    await expectProblem(await api(`/api/v1/admin/orders/${crypto.randomUUID()}/timeline`, { headers: admin.auth }), 404, "not_found");
    // Owners read their order, not its timeline (ADMIN only).
    await expectProblem(await api(`/api/v1/admin/orders/${order.id}/timeline`, { headers: buyer.auth }), 403, "forbidden");
    await setStatus(admin, order.id, "FULFILLED", 2);
  });
});

describe("GET /api/v1/admin/users?email=", () => {
  it("finds accounts by a part of their email, exact match first, with failed sign-ins and the lock", async () => {
    const admin = await createUser("ADMIN");
    const user = await createUser();
    const res = await api(`/api/v1/admin/users?email=${encodeURIComponent(user.email.toUpperCase())}`, { headers: admin.auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Record<string, unknown>[] };
    expect(body.data[0]).toMatchObject({ id: user.id, email: user.email, role: "USER", failed_logins: 0, locked_until: null });
    expect(body.data[0]).not.toHaveProperty("password_hash");
    // Failed sign-ins and a lock, as support staff see them; unlock clears both.
    await sql("INSERT INTO login_throttle (key, failures, locked_until) VALUES ($1, 7, now() + interval '10 minutes')", [
      `acct:${user.email}`,
    ]);
    const locked = (await (await api(`/api/v1/admin/users?email=${user.email}`, { headers: admin.auth })).json()) as {
      data: Record<string, unknown>[];
    };
    expect(locked.data[0]).toMatchObject({ failed_logins: 7 });
    expect(Date.parse(String(locked.data[0]?.locked_until))).toBeGreaterThan(Date.now());
    expect((await api(`/api/v1/admin/users/${user.id}/unlock`, { method: "POST", headers: admin.auth })).status).toBe(200);
    const cleared = (await (await api(`/api/v1/admin/users?email=${user.email}`, { headers: admin.auth })).json()) as {
      data: Record<string, unknown>[];
    };
    expect(cleared.data[0]).toMatchObject({ failed_logins: 0, locked_until: null });
    // A part of an address; at most 20; a too-short or missing query is refused.
    const part = (await (await api(`/api/v1/admin/users?email=${user.email.split("@")[0]}`, { headers: admin.auth })).json()) as {
      data: unknown[];
    };
    expect(part.data).toHaveLength(1);
    expect(
      ((await (await api("/api/v1/admin/users?email=example.com", { headers: admin.auth })).json()) as { data: unknown[] }).data.length,
    ).toBeLessThanOrEqual(20);
    await expectProblem(await api("/api/v1/admin/users?email=ab", { headers: admin.auth }), 400, "validation_error");
    await expectProblem(await api("/api/v1/admin/users", { headers: admin.auth }), 400, "validation_error");
  });
});
