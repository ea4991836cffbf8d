import { describe, expect, it } from "vitest";
import { api, expectProblem, jsonInit, sql, uniqueSuffix } from "./helpers.ts";

const signup = (body: unknown) => api("/api/v1/auth/signup", jsonInit("POST", body));

describe("POST /api/v1/auth/signup", () => {
  it("creates a USER with a normalised email, and never returns the hash", async () => {
    const raw = `  Ada.${uniqueSuffix()}@Example.COM `;
    const res = await signup({ email: raw, password: "a-long-and-unusual-passphrase" });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ email: raw.trim().toLowerCase(), role: "USER" });
    expect(res.headers.get("location")).toBe(`/api/v1/users/${body.id}`);
    expect(JSON.stringify(body)).not.toMatch(/pbkdf2|password/);
    const [row] = await sql<{ password_hash: string }>("SELECT password_hash FROM users WHERE id = $1", [body.id]);
    expect(row?.password_hash).toMatch(/^pbkdf2-sha256\$100000\$[\w-]{22}\$[\w-]{43}$/);
  });

  it("NFKC-normalises: full-width and case variants are the same account (409)", async () => {
    const local = `nfkc${uniqueSuffix()}`;
    expect((await signup({ email: `${local}@example.com`, password: "another-long-passphrase" })).status).toBe(201);
    const fullWidth = ` ${local.toUpperCase()}＠ｅｘａｍｐｌｅ.com`;
    const p = await expectProblem(await signup({ email: fullWidth, password: "another-long-passphrase" }), 409, "conflict");
    expect(p.errors?.[0]).toMatchObject({ field: "email", code: "already_exists" });
  });

  it.each([
    ["short", "must be at least 10 characters"],
    ["password123", "is too common"],
    ["1234567890", "is too common"],
    ["aaaaaaaaaaaa", "must not be one repeated character"],
    ["abcdefghijklmn", "must not be a simple sequence"],
  ])("rejects the password %s (%s)", async (password, message) => {
    const p = await expectProblem(await signup({ email: `weak-${uniqueSuffix()}@example.com`, password }), 400, "validation_error");
    expect(p.errors?.map((e) => e.message)).toContain(message);
    expect(p.errors?.every((e) => e.field === "password")).toBe(true);
  });

  it("rejects a password containing the email's local part", async () => {
    const local = `mallory${uniqueSuffix().replace(/[^a-z]/g, "q")}`;
    const p = await expectProblem(await signup({ email: `${local}@example.com`, password: `${local}-2026!` }), 400);
    expect(p.errors?.[0]?.message).toBe("must not contain your email address");
  });

  it.each([
    [{ email: "not-an-email", password: "a-long-and-unusual-passphrase" }, "email"],
    [{ password: "a-long-and-unusual-passphrase" }, "email"],
    [{ email: "x@example.com" }, "password"],
    [{ email: "x@example.com", password: "a-long-and-unusual-passphrase", role: "ADMIN" }, "role"],
  ])("400 for %j (field %s), nothing written", async (body, field) => {
    const before = await sql<{ n: number }>("SELECT count(*)::int AS n FROM users");
    const p = await expectProblem(await signup(body), 400, "validation_error");
    expect(p.errors?.map((e) => e.field)).toContain(field);
    const after = await sql<{ n: number }>("SELECT count(*)::int AS n FROM users");
    expect(after[0]?.n).toBe(before[0]?.n);
  });

  it("cannot sign up as ADMIN (mass assignment is rejected, not ignored)", async () => {
    const p = await expectProblem(
      await signup({ email: `sneaky-${uniqueSuffix()}@example.com`, password: "a-long-and-unusual-passphrase", role: "ADMIN" }),
      400,
    );
    expect(p.errors?.[0]).toMatchObject({ field: "role", code: "unknown_field" });
  });
});
