import { z } from "@hono/zod-openapi";
import { userRole } from "../db/schema.ts";
import { normaliseEmail } from "../lib/password-policy.ts";

export const CredentialsSchema = z
  .object({
    email: z
      .string()
      .max(320)
      .transform(normaliseEmail)
      .pipe(z.string().max(254).email("must be an email address"))
      .openapi({ type: "string", format: "email", example: "ada@example.com" }),
    password: z.string().min(1).max(1024).openapi({ example: "correct horse battery", format: "password" }),
  })
  .strict()
  .openapi("Credentials");

export const UserSchema = z
  .object({
    id: z.string().uuid(),
    email: z.string(),
    role: z.enum(userRole.enumValues),
    created_at: z.string().datetime({ offset: true }),
  })
  .openapi("User");

export const TokenSchema = z
  .object({
    access_token: z.string(),
    token_type: z.literal("Bearer"),
    expires_in: z.number().int().openapi({ description: "Seconds until the token expires" }),
    role: z.enum(userRole.enumValues),
  })
  .openapi("AccessToken");

export const UserIdParamSchema = z.object({
  id: z
    .string()
    .uuid("must be a uuid")
    .openapi({ param: { name: "id", in: "path" } }),
});
