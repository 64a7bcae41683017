import { Router } from 'express';
import { requireRole } from '../../admin/actor.js';
import {
  bulkChannelsSchema,
  CHANNEL_READ_ONLY,
  createChannelSchema,
  listChannelsSchema,
  testChannelSchema,
  updateChannelSchema,
} from '../../admin/channel.schemas.js';
import type { ChannelHealthService } from '../../admin/channel-health.service.js';
import type { ChannelService } from '../../admin/channel.service.js';
import { idParam, parseInput, withoutReadOnly } from '../../admin/validation.js';
import { actorOf } from '../middleware/admin-auth.js';

/** `/api/channels`: admins only. */
export function channelRoutes(channels: ChannelService, health: ChannelHealthService): Router {
  const router = Router();
  router.use((_req, res, next) => {
    requireRole(actorOf(res), 'admin');
    next();
  });
  router.get('/', async (req, res) => {
    res.json(await channels.list(parseInput(listChannelsSchema, req.query)));
  });
  router.post('/', async (req, res) => {
    res.status(201).json({ data: await channels.create(parseInput(createChannelSchema, req.body ?? {})) });
  });
  router.get('/types', (_req, res) => {
    res.json({ data: channels.channelTypes() });
  });
  router.post('/bulk', async (req, res) => {
    res.json({ data: await channels.bulk(parseInput(bulkChannelsSchema, req.body ?? {})) });
  });
  router.get('/:id', async (req, res) => {
    res.json({ data: await channels.get(parseInput(idParam, req.params.id)) });
  });
  router.patch('/:id', async (req, res) => {
    const input = parseInput(updateChannelSchema, withoutReadOnly(req.body ?? {}, CHANNEL_READ_ONLY));
    res.json({ data: await channels.update(parseInput(idParam, req.params.id), input) });
  });
  router.post('/:id/test', async (req, res) => {
    const input = parseInput(testChannelSchema, req.body ?? {});
    res.json({ data: await health.test(parseInput(idParam, req.params.id), input.model) });
  });
  router.get('/:id/upstream-models', async (req, res) => {
    res.json({ data: await health.upstreamModels(parseInput(idParam, req.params.id)) });
  });
  router.delete('/:id', async (req, res) => {
    await channels.delete(parseInput(idParam, req.params.id));
    res.status(204).end();
  });
  return router;
}
