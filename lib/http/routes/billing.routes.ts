import { Router } from 'express';
import {
  dashboardQuerySchema,
  groupSchema,
  logsQuerySchema,
  priceModelParam,
  priceSchema,
  statsQuerySchema,
} from '../../admin/billing.schemas.js';
import type { PricingService } from '../../admin/pricing.service.js';
import type { UsageService } from '../../admin/usage.service.js';
import { groupName, idParam, parseInput } from '../../admin/validation.js';
import { actorOf } from '../middleware/admin-auth.js';

/** `/api/prices`, `/api/groups`, `/api/logs` (and one entry), `/api/stats`, `/api/dashboard`. */
export function billingRoutes(pricing: PricingService, usage: UsageService): Router {
  const router = Router();
  router.get('/prices', async (_req, res) => {
    res.json(await pricing.listPrices());
  });
  router.put('/prices/:model', async (req, res) => {
    const model = parseInput(priceModelParam, req.params.model);
    res.json({ data: await pricing.putPrice(actorOf(res), model, parseInput(priceSchema, req.body ?? {})) });
  });
  router.delete('/prices/:model', async (req, res) => {
    await pricing.deletePrice(actorOf(res), parseInput(priceModelParam, req.params.model));
    res.status(204).end();
  });
  router.get('/groups', async (_req, res) => {
    res.json(await pricing.listGroups());
  });
  router.put('/groups/:name', async (req, res) => {
    const name = parseInput(groupName, req.params.name);
    res.json({ data: await pricing.putGroup(actorOf(res), name, parseInput(groupSchema, req.body ?? {})) });
  });
  router.delete('/groups/:name', async (req, res) => {
    await pricing.deleteGroup(actorOf(res), parseInput(groupName, req.params.name));
    res.status(204).end();
  });
  router.get('/logs', async (req, res) => {
    res.json(await usage.logs(actorOf(res), parseInput(logsQuerySchema, req.query)));
  });
  router.get('/logs/:id', async (req, res) => {
    res.json({ data: await usage.log(actorOf(res), parseInput(idParam, req.params.id)) });
  });
  router.get('/dashboard', async (req, res) => {
    res.json(await usage.dashboard(actorOf(res), parseInput(dashboardQuerySchema, req.query)));
  });
  router.get('/stats', async (req, res) => {
    res.json(await usage.stats(actorOf(res), parseInput(statsQuerySchema, req.query)));
  });
  return router;
}
