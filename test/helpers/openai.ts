import OpenAI from 'openai';

/** Awaits a call that must fail with an API error (as the official client reports it) and returns the error. */
export async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error('expected an APIError');
}
