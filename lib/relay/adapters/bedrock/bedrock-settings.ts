import { z } from 'zod';

/**
 * A Bedrock channel's settings: only its AWS `region` (the SigV4 signing region). The runtime
 * endpoint is the channel's `base_url` (`https://bedrock-runtime.<region>.amazonaws.com`, or a
 * VPC endpoint); the credentials are its encrypted `key` (see `bedrock-credentials.ts`).
 */
export const bedrockSettingsSchema = z.strictObject({
  region: z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d+$/, 'an AWS region such as us-east-1'),
});

export type BedrockSettings = z.output<typeof bedrockSettingsSchema>;
