/**
 * Collects garbage between two stacks' runs once the heap has grown by `budget` bytes since the
 * last collection, when the process was started with `--expose-gc` (`npm run render` is; without
 * it this does nothing). A stack's run leaves nearly everything it allocated behind as garbage,
 * and much of it outlives V8's young generation. Left to V8, a 100-site render collected its old
 * generation twice in its first second and never again: V8 sets the next limit at several times
 * the heap a collection leaves, and the heap grew to about 250 MiB with about 70 MiB live (peak
 * RSS 370-395 MiB). With this, it collects once, after the shared stack's run (about 40 ms), and
 * peaks under 330 MiB. The bench's replay of a render (offline/replay.ts) collects the same way.
 */
export class HeapBudget {
    private readonly gc = (globalThis as { gc?: () => void }).gc;
    private since: number;

    constructor(
        private readonly budget = 128 * 1024 * 1024,
        private readonly heapUsed = () => process.memoryUsage().heapUsed,
    ) {
        this.since = heapUsed();
    }

    /** Called between two runs; returns whether it collected. */
    between(): boolean {
        if (this.gc === undefined || this.heapUsed() - this.since < this.budget) return false;
        this.gc();
        this.since = this.heapUsed();
        return true;
    }
}
