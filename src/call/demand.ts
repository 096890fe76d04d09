/**
 * What the callers of one call's promise have asked of it: its parsed value (`then`, `await`, `withResponse`)
 * or its raw response (`asResponse`). openai-node parses a response only once it is asked for, so a caller can
 * read `.asResponse()` late, or before and after `await`, and still find the body unread. The attempt loop
 * reads the demand when a response arrives; when nobody has asked yet, it waits for the first ask.
 */
export type DemandKind = 'parsed' | 'raw';

/**
 * Calls whose response arrived before anyone asked for it. When every promise of such a call is collected
 * unread (a `void client.files.delete(id)`, say), its waiting attempt is told so and frees its client. One
 * registry for all; a call registers only while it waits.
 */
const unasked = new FinalizationRegistry<() => void>((abandon) => abandon());

export class Demand {
  kind: DemandKind | undefined;
  #wake: ((kind: DemandKind | 'abandoned') => void) | undefined;
  /**
   * The object only the call's promises hold (its CallHandle): once it is collected, nobody can ask. Held
   * here until the first ask or until the call starts to wait, whichever comes first, never longer.
   */
  #askers: object | undefined;

  constructor(askers: object) {
    this.#askers = askers;
  }

  /** The first ask decides; later ones are served from it (a late `then` parses a raw response itself). */
  ask(kind: DemandKind): void {
    if (this.kind !== undefined) return;
    this.kind = kind;
    // Asked: the call no longer needs to know when its promises go. Holding them from here would keep a
    // stream handed to the caller alive through the call (and the stream's own leak guard from ever firing).
    this.#askers = undefined;
    const wake = this.#wake;
    if (!wake) return;
    this.#wake = undefined;
    unasked.unregister(this);
    wake(kind);
  }

  /** The first demand, or `abandoned` once every promise of the call was garbage-collected unasked. */
  next(): DemandKind | Promise<DemandKind | 'abandoned'> {
    if (this.kind !== undefined) return this.kind;
    return new Promise((resolve) => {
      this.#wake = resolve;
      const askers = this.#askers;
      this.#askers = undefined;
      if (!askers) return;
      unasked.register(
        askers,
        () => {
          if (this.#wake !== resolve) return;
          this.#wake = undefined;
          resolve('abandoned');
        },
        this,
      );
    });
  }
}
