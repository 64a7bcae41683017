/** When a node applied a config version. */
export interface ApplyRecord {
  version: number;
  /** Commit time written by the writer (ms). */
  at: number;
  /** When this node applied it (ms). */
  appliedAt: number;
}

/**
 * The last `capacity` config versions this node applied, with when: what
 * `GET /api/cluster/applies` answers (the sync benchmark measures propagation with it). Off
 * unless `CONFIG_APPLY_LOG` is set: a ring of fixed size, so it never grows.
 */
export class ApplyLog {
  private readonly ring: (ApplyRecord | undefined)[];
  private next = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<ApplyRecord | undefined>(capacity);
  }

  record(r: ApplyRecord): void {
    this.ring[this.next] = r;
    this.next = (this.next + 1) % this.capacity;
  }

  /** The kept records newer than `version`, oldest first. */
  after(version: number): ApplyRecord[] {
    const out: ApplyRecord[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const r = this.ring[(this.next + i) % this.capacity];
      if (r && r.version > version) out.push(r);
    }
    return out;
  }
}
