import type { AdminAuthService } from '../admin/admin-auth.service.js';
import type { UserRecord, UserRepository } from '../db/repositories/user.repository.js';
import { AppError } from '../errors/app.error.js';
import { AuthenticationError } from '../errors/authentication.error.js';
import { RateLimitError } from '../errors/rate-limit.error.js';
import type { PasswordHasher } from '../security/passwords.js';
import type { LoginThrottle } from './login-throttle.js';
import type { IssuedSession, SessionService } from './session.service.js';

export type LoginInput = { username: string; password: string } | { access_token: string };

/**
 * Console sign-in: a username and password, or an admin API access token (how root signs in
 * the first time, before it has a password). Failed attempts are counted per client IP and per
 * username; past the limit the attempt is refused before any password is checked.
 */
export class LoginService {
  constructor(
    private readonly users: UserRepository,
    private readonly tokens: AdminAuthService,
    private readonly passwords: PasswordHasher,
    private readonly sessions: SessionService,
    private readonly throttle: LoginThrottle,
  ) {}

  /** Attempts under way per IP and per username on this node (see {@link login}). */
  private readonly queues = new Map<string, Promise<unknown>>();

  /**
   * Signs in. The attempts of one IP, and of one username, run one after another on this node:
   * a failure is counted before the next attempt checks the limit, so guesses sent in parallel
   * meet the limit as guesses sent one by one do.
   */
  login(
    input: LoginInput,
    meta: { ip: string; userAgent?: string },
  ): Promise<{ user: UserRecord } & IssuedSession> {
    const username = 'username' in input ? input.username : undefined;
    return this.serial(`ip:${meta.ip}`, () =>
      username === undefined
        ? this.attempt(input, meta)
        : this.serial(`user:${username}`, () => this.attempt(input, meta)),
    );
  }

  private serial<T>(key: string, run: () => Promise<T>): Promise<T> {
    const before = this.queues.get(key) ?? Promise.resolve();
    const mine = before.then(run, run);
    const tail = mine.then(
      () => {},
      () => {},
    );
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return mine;
  }

  private async attempt(
    input: LoginInput,
    meta: { ip: string; userAgent?: string },
  ): Promise<{ user: UserRecord } & IssuedSession> {
    const username = 'username' in input ? input.username : undefined;
    const wait = await this.throttle.wait(meta.ip, username);
    if (wait > 0) {
      const seconds = Math.max(1, Math.ceil(wait / 1000));
      throw new RateLimitError('requests', `Too many failed sign-in attempts: try again in ${seconds}s`, {
        headers: { 'retry-after': String(seconds) },
        code: 'too_many_attempts',
      });
    }
    let user: UserRecord;
    try {
      user = 'username' in input ? await this.byPassword(input) : await this.byToken(input.access_token);
    } catch (err) {
      // A disabled user is refused without counting a guess: the credentials were right.
      if (err instanceof AppError && err.code !== 'user_disabled')
        await this.throttle.failed(meta.ip, username);
      throw err;
    }
    await this.throttle.succeeded(username);
    const via = 'username' in input ? 'password' : 'access_token';
    return { user, ...(await this.sessions.create(user.id, via, meta)) };
  }

  private async byPassword(input: { username: string; password: string }): Promise<UserRecord> {
    const found = await this.users.findForLogin(input.username);
    if (!found?.passwordHash) {
      // The same work as a real check, so the answer's timing does not tell which usernames exist.
      await this.passwords.burn(input.password);
      throw wrongCredentials();
    }
    if (!(await this.passwords.verify(found.passwordHash, input.password))) throw wrongCredentials();
    if (found.user.status !== 'enabled') throw disabled(found.user);
    return found.user;
  }

  private async byToken(token: string): Promise<UserRecord> {
    const actor = await this.tokens.authenticate(token);
    const user = await this.users.findById(actor.userId);
    if (!user) throw new AuthenticationError('Invalid admin token');
    return user;
  }
}

const wrongCredentials = () =>
  new AuthenticationError('Wrong username or password', { code: 'invalid_credentials' });

const disabled = (u: UserRecord) =>
  new AuthenticationError(`User ${u.username} is disabled`, { code: 'user_disabled' });
