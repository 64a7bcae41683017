import type { ReactNode } from 'react';

/**
 * A grid of 1 column on narrow screens and `cols` from 48em on, from the console's own CSS
 * (Mantine's SimpleGrid writes a <style> element, which the console's CSP does not allow).
 */
export function Columns({ cols, mb, children }: { cols: 2 | 3 | 4; mb?: 'md'; children: ReactNode }) {
  return <div className={`sy-cols sy-cols-${cols}${mb ? ' sy-mb-md' : ''}`}>{children}</div>;
}
