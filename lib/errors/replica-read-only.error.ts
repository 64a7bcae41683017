import { AppError } from './app.error.js';

/** An admin write sent to a replica: only the master takes them. */
export class ReplicaReadOnlyError extends AppError {
  constructor(masterUrl: string | undefined) {
    const where = masterUrl
      ? `the master at ${masterUrl}`
      : 'the master (GET /api/cluster lists it; set MASTER_URL on replicas to name it here)';
    super(403, 'replica_read_only', `This node is a read-only replica: send admin writes to ${where}`, {
      code: 'replica_read_only',
    });
  }
}
