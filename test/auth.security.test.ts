/** Token and role checks on protected routes: every bad token is a 401, wrong role 403, others' objects 404. */
import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { api, createUser, expectProblem } from "./helpers.ts";

const SECRET = env.JWT_SECRET;
const b64 = (o: unknown) => btoa(JSON.stringify(o)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
const now = () => Math.floor(Date.now() / 1000);
const claims = (sub: string, extra: Record<string, unknown> = {}) => ({
  sub,
  role: "ADMIN",
  iss: "toko-edge",
  aud: "toko-edge-api",
  iat: now(),
  exp: now() + 600,
  ...extra,
});
const me = (token: string) => api("/api/v1/users/me", { headers: { Authorization: `Bearer ${token}` } });

describe("access tokens", () => {
  it("no token → 401 with WWW-Authenticate", async () => {
    const res = await api("/api/v1/users/me");
    await expectProblem(res, 401, "unauthorized");
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
  });

  it("malformed header or token → 401", async () => {
    for (const h of ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-jwt", "Bearer a.b", "bearer x.y.z.w"]) {
      await expectProblem(await api("/api/v1/users/me", { headers: { Authorization: h } }), 401);
    }
  });

  it("alg: none is refused", async () => {
    const u = await createUser();
    const token = `${b64({ alg: "none", typ: "JWT" })}.${b64(claims(u.id))}.`;
    await expectProblem(await me(token), 401);
  });

  it("another algorithm (HS512, same secret) is refused", async () => {
    const u = await createUser();
    await expectProblem(await me(await sign(claims(u.id), SECRET, "HS512")), 401);
  });

  it("expired, not-yet-valid, wrong audience, wrong issuer are refused", async () => {
    const u = await createUser();
    const expired = await expectProblem(await me(await sign(claims(u.id, { iat: now() - 7200, exp: now() - 10 }), SECRET, "HS256")), 401);
    expect(expired.detail).toMatch(/expired/);
    await expectProblem(await me(await sign(claims(u.id, { nbf: now() + 600 }), SECRET, "HS256")), 401);
    await expectProblem(await me(await sign(claims(u.id, { aud: "someone-else" }), SECRET, "HS256")), 401);
    await expectProblem(await me(await sign(claims(u.id, { iss: "evil" }), SECRET, "HS256")), 401);
  });

  it("missing claims, a bad role, or another secret are refused", async () => {
    const u = await createUser();
    const { exp: _exp, ...noExp } = claims(u.id);
    await expectProblem(await me(await sign(noExp, SECRET, "HS256")), 401);
    await expectProblem(await me(await sign(claims(u.id, { role: "ROOT" }), SECRET, "HS256")), 401);
    await expectProblem(await me(await sign(claims("not-a-uuid"), SECRET, "HS256")), 401);
    await expectProblem(await me(await sign(claims(u.id), "another-secret-0123456789abcdef01234567", "HS256")), 401);
  });

  it("a tampered payload or signature is refused", async () => {
    const u = await createUser();
    const [h, , s] = u.token.split(".") as [string, string, string];
    const escalated = `${h}.${b64(claims(u.id, { role: "ADMIN" }))}.${s}`;
    await expectProblem(await me(escalated), 401);
    const flipped = `${h}.${u.token.split(".")[1]}.${s.slice(0, -3)}${s.endsWith("AAA") ? "BBB" : "AAA"}`;
    await expectProblem(await me(flipped), 401);
  });
});

describe("roles and object-level authorisation", () => {
  it("USER on an admin route → 403, no token → 401 (before the body is read)", async () => {
    const u = await createUser();
    const res = await api("/api/v1/admin/products", { method: "POST", headers: { ...u.auth, "Content-Type": "text/plain" }, body: "x" });
    await expectProblem(res, 403, "forbidden");
    await expectProblem(await api("/api/v1/admin/products", { method: "POST", body: "x" }), 401);
  });

  it("a user reads their own account; another user's id is 404; ADMIN reads any", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const admin = await createUser("ADMIN");
    expect((await api(`/api/v1/users/${alice.id}`, { headers: alice.auth })).status).toBe(200);
    const p = await expectProblem(await api(`/api/v1/users/${bob.id}`, { headers: alice.auth }), 404, "not_found");
    const missing = await expectProblem(await api("/api/v1/users/00000000-0000-4000-8000-000000000000", { headers: alice.auth }), 404);
    expect(p.detail).toBe(missing.detail);
    expect((await api(`/api/v1/users/${bob.id}`, { headers: admin.auth })).status).toBe(200);
  });
});
