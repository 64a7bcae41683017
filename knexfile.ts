import { loadConfig } from './lib/config/config.js';
import { knexConfig } from './lib/db/knex.js';

/**
 * For the knex CLI (`npm run knex -- migrate:status`). The gateway itself
 * migrates on start; this reads the same settings (DATABASE_URL, DATA_DIR).
 */
const config = loadConfig();
export default knexConfig({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
