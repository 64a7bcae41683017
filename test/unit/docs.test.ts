import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pages = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith('.md'),
);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(file: string): Set<string> {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1]!)));
}

describe('documentation', () => {
  it('every relative link of README.md and docs/ points at a file (and heading) that exists', () => {
    const broken: string[] = [];
    for (const page of pages) {
      const text = fs.readFileSync(path.join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue; // http(s), mailto
        const [file, anchor] = target!.split('#');
        const resolved = file ? path.normalize(path.join(path.dirname(page), file)) : page;
        if (!fs.existsSync(path.join(ROOT, resolved))) broken.push(`${page}: ${target} (no ${resolved})`);
        else if (anchor && resolved.endsWith('.md') && !anchors(resolved).has(anchor))
          broken.push(`${page}: ${target} (no heading #${anchor} in ${resolved})`);
      }
    }
    expect(broken).to.deep.equal([]);
  });

  it('the README links every page of docs/ and stays a front door (under 250 lines)', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const page of pages.filter((p) => p.startsWith('docs/')))
      expect(readme, `README.md links ${page}`).to.contain(`](${page})`);
    expect(readme.split('\n').length).to.be.below(250);
  });

  it('code, docs and manifests name only Markdown files the repository has, and no path outside it (the project explains itself)', () => {
    const missing: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
        const rel = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(rel);
        else if (/\.(ts|md|ya?ml)$/.test(entry.name)) {
          const text = fs.readFileSync(path.join(ROOT, rel), 'utf8');
          for (const [name] of text.matchAll(/[\w./-]*\.md\b/g)) {
            const found = [path.join(path.dirname(rel), name!), name!, path.join('docs', name!)].some(
              (candidate) => fs.existsSync(path.join(ROOT, candidate)),
            );
            if (!found) missing.push(`${rel}: ${name}`);
          }
          // Nor any relative path that leads out of the repository, or into a folder it does not have.
          for (const [up] of text.matchAll(/(?:\.\.\/)+[\w.-][\w./-]*/g)) {
            const resolved = path.resolve(ROOT, path.dirname(rel), up!.replace(/[.]+$/, ''));
            // Inside the repository, under a top-level folder it has (build output such as web/dist
            // may not exist yet).
            const top = path.relative(ROOT, resolved).split(path.sep)[0]!;
            if (!resolved.startsWith(ROOT) || !fs.existsSync(path.join(ROOT, top)))
              missing.push(`${rel}: ${up}`);
          }
        }
      }
    };
    for (const dir of ['lib', 'jobs', 'bench', 'scripts', 'docs', 'docker']) walk(dir);
    expect(missing).to.deep.equal([]);
  });
});
