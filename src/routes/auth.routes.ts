/** Signup and login. */
import { createRoute } from "@hono/zod-openapi";
import { clientIpKey } from "../lib/client-ip.ts";
import { CredentialsSchema, TokenSchema, UserSchema } from "../schemas/auth.ts";
import { jsonContent, problem, problemResponses } from "../schemas/common.ts";
import { login, signup, toUserDto } from "../services/auth.service.ts";
import { createRouter } from "./router.ts";

export const authRouter = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/signup",
      operationId: "signup",
      tags: ["Accounts"],
      summary: "Create an account (role USER)",
      description: "Emails are normalised (trim, NFKC, lower case). Passwords: 10–128 characters, not a common password.",
      request: { body: { required: true, content: jsonContent(CredentialsSchema) } },
      responses: {
        201: { description: "Created", content: jsonContent(UserSchema) },
        409: problem("Email already registered"),
        ...problemResponses,
      },
    }),
    async (c) => {
      const { email, password } = c.req.valid("json");
      const user = await signup(await c.get("dbFresh").orm(), email, password);
      return c.json(toUserDto(user), 201, { Location: `/api/v1/users/${user.id}` });
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/login",
      operationId: "login",
      tags: ["Accounts"],
      summary: "Exchange email and password for an access token",
      description:
        "Wrong password and unknown email answer the same 401. Repeated failures per account and per client (IPv4 address, IPv6 /64) slow down, then lock (429 with Retry-After); each attempt is counted before the password is checked.",
      request: { body: { required: true, content: jsonContent(CredentialsSchema) } },
      responses: {
        200: { description: "A Bearer access token (JWT HS256)", content: jsonContent(TokenSchema) },
        401: problem("Invalid credentials"),
        429: problem("Too many failed attempts"),
        ...problemResponses,
      },
    }),
    async (c) => {
      const { email, password } = c.req.valid("json");
      const client = clientIpKey(c.req.header("cf-connecting-ip"));
      const token = await login(await c.get("dbFresh").orm(), c.get("config"), email, password, client);
      return c.json(token, 200, { "Cache-Control": "no-store" });
    },
  );
