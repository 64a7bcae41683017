import { z } from 'zod';
import { PASSWORD_MAX_LENGTH } from '../security/passwords.js';

/** `POST /api/auth/login`: a username and password, or an admin access token. */
export const loginSchema = z.union([
  z.strictObject({
    username: z.string().min(1).max(64),
    password: z.string().min(1).max(PASSWORD_MAX_LENGTH),
  }),
  z.strictObject({ access_token: z.string().trim().min(1).max(512) }),
]);

/** `PUT /api/users/:id/password`: the new password; a user changing its own also gives the current one. */
export const setPasswordSchema = z.strictObject({
  password: z.string(),
  current_password: z.string().max(PASSWORD_MAX_LENGTH).optional(),
});

export type SetPasswordInput = z.output<typeof setPasswordSchema>;
