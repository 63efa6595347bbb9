/**
 * Native memory that goes back to the system once it is freed (issue #9).
 *
 * glibc's malloc serves a block of 128 KiB or more with its own mapping, but
 * each time such a block is freed it raises that threshold to the block's size
 * (up to 32 MiB). After that, blocks of that size come from the arenas of the
 * threads that allocate them and stay resident when freed. One scrypt run at
 * AUTH (16 MiB, on a runtime thread) was enough: the first login grew the
 * relay by ~19 MiB for good, 20 clients logging in at once by ~115 MiB.
 *
 * Setting the threshold (`mallopt(M_MMAP_THRESHOLD)`) turns that raising off.
 * We set glibc's own starting value, 128 KiB, so large blocks stay mapped on
 * their own and are unmapped when freed. An operator's `MALLOC_MMAP_THRESHOLD_`
 * is left as glibc read it.
 *
 * @module
 */

/** `M_MMAP_THRESHOLD` in glibc's malloc.h. */
const M_MMAP_THRESHOLD = -3;
/** glibc's starting threshold. */
export const MMAP_THRESHOLD_BYTES = 128 * 1024;

/** What {@linkcode fixMmapThreshold} did. */
export type MmapThresholdResult =
  | { outcome: "set"; bytes: number }
  | { outcome: "environment"; value: string }
  | { outcome: "unavailable"; reason: string };

/** Opens the C library's `mallopt`; replaceable in tests. */
export type OpenMallopt = () => { mallopt(param: number, value: number): number; close(): void };

function openGlibc(): ReturnType<OpenMallopt> {
  const lib = Deno.dlopen("libc.so.6", {
    mallopt: { parameters: ["i32", "i32"], result: "i32" },
  });
  return { mallopt: (p, v) => lib.symbols.mallopt(p, v), close: () => lib.close() };
}

/**
 * Fixes glibc's mmap threshold for this process (see the module notes). Does
 * nothing where the environment already sets it, or without glibc (another
 * C library or system, or no FFI or environment permission): the relay runs
 * the same, it only keeps more memory after peaks.
 */
export function fixMmapThreshold(
  env: { get(name: string): string | undefined } = Deno.env,
  open: OpenMallopt = openGlibc,
): MmapThresholdResult {
  let libc: ReturnType<OpenMallopt>;
  try {
    const value = env.get("MALLOC_MMAP_THRESHOLD_");
    if (value !== undefined) return { outcome: "environment", value };
    libc = open();
  } catch (err) {
    return { outcome: "unavailable", reason: err instanceof Error ? err.message : String(err) };
  }
  try {
    // mallopt returns 1 on success, 0 on error.
    if (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) !== 1) {
      return { outcome: "unavailable", reason: "mallopt refused M_MMAP_THRESHOLD" };
    }
    return { outcome: "set", bytes: MMAP_THRESHOLD_BYTES };
  } finally {
    libc.close();
  }
}
