// One run at a time, and calls that come while one runs coalesce into one more run after it:
// how the node agent converges, the leader places and the dashboard reads the cluster, each on
// every change without piling up work.
export class Coalesced {
  private busy: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(
    private readonly fn: () => Promise<void>,
    private readonly onError: (err: unknown) => Promise<void> | void,
  ) {}

  /** Run soon: now if idle, else once more after the current run (however many calls came). */
  run(): void {
    if (this.dirty) return;
    this.dirty = true;
    this.busy = this.busy.then(async () => {
      this.dirty = false;
      try {
        await this.fn();
      } catch (err) {
        await this.onError(err);
      }
    });
  }

  /** Until the current run and the one queued after it have ended. */
  idle(): Promise<void> {
    return this.busy.catch(() => {});
  }
}
