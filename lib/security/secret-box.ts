import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

const VERSION = 'v1';

/**
 * AES-256-GCM encryption for secrets at rest (channel upstream keys). The 256-bit key is derived
 * from SECRET_KEY with scrypt and a fixed, per-purpose salt, so every node with the same
 * SECRET_KEY reads what any other wrote. Output: `v1:` + base64(iv | tag | ciphertext).
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = scryptSync(secret, 'switchyard/channel-key/v1', 32);
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  /** Throws when the text was not written with this SECRET_KEY (the GCM tag does not match). */
  decrypt(sealed: string): string {
    // eslint-disable-next-line no-restricted-syntax -- a corrupt row: the caller logs it like a bad GCM tag
    if (!sealed.startsWith(`${VERSION}:`)) throw new Error('unknown secret format');
    const raw = Buffer.from(sealed.slice(VERSION.length + 1), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}
