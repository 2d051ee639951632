/**
 * Array-based tree math (RFC 9420 Appendix C). Nodes are numbered in-order:
 * leaf L sits at node 2L, parents at odd indices. `n` is the leaf count.
 */

/** floor(log2(x)) for x > 0; 0 for x = 0. */
export function log2(x: number): number {
  return x === 0 ? 0 : 31 - Math.clz32(x);
}

/** Level of a node: leaves 0, their parents 1, ... (the number of trailing 1 bits). */
export function level(x: number): number {
  if ((x & 1) === 0) return 0;
  let k = 0;
  while (((x >>> k) & 1) === 1) k++;
  return k;
}

export function nodeWidth(n: number): number {
  return n === 0 ? 0 : 2 * (n - 1) + 1;
}

export function root(n: number): number {
  return (1 << log2(nodeWidth(n))) - 1;
}

export function isLeaf(x: number): boolean {
  return (x & 1) === 0;
}

export function leafToNode(leaf: number): number {
  return leaf * 2;
}

export function nodeToLeaf(node: number): number {
  return node >>> 1;
}

export function left(x: number): number {
  const k = level(x);
  if (k === 0) throw new RangeError("leaf node has no children");
  return x ^ (1 << (k - 1));
}

export function right(x: number): number {
  const k = level(x);
  if (k === 0) throw new RangeError("leaf node has no children");
  return x ^ (3 << (k - 1));
}

export function parent(x: number, n: number): number {
  if (x === root(n)) throw new RangeError("root node has no parent");
  const k = level(x);
  const b = (x >>> (k + 1)) & 1;
  return (x | (1 << k)) ^ (b << (k + 1));
}

export function sibling(x: number, n: number): number {
  const p = parent(x, n);
  return x < p ? right(p) : left(p);
}

/** Direct path, leaf to root, excluding `x` itself. */
export function directPath(x: number, n: number): number[] {
  const r = root(n);
  const d: number[] = [];
  while (x !== r) {
    x = parent(x, n);
    d.push(x);
  }
  return d;
}

/** Copath, leaf to root: the sibling of `x` and of each direct-path node below the root. */
export function copath(x: number, n: number): number[] {
  const r = root(n);
  const c: number[] = [];
  while (x !== r) {
    c.push(sibling(x, n));
    x = parent(x, n);
  }
  return c;
}

/** Lowest common ancestor of two nodes. */
export function commonAncestor(x: number, y: number): number {
  const lx = level(x) + 1;
  const ly = level(y) + 1;
  if (lx <= ly && x >>> ly === y >>> ly) return y;
  if (ly <= lx && x >>> lx === y >>> lx) return x;
  let xn = x;
  let yn = y;
  let k = 0;
  while (xn !== yn) {
    xn >>>= 1;
    yn >>>= 1;
    k++;
  }
  return (xn << k) + (1 << (k - 1)) - 1;
}

/** True when `a` is `d` or an ancestor of `d`. */
export function isAncestorOrSelf(a: number, d: number): boolean {
  const k = level(a);
  // a's subtree spans [a - (2^k - 1), a + (2^k - 1)].
  const span = (1 << k) - 1;
  return d >= a - span && d <= a + span;
}

/** Leaf indices of the subtree under node x, as the half-open range [start, end). */
export function leafRange(x: number): [number, number] {
  const k = level(x);
  const span = (1 << k) - 1;
  return [(x - span) >>> 1, ((x + span) >>> 1) + 1];
}
