/** Reads OpenAI's model list (`{"data":[{"id":…}]}`) into ids; throws when it is not one. */
export function readModelList(raw: Buffer): string[] {
  const json = JSON.parse(raw.toString('utf8')) as { data?: { id?: unknown }[] };
  if (!Array.isArray(json.data)) throw new SyntaxError('the answer has no data list');
  return json.data.map((m) => m?.id).filter((id): id is string => typeof id === 'string');
}
