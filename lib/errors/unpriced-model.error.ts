import { AppError } from './app.error.js';

/** The model has no price, and unpriced models are not allowed. */
export class UnpricedModelError extends AppError {
  constructor(model: string) {
    super(
      403,
      'invalid_request_error',
      `The model ${model} has no price on this gateway: an admin must set one (PUT /api/prices/${encodeURIComponent(model)}) or set ALLOW_UNPRICED_MODELS=true`,
      { param: 'model', code: 'model_not_priced' },
    );
  }
}
