import { expect } from 'chai';
import { ADMIN_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/** An admin call with an Idempotency-Key header. */
async function call(gw: TestGateway, method: string, path: string, body: unknown, key?: string) {
  const res = await fetch(gw.url + path, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      'content-type': 'application/json',
      ...(key === undefined ? {} : { 'idempotency-key': key }),
    },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as any,
    replayed: res.headers.get('idempotent-replayed'),
  };
}

for (const driver of ['mysql', 'sqlite'] as const) {
  describe(`Idempotency-Key on money-moving admin calls (${driver})`, function () {
    this.timeout(30_000);
    let gw: TestGateway;
    before(async () => {
      gw = await startTestGateway({ driver });
    });
    after(() => gw?.stop());

    const stored = async (id: number) => {
      const t = await gw.gateway.db('tokens').where({ id }).first('quota');
      const topups = await gw.gateway
        .db('usage_logs')
        .where({ token_id: id, type: 'topup' })
        .count({ n: '*' })
        .first();
      return { quota: Number(t.quota), topups: Number(topups!.n) };
    };

    it('a top-up retried with the same key applies once and answers as the first time', async () => {
      const t = await gw.token({ quota: 1000 });
      const first = await call(gw, 'POST', `/api/tokens/${t.id}/quota`, { delta: 250 }, 'topup-1');
      expect(first).to.deep.include({ status: 200, replayed: null });
      expect(first.body.data).to.deep.equal({ quota: 1250 });
      const retry = await call(gw, 'POST', `/api/tokens/${t.id}/quota`, { delta: 250 }, 'topup-1');
      expect(retry).to.deep.include({ status: 200, replayed: 'true' });
      expect(retry.body.data).to.deep.equal({ quota: 1250 });
      expect(await stored(t.id)).to.deep.equal({ quota: 1250, topups: 1 });
      // Without a key each call is a new top-up.
      await call(gw, 'POST', `/api/tokens/${t.id}/quota`, { delta: 1 });
      await call(gw, 'POST', `/api/tokens/${t.id}/quota`, { delta: 1 });
      expect(await stored(t.id)).to.deep.equal({ quota: 1252, topups: 3 });
    });

    it('the same key for another call is refused (422); a malformed key is a 400', async () => {
      const t = await gw.token({ quota: 10 });
      expect((await call(gw, 'POST', `/api/tokens/${t.id}/quota`, { delta: 5 }, 'k-2')).status).to.equal(200);
      const other = await call(gw, 'POST', `/api/tokens/${t.id}/quota`, { delta: 6 }, 'k-2');
      expect(other.status).to.equal(422);
      expect(other.body.error.code).to.equal('idempotency_key_reused');
      const bad = await call(gw, 'POST', `/api/tokens/${t.id}/quota`, { delta: 5 }, 'has space');
      expect(bad.status).to.equal(400);
      expect(bad.body.error.code).to.equal('invalid_idempotency_key');
      expect(await stored(t.id)).to.deep.equal({ quota: 15, topups: 1 });
    });

    it('ten calls at once with one key top up once', async () => {
      const t = await gw.token({ quota: 0 });
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          call(gw, 'POST', `/api/tokens/${t.id}/quota`, { delta: 7 }, 'burst'),
        ),
      );
      for (const a of answers) {
        expect(a.status).to.equal(200);
        expect(a.body.data).to.deep.equal({ quota: 7 });
      }
      expect(answers.filter((a) => a.replayed === 'true')).to.have.length(9);
      expect(await stored(t.id)).to.deep.equal({ quota: 7, topups: 1 });
    });

    it('a quota set by PATCH and retried after charges does not set it back; users take keys too', async () => {
      const t = await gw.token({ quota: 100 });
      const first = await call(gw, 'PATCH', `/api/tokens/${t.id}`, { quota: 500 }, 'set-500');
      expect(first.status).to.equal(200);
      await gw.gateway.db('tokens').where({ id: t.id }).update({ quota: 490 }); // charged meanwhile
      const retry = await call(gw, 'PATCH', `/api/tokens/${t.id}`, { quota: 500 }, 'set-500');
      expect(retry).to.deep.include({ status: 200, replayed: 'true' });
      expect(retry.body.data.quota).to.equal(500); // the first call's answer
      expect((await stored(t.id)).quota).to.equal(490);
      const u = await gw.admin('POST', '/api/users', { username: `idem-${driver}`, quota: 10 });
      const id = u.body.data.id;
      await call(gw, 'POST', `/api/users/${id}/quota`, { delta: 3 }, 'u-1');
      await call(gw, 'POST', `/api/users/${id}/quota`, { delta: 3 }, 'u-1');
      expect(Number((await gw.gateway.db('users').where({ id }).first('quota')).quota)).to.equal(13);
    });
  });
}
