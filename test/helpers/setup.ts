/**
 * Loaded before every suite: an unhandled rejection or uncaught exception anywhere in a test
 * run fails the run instead of passing silently.
 */
const problems: unknown[] = [];
process.on('unhandledRejection', (reason) => problems.push(reason));

export const mochaHooks = {
  afterEach(this: Mocha.Context) {
    if (problems.length > 0) {
      const first = problems.splice(0);
      throw new Error(
        `Unhandled rejection during the test: ${String((first[0] as Error)?.stack ?? first[0])}`,
      );
    }
  },
};
