import { BadRequestError } from '../errors/bad-request.error.js';

type Argon2 = typeof import('argon2');
let loaded: Promise<Argon2> | undefined;
/** The native module, loaded on first use: a node that signs no one in never pays for it. */
const argon2 = (): Promise<Argon2> => (loaded ??= import('argon2').then((m) => (m.default ?? m) as Argon2));

/** The longest password accepted: long passphrases are fine, megabyte bodies to hash are not. */
export const PASSWORD_MAX_LENGTH = 256;

/**
 * argon2id with the parameters OWASP's password storage cheat sheet lists first (19 MiB, 2
 * passes, 1 lane): about 20-40 ms a hash here, so sign-in stays cheap for the gateway and slow
 * for anyone guessing from a stolen database.
 */
const OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Hashes and checks console passwords; enforces the length policy. */
export class PasswordHasher {
  constructor(private readonly minLength: number) {}

  /** Throws a 400 naming `param` unless the password fits the policy. */
  check(password: string, param = 'password'): void {
    if (password.length < this.minLength || password.length > PASSWORD_MAX_LENGTH) {
      throw new BadRequestError(
        `${param}: a password needs ${this.minLength} to ${PASSWORD_MAX_LENGTH} characters`,
        { param, code: 'weak_password' },
      );
    }
    if (/^(.)\1*$/su.test(password)) {
      throw new BadRequestError(`${param}: a password of one repeated character is not accepted`, {
        param,
        code: 'weak_password',
      });
    }
  }

  /** The PHC string (algorithm, parameters, salt, hash) to store. */
  async hash(password: string): Promise<string> {
    this.check(password);
    const a = await argon2();
    return a.hash(password, { ...OPTIONS, type: a.argon2id });
  }

  /** True when `password` matches `stored`; false (never a throw) for a malformed hash. */
  async verify(stored: string, password: string): Promise<boolean> {
    if (password.length > PASSWORD_MAX_LENGTH) return false;
    try {
      return await (await argon2()).verify(stored, password);
    } catch {
      return false;
    }
  }

  /** A hash to verify against when the user does not exist, so both cases take the same time. */
  private dummy: Promise<string> | undefined;
  async burn(password: string): Promise<void> {
    this.dummy ??= argon2().then((a) => a.hash('switchyard-no-such-user', { ...OPTIONS, type: a.argon2id }));
    await this.verify(await this.dummy, password);
  }
}
