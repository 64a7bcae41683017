import { expect } from 'chai';
import { ApplyLog } from '../../lib/cfg/apply-log.js';
import type { VersionProbe } from '../../lib/cfg/config-sync.js';
import { NewestVersionProbe } from '../../lib/cfg/newest-version-probe.js';

const probe = (read: VersionProbe['read']): VersionProbe => ({ read });

describe('NewestVersionProbe (the cluster poll)', () => {
  it("takes the database's version when a write there never raised Redis's (a commit without publish)", async () => {
    const p = new NewestVersionProbe(
      probe(async () => ({ epoch: 'e', version: 7 })),
      probe(async () => ({ epoch: 'e', version: 9 })),
    );
    expect(await p.read()).to.deep.equal({ epoch: 'e', version: 9 });
  });

  it("keeps Redis's when it is ahead, and the database's epoch when they differ", async () => {
    const ahead = new NewestVersionProbe(
      probe(async () => ({ epoch: 'e', version: 12 })),
      probe(async () => ({ epoch: 'e', version: 11 })),
    );
    expect(await ahead.read()).to.deep.equal({ epoch: 'e', version: 12 });
    const reset = new NewestVersionProbe(
      probe(async () => ({ epoch: 'old', version: 50 })),
      probe(async () => ({ epoch: 'new', version: 1 })),
    );
    expect(await reset.read()).to.deep.equal({ epoch: 'new', version: 1 });
  });

  it('Redis without a version still asks for a full resync; a database that fails or hangs is left out', async () => {
    const flushed = new NewestVersionProbe(
      probe(async () => undefined),
      probe(async () => ({ epoch: 'e', version: 3 })),
    );
    expect(await flushed.read()).to.equal(undefined);
    const failing = new NewestVersionProbe(
      probe(async () => ({ epoch: 'e', version: 4 })),
      probe(async () => Promise.reject(new Error('ECONNREFUSED'))),
    );
    expect(await failing.read()).to.deep.equal({ epoch: 'e', version: 4 });
    const started = Date.now();
    const hanging = new NewestVersionProbe(
      probe(async () => ({ epoch: 'e', version: 5 })),
      probe(() => new Promise(() => {})),
    );
    expect(await hanging.read()).to.deep.equal({ epoch: 'e', version: 5 });
    expect(Date.now() - started).to.be.below(1500);
  });
});

describe('ApplyLog (GET /api/cluster/applies)', () => {
  it('keeps only the last `capacity` applies, oldest first', () => {
    const log = new ApplyLog(3);
    for (let v = 1; v <= 5; v++) log.record({ version: v, at: v, appliedAt: v + 1 });
    expect(log.after(0).map((r) => r.version)).to.deep.equal([3, 4, 5]);
    expect(log.after(4).map((r) => r.version)).to.deep.equal([5]);
  });
});
