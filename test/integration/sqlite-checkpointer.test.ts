import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDb, migrateLatest, sqliteFileOf } from '../../lib/db/knex.js';
import { SqliteCheckpointer } from '../../lib/db/sqlite-checkpointer.js';
import { waitFor } from '../helpers/wait.js';

describe('SQLite checkpoints on a worker thread', () => {
  it('the gateway connection never checkpoints; the worker moves the WAL into the database file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-ckpt-'));
    const db = createDb({ dataDir: dir });
    const errors: Error[] = [];
    const checkpointer = new SqliteCheckpointer(sqliteFileOf(db)!, 100, (err) => errors.push(err));
    const cwd = process.cwd();
    try {
      await migrateLatest(db);
      const file = sqliteFileOf(db)!;
      const before = fs.statSync(file).size;
      const rows = Array.from({ length: 4000 }, (_, i) => ({
        charge_id: `c${i}`,
        request_id: `r${i}`,
        type: 'consume',
        created_at: i,
        user_id: 1,
        note: 'x'.repeat(200),
      }));
      for (let i = 0; i < rows.length; i += 200) await db('usage_logs').insert(rows.slice(i, i + 200));
      // ~1 MB written: all of it still in the WAL, none in the database file.
      expect(fs.statSync(`${file}-wal`).size).to.be.greaterThan(1_000_000);
      expect(fs.statSync(file).size).to.equal(before);
      // Started from another working directory, as `node /opt/switchyard/dist/lib/main.js` may be.
      process.chdir(dir);
      checkpointer.start();
      await waitFor(async () => fs.statSync(file).size > before + 1_000_000, 5000, 'a checkpoint');
      expect(errors).to.deep.equal([]);
    } finally {
      process.chdir(cwd);
      await checkpointer.stop();
      await db.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
