import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random key: `prefix` + 48 base62 characters (~285 bits). */
export function generateKey(prefix: string): string {
  const bytes = randomBytes(48);
  let out = prefix;
  // 256 % 62 leaves a bias of <0.5% per character; irrelevant at this length, but reject it anyway.
  for (let i = 0; out.length < prefix.length + 48; i++) {
    const b = i < bytes.length ? bytes[i]! : randomBytes(1)[0]!;
    if (b < 248) out += ALPHABET[b % 62];
  }
  return out;
}

/** SHA-256 hex of a key: what the database stores and the caches are keyed by. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex hashes. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** What answers and logs show of a secret: its first 3 and last 4 characters. */
export function maskSecret(secret: string): string {
  if (secret.length <= 10) return '*'.repeat(secret.length);
  return `${secret.slice(0, 3)}…${secret.slice(-4)}`;
}

/** What a token list shows to recognise a key: its first 8 characters. */
export function keyPrefix(key: string): string {
  return key.slice(0, 8);
}
