import { expect } from 'chai';
import { col, TableMap } from '../../lib/db/columns.js';
import { renameFields } from '../../lib/admin/validation.js';

describe('table columns described once', () => {
  interface Rec {
    id: number;
    name: string;
    note: string | null;
    tags: string[];
    limit: number | null;
  }
  const table = new TableMap<Rec>({
    id: col.number('id'),
    name: col.string('name'),
    note: col.stringOrNull('note_text'),
    tags: col.json<string[]>('tags', []),
    limit: col.numberOrNull('rpm_limit'),
  });

  it('reads a row as SQLite and MySQL return it (numbers as strings, JSON as text, NULLs)', () => {
    expect(
      table.toRecord({ id: '9007199254740993', name: 'a', note_text: null, tags: '["x"]', rpm_limit: '5' }),
    ).to.deep.equal({
      id: 9007199254740992,
      name: 'a',
      note: null,
      tags: ['x'],
      limit: 5,
    });
    expect(
      table.toRecord({ id: 1, name: 'b', note_text: 'n', tags: 'not json', rpm_limit: null }),
    ).to.include({
      note: 'n',
      limit: null,
    });
  });

  it('writes only the fields given, under their column names; null is written, undefined is not', () => {
    expect(table.toRow({ name: 'c', tags: ['y'], limit: null })).to.deep.equal({
      name: 'c',
      tags: '["y"]',
      rpm_limit: null,
    });
  });

  it('input fields renamed to repository fields, absent ones left out', () => {
    expect(
      renameFields(
        { base_url: 'u', weight: 1, test_model: undefined },
        { base_url: 'baseUrl', test_model: 'testModel' },
      ),
    ).to.deep.equal({
      baseUrl: 'u',
      weight: 1,
    });
  });
});
