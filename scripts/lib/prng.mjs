// mulberry32: a tiny seeded PRNG (floats in [0, 1)), the same sequence for
// the same seed on every machine. Shared by the benchmarks' generated inputs
// and the front end's fuzz test, so both reproduce from a seed alone.
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
