import fs from 'node:fs';
import { expect } from 'chai';
import { envTableMarkdown, loadConfig } from '../../lib/config/config.js';

describe('config', () => {
  it('has defaults for a start with nothing set', () => {
    const c = loadConfig({}, false);
    expect(c.port).to.equal(3000);
    expect(c.databaseUrl).to.equal(undefined);
    expect(c.maxBodyBytes).to.equal(20 * 1024 * 1024);
    expect(c.retryTimes).to.equal(2);
    expect(c.logPretty).to.equal(false);
  });

  it('names every wrong variable', () => {
    expect(() =>
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'postgres://x', RETRY_TIMES: '-1' }, false),
    ).to.throw(/PORT=.*DATABASE_URL=.*mysql:\/\/.*RETRY_TIMES=/);
  });

  it('parses sizes and trust proxy settings', () => {
    const c = loadConfig({ MAX_BODY: '512kb', TRUST_PROXY: '1' }, false);
    expect(c.maxBodyBytes).to.equal(512 * 1024);
    expect(c.trustProxy).to.equal(1);
  });

  it('matches the table of docs/configuration.md (regenerate it with `npm run docs:env`)', () => {
    const readme = fs.readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const section = /<!-- env-table:start -->([\s\S]*?)<!-- env-table:end -->/.exec(readme);
    expect(section, 'docs/configuration.md has no env-table markers').to.not.equal(null);
    // Compare cell by cell, so a formatter may pad the columns.
    const rows = (text: string) =>
      text
        .trim()
        .split('\n')
        .filter((line) => !/^\|\s*-/.test(line))
        .map((line) =>
          line
            .split('|')
            .map((cell) => cell.trim())
            .join('|'),
        );
    expect(rows(section![1]!)).to.deep.equal(rows(envTableMarkdown()));
  });
});
