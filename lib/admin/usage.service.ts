import type {
  UsageFilter,
  UsageLogRepository,
  UsageRecord,
} from '../db/repositories/usage-log.repository.js';
import { isAdmin, type Actor } from './actor.js';
import type { LogsQuery, StatsQuery } from './billing.schemas.js';
import { iso } from './validation.js';

export function usageView(u: UsageRecord & { id: number }) {
  return {
    id: u.id,
    type: u.type,
    request_id: u.requestId,
    created_at: iso(u.createdAt),
    user_id: u.userId,
    token_id: u.tokenId,
    channel_id: u.channelId,
    model: u.model,
    upstream_model: u.upstreamModel,
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    cached_tokens: u.cachedTokens,
    quota: u.quota,
    latency_ms: u.latencyMs,
    ttft_ms: u.ttftMs,
    stream: u.stream,
    status: u.status,
    retries: u.retries,
    note: u.note,
  };
}

/** The usage log and its daily stats. Admins see everyone's; a user only its own. */
export class UsageService {
  constructor(private readonly usage: UsageLogRepository) {}

  async logs(actor: Actor, q: LogsQuery) {
    const { rows, total } = await this.usage.list(
      { ...this.filter(actor, q), status: q.status, type: q.type, requestId: q.request_id },
      q.page,
      q.per_page,
    );
    return { data: rows.map(usageView), total };
  }

  async stats(actor: Actor, q: StatsQuery) {
    const rows = await this.usage.stats(this.filter(actor, q));
    return {
      data: rows.map((r) => ({
        day: r.day,
        model: r.model,
        requests: r.requests,
        prompt_tokens: r.promptTokens,
        completion_tokens: r.completionTokens,
        quota: r.quota,
      })),
    };
  }

  private filter(actor: Actor, q: StatsQuery): UsageFilter {
    return {
      from: q.from,
      to: q.to,
      userId: isAdmin(actor) ? q.user_id : actor.userId,
      tokenId: q.token_id,
      channelId: q.channel_id,
      model: q.model,
    };
  }
}
