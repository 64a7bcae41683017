import v8 from 'node:v8';

/**
 * Turns off V8's allocation-site pretenuring for the gateway's process; imported first by
 * main.ts, before any other module runs.
 *
 * V8 watches each object and array literal: when nearly all the objects a site made survived a
 * minor GC, it has the site's optimized code allocate straight into old space from then on, and
 * never goes back. The `[a, b]` array in node's events.js holding an emitter's listeners once two
 * are added for one event is such a site, shared by every emitter; start-up gives it long-lived
 * emitters. Once it is pretenured (in some runs and not others), the `close` listeners of every
 * response are held by an array born in old space. That array is garbage when its request ends,
 * but minor GCs count old objects as alive until the next full GC, so whatever it points to
 * (the listener closures, the request, the response, everything they reach) survived minor GCs
 * and was promoted: ~1.5 MB per minor GC under load, old space growing ~14 MB/s until a full GC,
 * and ~50 MB more resident memory. Other literals on the request path can fall into the same
 * state; without pretenuring, objects reach old space only by outliving two minor GCs.
 */
v8.setFlagsFromString('--no-allocation-site-pretenuring');
