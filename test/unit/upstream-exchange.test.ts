import { expect } from 'chai';
import type { Dispatcher } from 'undici';
import { UpstreamExchange } from '../../lib/relay/upstream-client.js';

/**
 * undici's side of one exchange, as its HTTP/1 client drives a handler: `pause` holds the body,
 * `abort` ends the request (and its connection), after which the handler hears the error.
 */
function controllerFor(exchange: UpstreamExchange) {
  const c = {
    paused: false,
    aborted: false,
    reason: null as Error | null,
    rawHeaders: null,
    rawTrailers: null,
    pause() {
      c.paused = true;
    },
    resume() {
      c.paused = false;
    },
    abort(reason: Error) {
      if (c.aborted) return;
      c.aborted = true;
      c.reason = reason;
      queueMicrotask(() => exchange.onResponseError(c as unknown as Dispatcher.DispatchController, reason));
    },
  };
  return c;
}

/** An exchange whose head came (and whose body is held until someone reads it). */
function started() {
  const exchange = new UpstreamExchange();
  const controller = controllerFor(exchange);
  const dc = controller as unknown as Dispatcher.DispatchController;
  exchange.onRequestStart(dc);
  exchange.onResponseStart(dc, 200, { 'content-type': 'text/event-stream' });
  return { exchange, controller, dc };
}

describe('upstream exchange: a reader that throws', () => {
  it('on a chunk that came before the body was read: the exchange is aborted with its error, not left paused', async () => {
    const { exchange, controller, dc } = started();
    expect(controller.paused).to.equal(true);
    exchange.onResponseData(dc, Buffer.from('data: {"te\r\n\r\n'));
    const unreadable = new SyntaxError('Unexpected end of JSON input');
    const err = await exchange
      .pipe(() => {
        throw unreadable;
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).to.equal(unreadable);
    expect(controller).to.include({ aborted: true, reason: unreadable });
  });

  it('on a chunk as it arrives: the exchange is aborted with its error', async () => {
    const { exchange, controller, dc } = started();
    const unreadable = new SyntaxError('bad frame');
    const reading = exchange.pipe(() => {
      throw unreadable;
    });
    const err = reading.then(
      () => undefined,
      (e: unknown) => e,
    );
    exchange.onResponseData(dc, Buffer.from('x'));
    expect(await err).to.equal(unreadable);
    expect(controller).to.include({ aborted: true, reason: unreadable });
  });

  it('a reader that takes its chunks leaves the exchange alone', async () => {
    const { exchange, controller, dc } = started();
    exchange.onResponseData(dc, Buffer.from('a'));
    const got: string[] = [];
    const reading = exchange.pipe((chunk) => got.push(chunk.toString()) > 0);
    exchange.onResponseData(dc, Buffer.from('b'));
    exchange.onResponseEnd();
    await reading;
    expect(got).to.deep.equal(['a', 'b']);
    expect(controller.aborted).to.equal(false);
  });
});
