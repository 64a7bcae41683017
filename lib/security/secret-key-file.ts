import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * The SECRET_KEY of a single node that was not given one: read from DATA_DIR/secret.key, or
 * generated there once (mode 0600). Losing this file makes stored channel keys unreadable,
 * which the README says next to DATA_DIR.
 */
export function loadOrCreateSecretKey(dataDir: string): { secret: string; created: boolean; file: string } {
  const file = path.join(dataDir, 'secret.key');
  if (fs.existsSync(file)) return { secret: fs.readFileSync(file, 'utf8').trim(), created: false, file };
  fs.mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return { secret, created: true, file };
}
