import { z } from 'zod';

const THRESHOLDS = [
  'HARM_BLOCK_THRESHOLD_UNSPECIFIED',
  'BLOCK_LOW_AND_ABOVE',
  'BLOCK_MEDIUM_AND_ABOVE',
  'BLOCK_ONLY_HIGH',
  'BLOCK_NONE',
  'OFF',
] as const;

/**
 * A Gemini channel's settings. `api_version` is the path segment before `/models`
 * (`v1beta` carries every feature the adapter uses; `v1` is the stable subset);
 * `safety_settings` are sent with every chat request as Gemini's `safetySettings`.
 */
export const geminiSettingsSchema = z.strictObject({
  api_version: z
    .string()
    .regex(/^v\d+(?:(?:alpha|beta)\d*)?$/, 'an API version such as v1beta or v1')
    .default('v1beta'),
  safety_settings: z
    .array(
      z.strictObject({
        category: z.string().regex(/^HARM_CATEGORY_[A-Z_]+$/, 'a category such as HARM_CATEGORY_HARASSMENT'),
        threshold: z.enum(THRESHOLDS),
      }),
    )
    .max(20)
    .optional(),
});

export type GeminiSettings = z.output<typeof geminiSettingsSchema>;
