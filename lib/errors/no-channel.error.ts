import { AppError } from './app.error.js';

/** No enabled channel serves this model in this group (or every one of them was tried). */
export class NoChannelError extends AppError {
  constructor(group: string, model: string, tried = 0) {
    const suffix = tried > 0 ? ` (all ${tried} channel(s) tried failed)` : '';
    super(
      503,
      'service_unavailable_error',
      `No available channel for model ${model} in group ${group}${suffix}`,
      {
        code: 'model_not_available',
        param: 'model',
      },
    );
  }
}
