import { z } from 'zod';
import catalogueJson from './catalogue/prices.json' with { type: 'json' };

const usd = z.number().finite().min(0).max(100_000);

const entrySchema = z
  .object({
    model: z.string().min(1).max(128),
    provider: z.string().min(1),
    kind: z.enum(['chat', 'reasoning', 'embedding']),
    input: usd,
    output: usd,
    cached_input: usd.optional(),
    /** What writing a prompt into the provider's cache costs (Anthropic's 5-minute write). */
    cache_write_input: usd.optional(),
  })
  .strict();

const catalogueSchema = z
  .object({
    about: z.string().min(1),
    catalogue_version: z.number().int().min(1),
    currency: z.literal('USD'),
    unit: z.literal('per 1M tokens'),
    figures_as_of: z.string().regex(/^\d{4}-\d{2}(-\d{2})?$/),
    providers: z.record(
      z.string(),
      z.object({
        source: z.string().url(),
        as_of: z.string().regex(/^\d{4}-\d{2}(-\d{2})?$/),
        note: z.string(),
      }),
    ),
    models: z.array(entrySchema).min(1),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    for (const m of c.models) {
      if (seen.has(m.model)) ctx.addIssue({ code: 'custom', message: `model ${m.model} is listed twice` });
      seen.add(m.model);
      if (!c.providers[m.provider])
        ctx.addIssue({ code: 'custom', message: `model ${m.model}: provider ${m.provider} has no source` });
    }
  });

export type PriceCatalogue = z.output<typeof catalogueSchema>;
export type CatalogueEntry = PriceCatalogue['models'][number];

/** Validates a catalogue (the shipped file, or a test's own). Throws with the first problem. */
export function parseCatalogue(value: unknown): PriceCatalogue {
  return catalogueSchema.parse(value);
}

/** The catalogue shipped with this release: lib/billing/catalogue/prices.json. */
export const defaultCatalogue: PriceCatalogue = parseCatalogue(catalogueJson);
