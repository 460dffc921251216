// Human-readable numbers shared by the CLI, the browser app and error messages. Platform-neutral.

/** Bytes in binary units: `512 B`, `1.5 KiB`, `12.3 MiB`, `6.42 GiB`. */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Milliseconds: `850 ms` below a second, `1.25 s` from one. */
export function formatMs(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${Math.round(x)} ms`;
}

/** An integer with thousands separators (`12,345`), the same in every locale. */
export function formatInt(n: number): string {
  return n.toLocaleString('en-US');
}
