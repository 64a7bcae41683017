// First: V8 flags that must be set before the rest of the gateway's code runs.
import './obs/gc-tuning.js';
import { Gateway } from './app.js';
import { loadConfig, type Config } from './config/config.js';
import { AppError } from './errors/app.error.js';

/** The entry point: reads the config, starts one node, stops it on SIGTERM/SIGINT. The only place that exits. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const gateway = new Gateway(config);
  try {
    await gateway.start();
  } catch (err) {
    gateway.logger.fatal({ err }, err instanceof AppError ? err.message : 'Switchyard could not start');
    await gateway.stop().catch(() => {});
    process.exit(1);
  }
  if (gateway.bootstrapAdminToken) {
    // Shown once: only its hash is stored. Printed plainly (not through the redacting logger) on purpose.
    process.stdout.write(
      [
        '',
        '================================================================',
        ' First start: created the root user and its admin token.',
        ` Admin token: ${gateway.bootstrapAdminToken}`,
        ' It is shown this once. Use it as "Authorization: Bearer <token>".',
        '================================================================',
        '',
      ].join('\n') + '\n',
    );
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    gateway.logger.info({ signal }, 'shutting down');
    gateway
      .stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        gateway.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

void main();
