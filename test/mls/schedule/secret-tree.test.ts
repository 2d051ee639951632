import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesEqual } from "../../../mls/codec/bytes.js";
import { nativeProvider } from "../../../mls/crypto/native/index.js";
import { nobleProvider } from "../../../mls/crypto/noble/index.js";
import { SecretTree, type RatchetKey, type RatchetType } from "../../../mls/schedule/secret-tree.js";
import { outcome as code } from "../outcome.js";

const cs = nativeProvider.suite(1);
const root = new Uint8Array(32).fill(42);


const same = (a: RatchetKey, b: RatchetKey) => a.generation === b.generation && bytesEqual(a.key, b.key) && bytesEqual(a.nonce, b.nonce);

/** The first `n` keys of a ratchet, in order. */
function inOrder(leaves: number, leaf: number, type: RatchetType, n: number): RatchetKey[] {
  const t = SecretTree.create(cs, root, leaves);
  return Array.from({ length: n }, () => t.nextKey(leaf, type));
}

describe("SecretTree", () => {
  it("gives senders and receivers the same keys, per leaf and ratchet", () => {
    const sent = inOrder(5, 3, "application", 5);
    const rx = SecretTree.create(cs, root, 5);
    sent.forEach((k, g) => expect(same(rx.keyForGeneration(3, "application", g), k)).toBe(true));
    const hs = inOrder(5, 3, "handshake", 1)[0]!;
    expect(bytesEqual(hs.key, sent[0]!.key)).toBe(false);
    const other = inOrder(5, 4, "application", 1)[0]!;
    expect(bytesEqual(other.key, sent[0]!.key)).toBe(false);
    expect(sent.map((k) => k.generation)).toEqual([0, 1, 2, 3, 4]);
  });

  it("matches across providers", () => {
    const a = SecretTree.create(nativeProvider.suite(3), root, 9).keyForGeneration(8, "handshake", 4);
    const b = SecretTree.create(nobleProvider.suite(3), root, 9).keyForGeneration(8, "handshake", 4);
    expect(same(a, b)).toBe(true);
  });

  it("serves any order of generations within the window and retention bound", () => {
    const expected = inOrder(8, 5, "application", 40);
    fc.assert(
      fc.property(fc.shuffledSubarray([...Array(40).keys()], { minLength: 1 }), (gens) => {
        const t = SecretTree.create(cs, root, 8, { maxForwardDistance: 40, maxRetainedKeys: 40 });
        for (const g of gens) expect(same(t.keyForGeneration(5, "application", g), expected[g]!)).toBe(true);
        for (const g of gens) expect(code(() => t.keyForGeneration(5, "application", g))).toBe("KeyReused");
      }),
      { numRuns: 50 },
    );
  });

  it("rejects a generation beyond the forward window", () => {
    const t = SecretTree.create(cs, root, 2, { maxForwardDistance: 10 });
    expect(code(() => t.keyForGeneration(0, "handshake", 11))).toBe("GenerationTooFar");
    t.keyForGeneration(0, "handshake", 10);
    expect(code(() => t.keyForGeneration(0, "handshake", 22))).toBe("GenerationTooFar");
    expect(t.keyForGeneration(0, "handshake", 21).generation).toBe(21);
  });

  it("drops the oldest retained keys past the retention bound", () => {
    const t = SecretTree.create(cs, root, 2, { maxRetainedKeys: 3 });
    t.keyForGeneration(1, "application", 10); // retains 7, 8, 9; 0..6 dropped
    expect(code(() => t.keyForGeneration(1, "application", 6))).toBe("GenerationTooOld");
    expect(code(() => t.keyForGeneration(1, "application", 0))).toBe("GenerationTooOld");
    t.keyForGeneration(1, "application", 8);
    expect(code(() => t.keyForGeneration(1, "application", 8))).toBe("KeyReused");
    expect(code(() => t.keyForGeneration(1, "application", 10))).toBe("KeyReused");
    t.keyForGeneration(1, "application", 12); // retains 9, 11 (+7 makes 3)
    t.keyForGeneration(1, "application", 14); // retains 11, 13 + one of 9/7 -> drops 7
    expect(code(() => t.keyForGeneration(1, "application", 7))).toBe("GenerationTooOld");
    expect(t.keyForGeneration(1, "application", 9).generation).toBe(9);
    expect(t.keyForGeneration(1, "application", 13).generation).toBe(13);
  });

  it("retains nothing with maxRetainedKeys 0", () => {
    const t = SecretTree.create(cs, root, 2, { maxRetainedKeys: 0 });
    t.keyForGeneration(0, "application", 5);
    expect(code(() => t.keyForGeneration(0, "application", 4))).toBe("GenerationTooOld");
    expect(code(() => t.keyForGeneration(0, "application", 5))).toBe("KeyReused");
  });

  it("rejects leaves outside the tree and bad generations", () => {
    const t = SecretTree.create(cs, root, 3);
    expect(code(() => t.keyForGeneration(3, "application", 0))).toBe("UnknownSender");
    expect(code(() => t.nextKey(-1, "application"))).toBe("UnknownSender");
    expect(code(() => t.keyForGeneration(0, "application", 2 ** 32))).toBe("InvalidValue");
    expect(code(() => SecretTree.create(cs, root, 0))).toBe("InvalidValue");
  });

  it("handles a one-leaf tree (the root is the leaf)", () => {
    const t = SecretTree.create(cs, root, 1);
    expect(t.nextKey(0, "handshake").generation).toBe(0);
  });

  it("isolates clones: what a clone consumes, the original still has", () => {
    const t = SecretTree.create(cs, root, 16);
    t.keyForGeneration(2, "application", 3);
    const c = t.clone();
    const k1 = c.keyForGeneration(2, "application", 1);
    c.keyForGeneration(9, "handshake", 0);
    expect(code(() => c.keyForGeneration(2, "application", 1))).toBe("KeyReused");
    expect(same(t.keyForGeneration(2, "application", 1), k1)).toBe(true);
    expect(same(t.keyForGeneration(9, "handshake", 0), inOrder(16, 9, "handshake", 1)[0]!)).toBe(true);
    // And the original's use does not reach the clone.
    expect(c.keyForGeneration(2, "application", 0).generation).toBe(0);
    expect(code(() => c.keyForGeneration(2, "application", 0))).toBe("KeyReused");
  });

  it("rolls back everything an atomic operation did when it throws", () => {
    const t = SecretTree.create(cs, root, 4);
    expect(() =>
      t.atomically(() => {
        t.keyForGeneration(1, "application", 5);
        throw new Error("decryption failed");
      }),
    ).toThrow("decryption failed");
    expect(t.keyForGeneration(1, "application", 0).generation).toBe(0);
    expect(t.encode().length).toBeGreaterThan(0);
  });

  it("persists and restores state, retained keys included", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 6 }), fc.boolean(), fc.nat({ max: 30 })), { maxLength: 30 }), (ops) => {
        const t = SecretTree.create(cs, root, 7, { maxForwardDistance: 50, maxRetainedKeys: 10 });
        for (const [leaf, hs, g] of ops) code(() => t.keyForGeneration(leaf, hs ? "handshake" : "application", g));
        const bytes = t.encode();
        const u = SecretTree.decode(cs, bytes);
        expect(bytesEqual(u.encode(), bytes)).toBe(true);
        expect([u.leafCount, u.maxForwardDistance, u.maxRetainedKeys]).toEqual([7, 50, 10]);
        // Both answer every request identically from here on.
        for (let leaf = 0; leaf < 7; leaf++) {
          for (let g = 0; g < 32; g += 3) {
            const a = code(() => t.keyForGeneration(leaf, "application", g));
            const b = code(() => u.keyForGeneration(leaf, "application", g));
            expect(b).toBe(a);
          }
        }
        expect(bytesEqual(u.encode(), t.encode())).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it("rejects unknown state versions and malformed state with typed errors", () => {
    const t = SecretTree.create(cs, root, 4);
    t.keyForGeneration(2, "handshake", 3);
    const bytes = t.encode();
    const v2 = bytes.slice();
    v2[0] = 2;
    expect(code(() => SecretTree.decode(cs, v2))).toBe("UnsupportedStateVersion");
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(), (pos, delta, cut) => {
        const bad = bytes.slice();
        bad[pos % bad.length] = (bad[pos % bad.length]! + delta) & 0xff;
        code(() => SecretTree.decode(cs, bad)); // any MlsError or success, never another exception
        code(() => SecretTree.decode(cs, bytes.subarray(0, cut % bytes.length)));
      }),
      { numRuns: 500 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => void code(() => SecretTree.decode(cs, junk))));
  });

  it("derives lazily: 10,000 leaves cost only what is used", () => {
    const t = SecretTree.create(cs, root, 10_000);
    const empty = t.encode().length;
    t.keyForGeneration(9_999, "application", 0);
    t.keyForGeneration(1234, "handshake", 0);
    // Two root-to-leaf paths of 14 levels, not 16,383 nodes.
    expect(t.encode().length - empty).toBeLessThan(4 * 14 * 2 * 40 + 4 * 200);
  });

  it("serves all 10,000 leaves with O(1) clones along the way", () => {
    const t = SecretTree.create(cs, root, 10_000);
    const start = performance.now();
    for (let leaf = 0; leaf < 10_000; leaf += 7) {
      const c = t.clone();
      c.keyForGeneration(leaf, "application", 0);
    }
    for (let leaf = 0; leaf < 10_000; leaf++) t.keyForGeneration(leaf, "application", 0);
    expect(performance.now() - start).toBeLessThan(20_000);
    expect(code(() => t.keyForGeneration(5000, "application", 0))).toBe("KeyReused");
  });
});
