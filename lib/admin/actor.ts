import type { Role } from '../db/repositories/user.repository.js';
import { PermissionError } from '../errors/permission.error.js';

/** Who is calling the admin API, from their access token. */
export interface Actor {
  userId: number;
  username: string;
  role: Role;
  group: string;
}

const RANK: Record<Role, number> = { user: 0, admin: 1, root: 2 };

/** Throws 403 unless the actor has at least `role`. */
export function requireRole(actor: Actor, role: Role): void {
  if (RANK[actor.role] < RANK[role]) {
    throw new PermissionError(`This needs the ${role} role; you are ${actor.role}`);
  }
}

/** An admin manages users below it; root manages everyone; a user only itself (read). */
export function requireManages(actor: Actor, target: { id: number; role: Role }): void {
  if (actor.role === 'root') return;
  if (actor.role === 'admin' && RANK[target.role] < RANK.admin) return;
  throw new PermissionError(`Only root can change ${target.role} users`);
}

/** True when the actor may grant `role` to someone. */
export function requireMayGrant(actor: Actor, role: Role): void {
  if (actor.role === 'root') return;
  if (actor.role === 'admin' && role === 'user') return;
  throw new PermissionError(`Only root can grant the ${role} role`);
}

export function isAdmin(actor: Actor): boolean {
  return RANK[actor.role] >= RANK.admin;
}
